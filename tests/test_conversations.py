"""Conversations (issue 12, item 1): grouping rules over a table of cases (pure), the
conversation judged as a whole, one reply for all its questions, and the live service
on a real SQLite store with the real pipeline and a real aiosmtpd sink."""
from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

import pytest
from conftest import Clock
from servers import SmtpSink

from responder.app import actions, replay
from responder.app.service import Service
from responder.core import conversation, cooling, parsing
from responder.core.model import HostilityVerdict, IntentVerdict, Stage

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)

CALM_WHERE = ("Hello, I ordered a lamp, order 48213, two weeks ago and it has not arrived. "
              "Where is my order? Thanks, Jane")
CALM_REFUND = ("I would like a refund for order 48213, please. The item is not what I "
               "expected.")
ANY_NEWS = "Any news about my order 48213??"
ANGRY = ("You stupid morons still have not sent my order 48213. Worst shop ever, you are "
         "thieves. I want my money back now!")
FURIOUS = ("Where is my parcel, you useless idiots? This is a scam. I will leave a bad "
           "review everywhere.")


def mail(mid: str, body: str, *, at: datetime, subject: str = "My lamp",
         sender: str = "jane.miller@customer.test", in_reply_to: str | None = None,
         references: tuple[str, ...] = ()) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Jane Miller <{sender}>"
    msg["To"] = "support@example-shop.test"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(at)
    msg["Message-ID"] = mid
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = " ".join(references)
    msg.set_content(body)
    return msg.as_bytes()


# ---- grouping: pure, over a table of cases ---------------------------------------------------

def keys(mid="<new@c>", *, sender="jane@c.test", subject="My lamp", order=None,
         at=T0, irt=None, refs=()) -> conversation.Keys:
    return conversation.Keys(message_id=mid, in_reply_to=irt, references=tuple(refs),
                             sender=sender, subject=conversation.normalise_subject(subject),
                             order_number=order, received_at=at)


KNOWN = [
    conversation.Known(1, keys("<a1@c>", subject="My lamp", order="48213", at=T0 - DAY),
                       ("<reply-a1@shop>",)),
    conversation.Known(2, keys("<b1@c>", subject="Login problem", at=T0 - 2 * DAY)),
    conversation.Known(3, keys("<c1@c>", sender="bob@c.test", subject="My lamp",
                               order="77777", at=T0 - DAY)),
    conversation.Known(4, keys("<d1@c>", subject="Question", at=T0 - 30 * DAY)),
]

CASES = [
    # (what, new message keys, expected conversation, expected rule)
    ("In-Reply-To names a stored message",
     keys(irt="<b1@c>", subject="something else"), 2, "in-reply-to"),
    ("In-Reply-To names our own reply", keys(irt="<reply-a1@shop>", subject="x"), 1,
     "in-reply-to"),
    ("References only, nearest ancestor wins",
     keys(refs=("<b1@c>", "<a1@c>"), subject="x"), 1, "references"),
    ("headers beat the sender fallback",
     keys(irt="<c1@c>", subject="Login problem"), 3, "in-reply-to"),
    ("a different sender's thread by headers still joins (a colleague wrote)",
     keys(irt="<a1@c>", sender="colleague@c.test", subject="x"), 1, "in-reply-to"),
    ("same sender, same order number, new subject",
     keys(subject="Still nothing!!", order="48213"), 1, "order-number"),
    ("same sender, same subject after Re:/AW: prefixes and case",
     keys(subject="AW: RE: login PROBLEM"), 2, "subject"),
    ("same sender, accents and spaces folded",
     keys(subject="  Re:   Lögin   problem "), 2, "subject"),
    ("same order number but another sender", keys(sender="eve@c.test", order="48213",
                                                  subject="x"), None, None),
    ("same subject, same sender, outside the window",
     keys(subject="Question"), None, None),
    ("nothing shared", keys(subject="A new question"), None, None),
    ("an empty subject matches nothing", keys(subject="Re:"), None, None),
]


@pytest.mark.parametrize("what,new,expected,rule", CASES, ids=[c[0] for c in CASES])
def test_grouping_rules(what, new, expected, rule):
    found = conversation.match(new, KNOWN, timedelta(days=14))
    assert (found.conversation if found else None) == expected, what
    assert (found.rule if found else None) == rule


def test_fallback_off_with_window_zero_but_headers_still_group():
    assert conversation.match(keys(order="48213", subject="x"), KNOWN, timedelta(0)) is None
    assert conversation.match(keys(irt="<a1@c>"), KNOWN, timedelta(0)).conversation == 1


def test_fallback_prefers_the_most_recent_conversation():
    known = [conversation.Known(1, keys("<x@c>", subject="Lamp", at=T0 - 5 * DAY)),
             conversation.Known(2, keys("<y@c>", subject="Lamp", at=T0 - DAY))]
    assert conversation.match(keys(subject="Re: Lamp"), known,
                              timedelta(days=14)).conversation == 2


@pytest.mark.parametrize("subject,normal", [
    ("Re: Where is my order?", "where is my order?"),
    ("RE: AW: Fwd:  Où est ma  commande", "ou est ma commande"),
    ("Ответ: Где мой заказ", "где мои заказ"),
    ("Re:", ""), ("", ""), (None, ""),
    ("Your message", "your message"),
])
def test_normalised_subject(subject, normal):
    assert conversation.normalise_subject(subject) == normal


def test_group_a_mailbox_in_order_of_arrival():
    msgs = [keys("<1@c>", subject="Lamp", at=T0),
            keys("<2@c>", subject="other", irt="<1@c>", at=T0 + timedelta(hours=2)),
            keys("<3@c>", sender="bob@c.test", subject="Lamp", at=T0 + timedelta(hours=1)),
            keys("<4@c>", subject="Re: Lamp", at=T0 + timedelta(hours=5))]
    assert conversation.group(msgs, timedelta(days=14)) == [0, 0, 2, 0]


# ---- judging a conversation as a whole ---------------------------------------------------------

POLICY = cooling.CoolingPolicy(hold_threshold=0.5, hold_hours=4.0, reply_deadline_hours=24.0,
                               ready_before_deadline_hours=2.0)


def turn(ref, hours, score):
    at = T0 + timedelta(hours=hours)
    return conversation.Turn(ref, at, at + DAY,
                             HostilityVerdict(score, ["insult"] if score >= 0.5 else []))


@pytest.mark.parametrize("scores,trend", [
    ((0.2, 0.9), "angrier"), ((0.9, 0.3), "calmer"), ((0.6, 0.65), "steady"), ((0.7,), None),
])
def test_trend(scores, trend):
    turns = [turn(i, i, s) for i, s in enumerate(scores)]
    assert conversation.trend(turns) == trend


def test_hold_restarts_from_the_latest_hostile_message_with_the_worst_verdict():
    v = conversation.judge([turn(1, 0, 0.6), turn(2, 3, 0.95)], POLICY, T0 + timedelta(hours=3))
    assert v.worst.ref == 2 and v.trend == "angrier"
    expected = cooling.hold_for(HostilityVerdict(0.95, ["insult"]), T0 + timedelta(hours=3),
                                POLICY, deadline_at=T0 + DAY)
    assert v.hold.release_at == expected.release_at == T0 + timedelta(hours=7)
    assert v.deadline_at == T0 + DAY
    assert "getting angrier" in v.hold.reason


def test_hold_never_passes_the_oldest_deadline_less_the_margin():
    v = conversation.judge([turn(1, 0, 0.7), turn(2, 21, 0.9)], POLICY,
                           T0 + timedelta(hours=21))
    assert v.hold.release_at == T0 + timedelta(hours=22)     # 24 h - 2 h margin


def test_a_calm_follow_up_keeps_but_does_not_extend_the_hold():
    now = T0 + timedelta(hours=1)
    v = conversation.judge([turn(1, 0, 0.9), turn(2, 1, 0.1)], POLICY, now,
                           held_until=T0 + timedelta(hours=4))
    assert v.trend == "calmer" and v.hold.release_at == T0 + timedelta(hours=4)
    # a longer hold already set is never shortened by the judge
    v = conversation.judge([turn(1, 0, 0.9), turn(2, 1, 0.1)], POLICY, now,
                           held_until=T0 + timedelta(hours=6))
    assert v.hold.release_at == T0 + timedelta(hours=6)


def test_nothing_hostile_no_hold():
    v = conversation.judge([turn(1, 0, 0.1), turn(2, 2, 0.15)], POLICY, T0 + timedelta(hours=2))
    assert v.hold is None and v.trend == "steady"


# ---- one reply for every question ---------------------------------------------------------------

def asked(ref, body, intent, hours, *, mid=None):
    at = T0 + timedelta(hours=hours)
    parsed = parsing.parse(mail(mid or f"<m{ref}@customer.test>", body, at=at))
    return conversation.Asked(ref, parsed, IntentVerdict(intent, 0.9), at)


def test_the_draft_answers_every_distinct_question_and_the_newest_leads(services):
    cfg = services.cfg
    items = [asked(1, CALM_REFUND, "refund_request", 0),
             asked(2, "I cannot log in.", "login_or_password_trouble", 1),
             asked(3, CALM_WHERE, "where_is_my_order", 2)]
    d = conversation.conversation_draft(items, hostility=None, shop=cfg.shop,
                                        renderer=services.renderer)
    alone = {i: conversation.conversation_draft([a], hostility=None, shop=cfg.shop,
                                                renderer=services.renderer, quote_original=False)
             for i, a in enumerate(items)}
    assert d.template == "en/where_is_my_order+refund_request+login_or_password_trouble"
    assert d.in_reply_to == "<m3@customer.test>"
    assert d.references[-1] == "<m3@customer.test>"
    assert {"<m1@customer.test>", "<m2@customer.test>"} <= set(d.references)
    # the paragraphs that answer each question are there, the lead's first
    where = d.body.index("Delivery takes")
    refund = d.body.index("Yes, you can have your money back")
    login = d.body.index(alone[1].body.split("\n\n")[2].strip()[:40])
    assert where < refund < login
    assert d.body.count("Kind regards") == 1 and d.body.count("Hello Jane") == 1
    assert "leads with where_is_my_order" in d.notes[0]


def test_a_bare_any_news_does_not_lead(services):
    items = [asked(1, CALM_REFUND, "refund_request", 0), asked(2, ANY_NEWS, "other", 3)]
    d = conversation.conversation_draft(items, hostility=None, shop=services.cfg.shop,
                                        renderer=services.renderer)
    assert d.template == "en/refund_request"
    assert d.in_reply_to == "<m2@customer.test>"          # threaded to the newest
    assert "Yes, you can have your money back" in d.body
    assert "order #48213" in d.body
    assert any("was not recognised" in n for n in d.notes)


# ---- the live service: real SQLite store, real pipeline, real SMTP sink ---------------------

class Shop:
    """A store, a service, and a way to receive a customer's message at a time."""

    def __init__(self, cfg, repo, services, clock):
        services.cfg = cfg
        self.cfg, self.repo, self.clock = cfg, repo, clock
        self.service = Service(cfg, repo, services=services, clock=clock)

    def receive(self, raw: bytes, mid: str, *, process: bool = True) -> int:
        now = self.clock()
        pk, new = self.repo.store_raw(raw, source="smtp", received_at=now, message_id=mid,
                                      deadline_at=cooling.reply_deadline(
                                          now, self.service.services.policy))
        assert new
        if process:
            self.service.process([pk])
        return pk

    def current(self) -> list:
        return [r for r in self.repo.list(None, limit=1000)
                if r.stage in ("held", "drafted", "approved")]


@pytest.fixture
def sink():
    with SmtpSink() as s:
        yield s


@pytest.fixture
def shop(make_config, repo, services, clock, sink):
    cfg = make_config(smtp={"host": "127.0.0.1", "port": sink.port, "security": "none"})
    return Shop(cfg, repo, services, clock)


def test_follow_up_during_hold_extends_it_within_the_oldest_deadline(shop, clock):
    clock.now = T0
    first = shop.receive(mail("<a@customer.test>", ANGRY, at=T0), "<a@customer.test>")
    row = shop.repo.get(first)
    assert row.stage == Stage.HELD.value
    held_first = row.release_at
    clock.advance(hours=3)
    second = shop.receive(mail("<b@customer.test>", FURIOUS, at=clock.now, subject="Re: My lamp",
                               in_reply_to="<a@customer.test>"), "<b@customer.test>")
    old, new = shop.repo.get(first), shop.repo.get(second)
    assert old.stage == Stage.SUPERSEDED.value and old.draft.superseded_by == second
    assert new.stage == Stage.HELD.value and new.conversation_id == first
    policy = shop.service.services.policy
    expected = cooling.hold_for(HostilityVerdict(1.0), clock.now, policy,
                                deadline_at=old.deadline_at)
    assert new.release_at == expected.release_at > held_first          # extended
    assert new.release_at <= old.deadline_at - timedelta(
        hours=policy.ready_before_deadline_hours)
    assert new.deadline_at == old.deadline_at                           # the oldest's promise
    # near the deadline a third angry message cannot push the hold past it
    clock.now = T0 + timedelta(hours=21)
    third = shop.receive(mail("<c@customer.test>", ANGRY + " Answer me!", at=clock.now,
                              references=("<a@customer.test>", "<b@customer.test>")),
                         "<c@customer.test>")
    latest = shop.repo.get(third)
    assert latest.release_at == old.deadline_at - timedelta(hours=2)
    assert [r.id for r in shop.current()] == [third]
    assert shop.repo.get(second).draft.superseded_by == third
    assert shop.repo.get(first).draft.superseded_by == third
    # released at its time, one draft for the conversation
    clock.now = latest.release_at
    assert shop.service.release_due() == [third]


def test_follow_up_after_approval_stops_the_send(shop, clock, sink):
    clock.now = T0
    first = shop.receive(mail("<w@customer.test>", CALM_WHERE, at=T0, subject="Order 48213"),
                         "<w@customer.test>")
    assert shop.repo.get(first).stage == Stage.DRAFTED.value
    clock.advance(minutes=30)
    actions.approve(shop.repo, first, actor="rep:alice", now=clock.now,
                    message_id_domain=shop.cfg.shop.message_id_domain)
    # the customer writes again before the send job ran; the message is stored but the
    # pipeline has not decided it yet: the sending path does not send the stale reply
    clock.advance(minutes=1)
    second = shop.receive(mail("<r@customer.test>", CALM_REFUND, at=clock.now,
                               subject="Order 48213 refund"), "<r@customer.test>",
                          process=False)
    assert shop.service.send_approved() == {"sent": 0, "failed": 0, "unknown": 0}
    assert sink.messages == []
    assert shop.repo.get(first).stage == Stage.APPROVED.value
    shop.service.process([second])
    old, new = shop.repo.get(first), shop.repo.get(second)
    assert old.stage == Stage.SUPERSEDED.value
    assert old.draft.approved_by == "rep:alice" and old.draft.sent_at is None   # kept as it was
    assert new.stage == Stage.DRAFTED.value
    assert new.draft.notes[0].startswith("The customer wrote again after you approved")
    assert "I would like a refund" in new.draft.notes[0]
    assert shop.service.send_approved()["sent"] == 0 and sink.messages == []
    events = [(e.action, e.reason) for e in shop.repo.events(first)]
    assert any(a == "superseded" and "stopped before sending, never sent" in r
               for a, r in events)
    # the rep approves the conversation's reply: exactly one mail, answering both
    actions.approve(shop.repo, second, actor="rep:alice", now=clock.now,
                    message_id_domain=shop.cfg.shop.message_id_domain)
    assert shop.service.send_approved()["sent"] == 1
    [sent] = sink.messages
    reply = parsing.parse(sent.data)
    assert reply.in_reply_to == "<r@customer.test>"
    assert "<w@customer.test>" in reply.references
    assert "Delivery takes" in reply.text and "money back" in reply.text


def test_an_escalated_conversation_is_not_escalated_again_by_a_follow_up(
        make_config, repo, services, clock, sink):
    cfg = make_config(smtp={"host": "127.0.0.1", "port": sink.port, "security": "none"},
                      shop={"owner_address": "owner@example-shop.test"})
    shop = Shop(cfg, repo, services, clock)
    clock.now = T0
    first = shop.receive(mail("<e1@customer.test>", CALM_WHERE, at=T0, subject="Order 1"),
                         "<e1@customer.test>")
    clock.now = T0 + timedelta(hours=22)          # inside escalate_before_hours (3)
    assert shop.service.watch_deadlines().escalated == [first]
    shop.service.send_approved()
    owner_mail = [m for m in sink.messages if "owner@example-shop.test" in m.rcpt_tos]
    assert len(owner_mail) == 1
    clock.advance(minutes=10)
    second = shop.receive(mail("<e2@customer.test>", "Any news??", at=clock.now,
                               subject="Re: Order 1", in_reply_to="<e1@customer.test>"),
                          "<e2@customer.test>")
    new = shop.repo.get(second)
    assert shop.repo.get(first).stage == Stage.SUPERSEDED.value
    assert new.escalated_at == shop.repo.get(first).escalated_at      # still first in queue
    assert new.deadline_at == shop.repo.get(first).deadline_at
    assert shop.service.watch_deadlines().escalated == []             # told once already
    shop.service.send_approved()
    assert len([m for m in sink.messages if "owner@example-shop.test" in m.rcpt_tos]) == 1


def test_a_whole_thread_in_one_batch_gets_one_draft(shop, clock):
    clock.now = T0
    pks = []
    for i, (body, refs) in enumerate([(CALM_WHERE, ()), (ANY_NEWS, ("<t0@customer.test>",)),
                                      (CALM_REFUND, ("<t0@customer.test>", "<t1@customer.test>"))]):
        at = T0 + timedelta(minutes=10 * i)
        pks.append(shop.receive(mail(f"<t{i}@customer.test>", body, at=at, references=refs,
                                     subject="Re: My lamp" if i else "My lamp"),
                                f"<t{i}@customer.test>", process=False))
    clock.advance(hours=1)
    shop.service.process_pending()
    rows = [shop.repo.get(pk) for pk in pks]
    assert [r.stage for r in rows] == ["superseded", "superseded", "drafted"]
    assert {r.conversation_id for r in rows} == {pks[0]}
    assert [r.draft.superseded_by for r in rows] == [pks[2], pks[2], None]
    assert rows[2].deadline_at == rows[0].deadline_at
    assert "Delivery takes" in rows[2].draft.body and "money back" in rows[2].draft.body
    # the superseded drafts are kept, and the audit trail says so
    assert rows[0].draft.body and rows[1].draft.body
    assert any(e.action == "superseded" for e in shop.repo.events(pks[1]))
    assert any(e.action == "conversation" and "one reply for 3" in e.reason
               for e in shop.repo.events(pks[2]))


def test_another_customer_and_a_sent_round_start_fresh(shop, clock, sink):
    clock.now = T0
    a = shop.receive(mail("<x1@customer.test>", CALM_WHERE, at=T0), "<x1@customer.test>")
    b = shop.receive(mail("<y1@other.test>", CALM_WHERE, at=T0, sender="bob@other.test"),
                     "<y1@other.test>")
    assert shop.repo.get(a).conversation_id == a and shop.repo.get(b).conversation_id == b
    actions.approve(shop.repo, a, actor="rep:alice", now=clock.now,
                    message_id_domain=shop.cfg.shop.message_id_domain)
    assert shop.service.send_approved()["sent"] == 1
    reply_id = shop.repo.get(a).draft.reply_message_id
    clock.advance(days=2)    # past the throttle window: the customer answers our reply
    c = shop.receive(mail("<x2@customer.test>", "Thanks, it arrived!", at=clock.now,
                          subject="Something else", in_reply_to=reply_id), "<x2@customer.test>")
    row = shop.repo.get(c)
    assert row.conversation_id == a and row.stage == Stage.DRAFTED.value
    assert shop.repo.get(a).stage == Stage.SENT.value      # the answered round stays answered


def test_a_throttled_follow_up_can_be_answered_anyway_by_a_person(shop, clock, sink,
                                                                   tmp_path, monkeypatch):
    from click.testing import CliRunner

    from responder.cli.main import main
    clock.now = T0
    a = shop.receive(mail("<t1@customer.test>", CALM_WHERE, at=T0), "<t1@customer.test>")
    actions.approve(shop.repo, a, actor="rep:alice", now=clock.now,
                    message_id_domain=shop.cfg.shop.message_id_domain)
    assert shop.service.send_approved()["sent"] == 1
    reply_id = shop.repo.get(a).draft.reply_message_id
    clock.advance(hours=2)      # inside throttle_hours: the loop guard skips it
    b = shop.receive(mail("<t2@customer.test>", "It still has not arrived. " + CALM_REFUND,
                          at=clock.now, subject="Re: My lamp", in_reply_to=reply_id),
                     "<t2@customer.test>")
    assert (shop.repo.get(b).stage, shop.repo.get(b).skip_rule) == ("skipped", "throttle")
    stage = actions.answer_anyway(shop.repo, shop.service.services, b, actor="rep:bob",
                                  now=clock.now)
    row = shop.repo.get(b)
    assert stage == row.stage == Stage.DRAFTED.value and row.skip_rule is None
    assert row.conversation_id == a and row.draft.in_reply_to == "<t2@customer.test>"
    assert [(e.actor, e.action) for e in shop.repo.events(b) if e.action == "answer-anyway"] \
        == [("rep:bob", "answer-anyway")]
    with pytest.raises(actions.ApprovalError, match="only mail the per-sender throttle"):
        actions.answer_anyway(shop.repo, shop.service.services, b, actor="rep:bob",
                              now=clock.now)
    # the throttle still guards everything else: other mail of that sender is skipped
    assert shop.service.services.replied_recently("jane.miller@customer.test")
    # the terminal has the same action; automatic mail is refused with its rule named
    auto = shop.receive(mail("<t3@customer.test>", "I am out of office.", at=clock.now,
                             subject="Automatic reply: My lamp"), "<t3@customer.test>")
    assert shop.repo.get(auto).skip_rule != "throttle"
    conf = tmp_path / "c.toml"
    conf.write_text(f'[responder]\ndatabase_url = "{shop.cfg.responder.database_url}"\n',
                    encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(conf), "answer", str(auto)])
    assert result.exit_code != 0 and "skipped by the rule" in result.output


def test_replay_of_a_thread_folder_gives_one_draft(services, tmp_path):
    folder = tmp_path / "mail"
    folder.mkdir()
    thread = [(CALM_WHERE, ()), (ANGRY, ("<t0@customer.test>",)),
              (CALM_REFUND, ("<t0@customer.test>", "<t1@customer.test>"))]
    for i, (body, refs) in enumerate(thread):
        (folder / f"{i}.eml").write_bytes(mail(f"<t{i}@customer.test>", body,
                                               at=T0 + timedelta(hours=i), references=refs,
                                               subject="Re: My lamp" if i else "My lamp"))
    (folder / "9.eml").write_bytes(mail("<z@other.test>", CALM_REFUND, at=T0,
                                        sender="bob@other.test", subject="Refund"))
    out = io.StringIO()
    counts = replay.run([str(folder)], services, T0 + DAY, out, as_json=True, progress=False,
                        err=io.StringIO())
    recs = {r["file"].rsplit("/", 1)[1]: r for r in map(json.loads, out.getvalue().splitlines())}
    first = recs["0.eml"]["file"]
    assert [recs[f"{i}.eml"]["conversation_id"] for i in range(3)] == [first] * 3
    assert recs["9.eml"]["conversation_id"] == recs["9.eml"]["file"]
    current = [r for r in recs.values() if r["superseded_by"] is None and r["draft"]]
    assert sorted(r["file"].rsplit("/", 1)[1] for r in current) == ["2.eml", "9.eml"]
    assert recs["0.eml"]["superseded_by"] == recs["1.eml"]["superseded_by"] == \
        recs["2.eml"]["file"]
    last = recs["2.eml"]
    assert last["held"] and last["hostility"] < 0.5       # held for the thread's angry turn
    assert "money back" in last["draft"] and "Delivery takes" in last["draft"]
    # every old key is still there
    for key in ("file", "message_id", "held", "release_at", "deadline_at", "draft", "error"):
        assert key in last
    assert counts["conversations"] == 2 and counts["superseded"] == 2


def test_show_and_the_web_page_show_the_conversation_and_the_superseded_note(
        shop, clock, tmp_path, monkeypatch):
    import re

    from click.testing import CliRunner

    from responder.app import accounts
    from responder.cli.main import main
    from responder.web import WebContext, create_app

    clock.now = T0
    first = shop.receive(mail("<s1@customer.test>", CALM_WHERE, at=T0), "<s1@customer.test>")
    clock.advance(hours=1)
    second = shop.receive(mail("<s2@customer.test>", ANGRY, at=clock.now,
                               in_reply_to="<s1@customer.test>"), "<s2@customer.test>")
    cfg_file = tmp_path / "show.toml"
    cfg_file.write_text(f'[responder]\ndatabase_url = "{shop.cfg.database_url}"\n'
                        'log_level = "WARNING"\n')
    monkeypatch.setenv("RESPONDER_CONFIG", str(cfg_file))
    out = CliRunner().invoke(main, ["show", str(first)], catch_exceptions=False).output
    assert f"conversation #{first}: 2 messages" in out
    assert "You stupid morons" in out and "Where is my order?" in out
    assert "SUPERSEDED: " in out and f"the draft of #{second}" in out
    out = CliRunner().invoke(main, ["show", str(second)], catch_exceptions=False).output
    assert "One reply for the whole conversation" in out and "SUPERSEDED" not in out
    result = CliRunner().invoke(main, ["approve", str(first), "--no-send"])
    assert result.exit_code == 1 and f"approve the conversation's reply, #{second}" in \
        result.output

    accounts.add_user(shop.repo, "ralf", "rep", "correct horse battery", now=clock.now)
    app = create_app(WebContext(shop.cfg, shop.repo, shop.service, clock=clock,
                                secret_key="k" * 40), testing=True)
    client = app.test_client()
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    client.post("/login", data={"csrf_token": csrf, "name": "ralf",
                                "password": "correct horse battery"})
    html = client.get(f"/m/{first}").text
    assert 'id="superseded"' in html and f'href="/m/{second}"' in html
    assert 'id="conversation"' in html and "You stupid morons" in html
    html = client.get(f"/m/{second}").text
    assert 'id="superseded"' not in html and 'id="conversation"' in html


def test_in_a_real_mailbox_drafts_follow_the_conversation_and_a_reps_own_reply_settles_it(
        tmp_path, monkeypatch, services, sink):
    """Real Dovecot: the superseded draft leaves the Drafts folder, the conversation's
    draft is there; a rep answering the EARLIER message from their own mail program
    settles the conversation: responder sends nothing afterwards."""
    import uuid

    from servers import Dovecot

    from responder import config as config_mod
    from responder.mail.drafts_folder import DRAFT_HEADER, draft_tag
    from responder.store import open_repository

    Dovecot.ensure_installed()
    with Dovecot() as dovecot:
        user = f"c{uuid.uuid4().hex[:10]}@example.test"
        dovecot.add_user(user, "imap-pw")
        monkeypatch.setenv("T_IMAP_PW", "imap-pw")
        cfg = config_mod.from_dict({
            "responder": {"database_url": f"sqlite:///{tmp_path / 'imap.db'}"},
            "inbox": [{"name": "shop", "host": "127.0.0.1", "port": dovecot.tls_port,
                       "security": "tls", "ca_file": str(dovecot.cafile), "username": user,
                       "password_env": "T_IMAP_PW", "timeout_seconds": 10,
                       "drafts_to_folder": True}],
            "smtp": {"host": "127.0.0.1", "port": sink.port, "security": "none"}}, "<imap>")
        clock = Clock(datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1))
        repo = open_repository(cfg.database_url)
        services.cfg = cfg
        service = Service(cfg, repo, services=services, clock=clock)
        box = cfg.inbox[0]
        imap = dovecot.client(user, "imap-pw")
        try:
            assert service.poll_inbox(box) == []

            def drafts(pk):
                imap.select_folder("Drafts", readonly=True)
                return imap.search(["HEADER", DRAFT_HEADER, draft_tag(repo.get(pk))])

            imap.append("INBOX", mail("<i1@customer.test>", CALM_WHERE, at=clock.now))
            [first] = service.poll_inbox(box)
            assert len(drafts(first)) == 1
            clock.advance(minutes=20)
            imap.append("INBOX", mail("<i2@customer.test>", CALM_REFUND, at=clock.now,
                                      in_reply_to="<i1@customer.test>"))
            [second] = service.poll_inbox(box)
            assert repo.get(first).stage == Stage.SUPERSEDED.value
            assert drafts(first) == [] and len(drafts(second)) == 1
            # a rep answers the first message by hand, from their own mail program
            imap.append("Sent", b"From: Ann Rep <ann@example-shop.test>\r\n"
                                b"To: jane.miller@customer.test\r\nSubject: Re: My lamp\r\n"
                                b"Message-ID: <tb-9@example-shop.test>\r\n"
                                b"In-Reply-To: <i1@customer.test>\r\n"
                                b"References: <i1@customer.test>\r\n\r\nDone by hand.\r\n")
            assert service.scan_sent(box) == [second]
            assert repo.get(second).stage == Stage.SENT.value
            assert any(f"to #{first}, an earlier message" in e.reason
                       for e in repo.events(second))
            assert drafts(second) == []
            sink.messages.clear()
            assert service.send_approved()["sent"] == 0 and sink.messages == []
        finally:
            imap.logout()
