"""Customers' histories and the owner's list of difficult customers: real SQLite with
the real migrations, the real pipeline and models deciding the mail, a reply sent to a
real aiosmtpd sink, the CLI in-process, the web page through Flask's client."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from conftest import Clock, sample
from servers import SmtpSink
from sqlalchemy import inspect, text

from responder import config as config_mod
from responder.app import accounts
from responder.app.service import Service, process_stored
from responder.cli.main import main
from responder.store import customers, migrations, open_repository
from responder.store.customers import DifficultyRules
from responder.web import WebContext, create_app

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"


def mail(sender: str, n: int, subject: str, body: str, name: str = "") -> bytes:
    return (f"From: {name or sender.split('@')[0].title()} <{sender}>\r\n"
            f"To: support@example-shop.test\r\nSubject: {subject}\r\n"
            f"Message-ID: <{sender.split('@')[0]}-{n}@customer.test>\r\n"
            f"Date: Fri, 20 Nov 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()


HOSTILE = ("You useless idiots. Order {n} was supposed to be here a week ago.\n"
           "What a pathetic joke of a shop, you are a bunch of lying crooks.\n")
PAYLOAD = ("I will post this on Facebook <script>window.pwned=1</script>"
           "<img src=x onerror=alert(1)>.")


@pytest.fixture
def shop(tmp_path, services, monkeypatch):
    sink = SmtpSink()
    sink.start()
    db = tmp_path / "c.db"
    cfg_file = tmp_path / "config.toml"
    cfg_file.write_text(f'[responder]\ndatabase_url = "sqlite:///{db}"\nlog_level = "WARNING"\n'
                        f'[smtp]\nhost = "127.0.0.1"\nport = {sink.port}\nsecurity = "none"\n'
                        "[customers]\ndifficult_min_hostile = 2\n")
    monkeypatch.setenv("RESPONDER_CONFIG", str(cfg_file))
    cfg = config_mod.load(cfg_file)
    repo = open_repository(cfg.database_url)
    pks: dict[str, int] = {}
    arrivals = [
        ("mark1", mail("mark@customer.test", 1, "WHERE IS MY PARCEL", HOSTILE.format(n=55821)),
         T0),
        ("lena", mail("lena@customer.test", 1, "Rückzahlung",
                      "Guten Tag, ich warte seit drei Wochen auf mein Geld.\n"
                      "Sonst veranlasse ich eine Rückbuchung bei meiner Bank.\n"),
         T0 + timedelta(days=1)),
        ("mark2", mail("mark@customer.test", 2, "still nothing", "Hello, any news about "
                       "order 55821? Thank you."), T0 + timedelta(days=1, hours=2)),
        ("mark3", mail("mark@customer.test", 3, "ANSWER ME", HOSTILE.format(n=55821)
                       + "Answer me today, you morons."), T0 + timedelta(days=2)),
        ("paul", sample("01-refund-en.eml"), T0 + timedelta(days=2, hours=1)),
        ("eve", mail("eve@customer.test", 1, "<b>order</b> 777", PAYLOAD),
         T0 + timedelta(days=2, hours=2)),
        ("ooo", sample("03-out-of-office.eml"), T0 + timedelta(days=2, hours=3)),
    ]
    for key, raw, at in arrivals:
        pks[key], _ = repo.store_raw(raw, source="smtp", received_at=at,
                                     deadline_at=at + timedelta(hours=24))
        process_stored(repo, services, [pks[key]], at)
    yield cfg, repo, pks, sink
    sink.close()


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_the_migration_adds_the_threats_column_in_place_and_takes_it_away(tmp_path):
    from alembic import command

    from responder.store.repository import make_engine
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")

    def columns() -> set[str]:
        return {c["name"] for c in inspect(engine).get_columns("messages")}

    migrations.upgrade(engine, "0007")
    assert "reputation_threats" not in columns()
    migrations.upgrade(engine)                    # an existing database, upgraded in place
    assert "reputation_threats" in columns()
    config = migrations.alembic_config(str(engine.url))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0007")
    assert "reputation_threats" not in columns()
    engine.dispose()


def test_threats_are_stored_with_each_message_at_decision_time(shop):
    _cfg, repo, pks, _ = shop
    lena = repo.get(pks["lena"])
    assert [t["kind"] for t in lena.reputation_threats] == ["chargeback"]
    assert "Rückbuchung" in lena.reputation_threats[0]["evidence"]
    assert repo.get(pks["mark1"]).reputation_threats == []
    assert repo.get(pks["ooo"]).stage == "skipped"


def test_histories_count_messages_hostility_threats_refunds_and_replies(shop):
    cfg, repo, pks, _ = shop
    assert run("approve", str(pks["paul"]), "--as", "olga").exit_code == 0
    assert repo.get(pks["paul"]).stage == "sent"
    rules = DifficultyRules.from_config(cfg)
    found = {h.address: h for h in customers.histories(repo, rules=rules)}
    # the out-of-office reply is automatic mail, not a customer
    assert set(found) == {"mark@customer.test", "lena@customer.test",
                          "eve@customer.test", "jane.miller@customer.test"}
    mark = found["mark@customer.test"]
    assert (mark.messages, mark.hostile, mark.threats) == (3, 2, {})
    assert [i.pk for i in mark.items] == [pks["mark1"], pks["mark2"], pks["mark3"]]
    assert mark.difficult and mark.reasons == ["2 hostile message(s) of 3"]
    assert mark.difficult_since == T0 + timedelta(days=2)
    lena = found["lena@customer.test"]
    assert lena.threats == {"chargeback": 1} and lena.hostile == 0 and lena.difficult
    assert lena.reasons == ["threatened: chargeback or payment dispute"]
    paul = found["jane.miller@customer.test"]     # 01-refund-en.eml's sender
    assert (paul.refunds_asked, paul.replies_sent, paul.difficult) == (1, 1, False)
    assert found["eve@customer.test"].threats == {"social_media": 1}


def test_difficult_list_order_since_and_rules(shop):
    cfg, repo, _pks, _ = shop
    rules = DifficultyRules.from_config(cfg)
    listed = [h.address for h in customers.difficult_customers(repo, rules=rules)]
    # threats first (most recent first among equals), then the repeatedly hostile
    assert listed == ["eve@customer.test", "lena@customer.test", "mark@customer.test"]
    # the digest's "new since yesterday": who became difficult after T0 + 1.5 days
    new = customers.difficult_customers(repo, since=T0 + timedelta(days=1, hours=12))
    assert [h.address for h in new] == ["eve@customer.test", "mark@customer.test"]
    strict = DifficultyRules(hold_threshold=rules.hold_threshold, min_hostile=2,
                             min_hostile_share=0.9, on_threat=False)
    assert customers.difficult_customers(repo, rules=strict) == []
    three = DifficultyRules(hold_threshold=rules.hold_threshold, min_hostile=3)
    assert "mark@customer.test" not in [h.address for h in
                                        customers.difficult_customers(repo, rules=three)]


def test_mail_decided_before_the_migration_has_its_threats_found_when_read(shop):
    _cfg, repo, pks, _ = shop
    with repo.engine.begin() as conn:
        conn.execute(text("UPDATE messages SET reputation_threats = NULL WHERE id = :pk"),
                     {"pk": pks["lena"]})
    assert repo.get(pks["lena"]).reputation_threats is None
    lena = customers.history(repo, "Lena@Customer.test")
    assert lena is not None and lena.threats == {"chargeback": 1}
    assert customers.history(repo, "nobody@customer.test") is None


def test_cli_lists_customers_and_difficult_ones_as_text_and_json(shop):
    _cfg, _repo, pks, _ = shop
    out = run("customers", "--difficult").output
    assert "mark@customer.test: 3 message(s), 2 hostile" in out
    assert "why listed: threatened: chargeback or payment dispute" in out
    assert f"#{pks['lena']} chargeback or payment dispute: \"" in out
    assert "You decide." in out and "decides nothing" in out
    assert "jane.miller@customer.test" not in out
    everyone = run("customers").output
    assert "jane.miller@customer.test: 1 message(s), 0 hostile, 1 refund(s) asked" in everyone
    data = json.loads(run("customers", "--difficult", "--json").output)
    assert [d["address"] for d in data] == ["eve@customer.test", "lena@customer.test",
                                            "mark@customer.test"]
    mark = data[2]
    assert mark["hostile"] == 2 and mark["messages"] == 3 and mark["difficult"]
    assert [h["id"] for h in mark["history"]] == [pks["mark1"], pks["mark2"], pks["mark3"]]
    assert data[1]["threats"] == {"chargeback": 1}
    assert data[1]["history"][0]["threats"][0]["kind"] == "chargeback"
    assert len(json.loads(run("customers", "--json", "--limit", "1").output)) == 1


def test_cli_with_no_customers(tmp_path, monkeypatch):
    cfg_file = tmp_path / "config.toml"
    cfg_file.write_text(f'[responder]\ndatabase_url = "sqlite:///{tmp_path / "e.db"}"\n')
    monkeypatch.setenv("RESPONDER_CONFIG", str(cfg_file))
    assert run("customers", "--difficult").output.strip() == "no difficult customers"
    assert json.loads(run("customers", "--json").output) == []


def _login(client, name):
    page = client.get("/login")
    tok = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = client.post("/login", data={"csrf_token": tok, "name": name, "password": PASSWORD})
    assert r.status_code == 302


def test_web_customers_view_is_for_owners_and_escapes_the_customers_words(shop, services):
    cfg, repo, pks, _ = shop
    clock = Clock(T0 + timedelta(days=3))
    accounts.add_user(repo, "olga", "owner", PASSWORD, now=clock())
    accounts.add_user(repo, "ralf", "rep", PASSWORD, now=clock())
    app = create_app(WebContext(cfg, repo, Service(cfg, repo, services=services, clock=clock),
                                clock=clock, secret_key="k" * 40), testing=True)
    anonymous = app.test_client()
    r = anonymous.get("/customers")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=")
    rep = app.test_client()
    _login(rep, "ralf")
    assert rep.get("/customers").status_code == 403
    assert 'id="nav-customers"' not in rep.get("/").text
    owner = app.test_client()
    _login(owner, "olga")
    queue = owner.get("/").text
    assert 'id="nav-customers"' in queue and 'href="/customers"' in queue
    page = owner.get("/customers").text
    assert "decides nothing" in page and "You decide" in page
    listed = re.findall(r'data-address="([^"]+)"', page)
    assert listed == ["eve@customer.test", "lena@customer.test", "mark@customer.test"]
    assert "<script>window.pwned" not in page and "<img src=x" not in page
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in page
    assert "&lt;b&gt;order&lt;/b&gt; 777" in page                   # the subject too
    assert f'href="/m/{pks["lena"]}"' in page and "Rückbuchung" in page
    everyone = owner.get("/customers?all=1").text
    assert "jane.miller@customer.test" in re.findall(r'data-address="([^"]+)"', everyone)
