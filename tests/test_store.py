from datetime import timedelta

import pytest
from conftest import sample
from sqlalchemy import inspect

from responder.core.model import Draft, Stage
from responder.store import migrations, open_repository
from responder.store.repository import StageConflict


def _store(repo, clock, raw=b"From: a@b.test\r\nSubject: x\r\n\r\nhi\r\n", mid=None):
    return repo.store_raw(raw, source="smtp", received_at=clock(),
                          deadline_at=clock() + timedelta(hours=24), message_id=mid)


def test_migrations_create_every_table_at_head(tmp_path):
    repo = open_repository(f"sqlite:///{tmp_path / 'm.db'}")
    assert migrations.current(repo.engine) == migrations.head()
    names = set(inspect(repo.engine).get_table_names())
    assert {"messages", "drafts", "events", "folder_state", "alembic_version",
            "users", "login_failures"} <= names
    # opening again is a no-op, not an error
    assert migrations.current(open_repository(str(repo.engine.url)).engine) == migrations.head()


def test_migrations_build_exactly_the_tables_the_code_declares(tmp_path):
    """A column or table added to store/tables.py without a migration (or the other way
    round) shows here as a difference between the migrated database and the metadata."""
    import importlib
    import pkgutil

    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    import responder.store
    from responder.store.tables import Base
    for mod in pkgutil.iter_modules(responder.store.__path__):   # every module's tables
        importlib.import_module(f"responder.store.{mod.name}")
    repo = open_repository(f"sqlite:///{tmp_path / 'd.db'}")
    with repo.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(
            conn, opts={"compare_type": False}), Base.metadata)
    # alembic_version and the types SQLite cannot tell apart are not differences
    assert diff == []


def test_raw_bytes_are_kept_exactly_and_deduplicated(any_repo, clock):
    raw = sample("04-where-ru.eml")
    pk, new = _store(any_repo, clock, raw, "<anna-77120@customer.test>")
    assert new
    assert any_repo.get(pk).raw == raw
    assert _store(any_repo, clock, raw, "<anna-77120@customer.test>") == (pk, False)
    # same Message-ID, different bytes (e.g. another Received: line): the same message
    again = b"Received: from x\r\n" + raw
    assert _store(any_repo, clock, again, "<anna-77120@customer.test>") == (pk, False)
    assert any_repo.count_by_stage() == {"received": 1}


def test_transitions_are_compare_and_set_with_an_audit_trail(any_repo, clock):
    pk, _ = _store(any_repo, clock)
    any_repo.transition(pk, Stage.SKIPPED, actor="system", action="screened",
                    reason="auto-submitted: auto-replied", now=clock(),
                    expect=[Stage.RECEIVED], skip_rule="auto-submitted")
    with pytest.raises(StageConflict):
        any_repo.transition(pk, Stage.DRAFTED, actor="system", action="drafted", reason="",
                        now=clock(), expect=[Stage.RECEIVED])
    events = any_repo.events(pk)
    assert [(e.from_stage, e.to_stage, e.action) for e in events] == [
        (None, "received", "stored"), ("received", "skipped", "screened")]
    assert events[1].reason == "auto-submitted: auto-replied"
    assert any_repo.get(pk).skip_rule == "auto-submitted"


def test_draft_stored_with_the_transition_and_throttle_query(any_repo, clock):
    pk, _ = _store(any_repo, clock)
    draft = Draft(to_addr="Jane@Customer.test", to_name="Jane", from_addr="s@shop.test",
                  subject="Re: x", body="Hello", in_reply_to="<a@b>", references=["<a@b>"],
                  template="en/other", language="en", fallback_language=False)
    any_repo.transition(pk, Stage.DRAFTED, actor="system", action="drafted", reason="t",
                    now=clock(), draft=draft)
    row = any_repo.get(pk)
    assert row.draft.body == "Hello" and row.draft.references == ["<a@b>"]
    assert not any_repo.replied_recently("jane@customer.test", clock() - timedelta(hours=24))
    any_repo.update_draft(pk, now=clock(), approved_at=clock(), reply_message_id="<r@shop>")
    any_repo.transition(pk, Stage.APPROVED, actor="rep:a", action="approved", reason="t",
                        now=clock())
    # approved but not handed to SMTP: the customer's next message is a follow-up that
    # stops it (app/conversations.py), not a loop to throttle
    assert not any_repo.replied_recently("jane@customer.test", clock() - timedelta(hours=24))
    any_repo.transition(pk, Stage.SENT, actor="system", action="sent", reason="t",
                        now=clock())
    assert any_repo.replied_recently("jane@customer.test", clock() - timedelta(hours=24))
    assert not any_repo.replied_recently("jane@customer.test", clock() + timedelta(minutes=1))


def test_held_messages_come_due_by_release_time(any_repo, clock):
    pk, _ = _store(any_repo, clock)
    any_repo.transition(pk, Stage.HELD, actor="system", action="held", reason="r", now=clock(),
                    release_at=clock() + timedelta(hours=4))
    assert any_repo.due_releases(clock() + timedelta(hours=3, minutes=59)) == []
    assert any_repo.due_releases(clock() + timedelta(hours=4)) == [pk]


def test_naive_datetimes_are_refused(any_repo, clock):
    with pytest.raises(Exception, match="naive datetime"):
        any_repo.store_raw(b"x", source="smtp", received_at=clock().replace(tzinfo=None),
                       deadline_at=clock())


def test_folder_state_round_trip(any_repo, clock):
    assert any_repo.folder_state("shop", "INBOX") is None
    any_repo.save_folder_state("shop", "INBOX", uidvalidity=4_000_000_000, last_uid=7, now=clock())
    st = any_repo.folder_state("shop", "INBOX")
    assert (st.uidvalidity, st.last_uid) == (4_000_000_000, 7)


def test_lookup_by_message_ids_filters_by_stage_and_inbox(any_repo, clock):
    a, _ = _store(any_repo, clock, raw=b"Subject: a\r\n\r\na\r\n", mid="<a@c.test>")
    b, _ = _store(any_repo, clock, raw=b"Subject: b\r\n\r\nb\r\n", mid="<b@c.test>")
    _store(any_repo, clock, raw=b"Subject: c\r\n\r\nc\r\n", mid="<c@c.test>")
    any_repo.transition(b, Stage.SKIPPED, actor="t", action="screened", reason="x",
                        now=clock(), expect=[Stage.RECEIVED])
    found = any_repo.with_message_ids(["<a@c.test>", "<b@c.test>", "<zz@c.test>"],
                                      [Stage.RECEIVED])
    assert [row.id for row in found] == [a]
    assert any_repo.with_message_ids(["<a@c.test>"], [Stage.RECEIVED], inbox="other") == []
    many = [f"<n{i}@c.test>" for i in range(1200)] + ["<a@c.test>"]
    assert [row.id for row in any_repo.with_message_ids(many, [Stage.RECEIVED])] == [a]
