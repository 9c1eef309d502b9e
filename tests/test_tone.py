"""The tone guard judges what a rep wrote, not the shop's own template text."""
from __future__ import annotations

from datetime import timedelta

import pytest

from responder import config as config_mod
from responder.app.actions import ToneWarning, approve, edit
from responder.app.service import process_stored
from responder.core.model import HostilityVerdict, Stage
from responder.core.pipeline import Services

WHERE = (b"From: Mark Stone <mark.stone@customer.test>\r\nTo: sales@example-shop.test\r\n"
         b"Subject: Where is my order 10234?\r\nMessage-ID: <where-1@customer.test>\r\n"
         b"Date: Mon, 23 Nov 2026 08:00:00 +0000\r\n\r\n"
         b"Hello, my order 10234 has not arrived yet. Where is it? Thanks, Mark\r\n")


@pytest.fixture(scope="module")
def services():
    return Services.from_config(config_mod.Config())


def _drafted(repo, services, clock):
    now = clock()
    pk, _ = repo.store_raw(WHERE, source="test", received_at=now,
                           deadline_at=now + timedelta(hours=24))
    process_stored(repo, services, [pk], now)
    assert repo.get(pk).stage == Stage.DRAFTED.value
    return pk


class ReadsEverythingAsHostile:
    """A scorer that takes any text for abuse, as a word-level model sometimes takes a
    plain template sentence ("You can see where your parcel is right now")."""

    name = "always-hostile"

    def score(self, texts, languages=None):
        return [HostilityVerdict(score=0.99, labels=["contempt"], evidence=[t[:40]])
                for t in texts]


def test_an_unedited_template_reply_is_approved_without_override(repo, services, clock):
    pk = _drafted(repo, services, clock)
    reply_id = approve(repo, pk, actor="rep:ann", now=clock(), message_id_domain="shop.test",
                       scorer=ReadsEverythingAsHostile(), hold_threshold=0.5)
    assert reply_id and repo.get(pk).stage == Stage.APPROVED.value
    assert not [e for e in repo.events(pk) if e.action == "tone-override"]


def test_a_rude_edit_is_still_caught(repo, services, clock):
    pk = _drafted(repo, services, clock)
    rude = "You stupid idiot, read the tracking page yourself. Stop wasting my time.\n"
    edit(repo, pk, rude, actor="rep:ann", now=clock())
    with pytest.raises(ToneWarning):
        approve(repo, pk, actor="rep:ann", now=clock(), message_id_domain="shop.test",
                scorer=services.scorer, hold_threshold=0.5)
    assert repo.get(pk).stage == Stage.DRAFTED.value


def test_an_edited_reply_is_judged_even_if_the_edit_is_small(repo, services, clock):
    pk = _drafted(repo, services, clock)
    edit(repo, pk, repo.get(pk).draft.body + "\nP.S. thanks\n", actor="rep:ann", now=clock())
    with pytest.raises(ToneWarning):
        approve(repo, pk, actor="rep:ann", now=clock(), message_id_domain="shop.test",
                scorer=ReadsEverythingAsHostile(), hold_threshold=0.5)
