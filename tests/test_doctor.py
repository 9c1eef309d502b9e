"""``responder doctor`` against a real Dovecot and a real aiosmtpd: one line per check,
plain-words explanations, exit code 1 when something failed."""
from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner
from servers import Dovecot, SmtpSink

from responder import config as config_mod
from responder.cli.main import main
from responder.mail import doctor

pytestmark = pytest.mark.imap


@pytest.fixture(scope="module")
def dovecot():
    Dovecot.ensure_installed()
    with Dovecot() as server:
        yield server


@pytest.fixture(scope="module")
def sink():
    with SmtpSink(username="mailer", password="smtp-pw", starttls=True) as server:
        yield server


@pytest.fixture
def make(dovecot, sink, monkeypatch, tmp_path):
    monkeypatch.setenv("T_IMAP_PW", dovecot.password)
    monkeypatch.setenv("T_SMTP_PW", "smtp-pw")

    def build(inbox=None, smtp=None):
        box = {"name": "shop", "host": "127.0.0.1", "port": dovecot.tls_port,
               "security": "tls", "ca_file": str(dovecot.cafile), "username": dovecot.user,
               "password_env": "T_IMAP_PW", "timeout_seconds": 2}
        box.update(inbox or {})
        out = {"host": "127.0.0.1", "port": sink.port, "security": "starttls",
               "ca_file": str(sink.cafile), "username": "mailer", "password_env": "T_SMTP_PW",
               "timeout_seconds": 2}
        out.update(smtp or {})
        return config_mod.from_dict({
            "responder": {"database_url": f"sqlite:///{tmp_path / 'r.db'}"},
            "inbox": [box], "smtp": out}, "<doctor>")
    return build


def by_name(checks):
    return {(c.scope, c.name): c for c in checks}


def test_a_working_setup_passes_every_check(make):
    checks = doctor.run(make())
    assert [c for c in checks if c.status != "OK"] == []
    got = by_name(checks)
    for name in ("DNS", "connect", "TLS", "login", "IDLE", "CONDSTORE", "QRESYNC",
                 "SPECIAL-USE", "MOVE", "folder", "Sent", "Drafts"):
        assert ("inbox shop", name) in got, name
    for name in ("DNS", "connect", "greeting", "STARTTLS", "login"):
        assert ("smtp", name) in got, name
    assert "certificate for localhost checked" in got[("inbox shop", "TLS")].text
    assert "'Sent'" in got[("inbox shop", "Sent")].text


def test_cli_prints_one_line_per_check_and_exits_1_on_failure(make, tmp_path, monkeypatch):
    good = make()
    conf = tmp_path / "c.toml"

    def write(cfg, password_env="T_IMAP_PW"):
        b, s = cfg.inbox[0], cfg.smtp
        conf.write_text(
            f'[responder]\ndatabase_url = "{cfg.responder.database_url}"\n'
            f'[[inbox]]\nhost = "{b.host}"\nport = {b.port}\nca_file = "{b.ca_file}"\n'
            f'username = "{b.username}"\npassword_env = "{password_env}"\ntimeout_seconds = 2\n'
            f'[smtp]\nhost = "{s.host}"\nport = {s.port}\nca_file = "{s.ca_file}"\n'
            f'username = "mailer"\npassword_env = "T_SMTP_PW"\n')
    write(good)
    result = CliRunner().invoke(main, ["--config", str(conf), "doctor"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert all(line.split()[0] == "OK" for line in lines[:-1])
    assert lines[-1].endswith("0 failed, 0 warning(s)")

    monkeypatch.setenv("T_WRONG", "not-the-password")
    write(good, password_env="T_WRONG")
    result = CliRunner().invoke(main, ["--config", str(conf), "doctor"])
    assert result.exit_code == 1
    assert "FAIL inbox shop: login: the server refused the login" in result.output
    assert "IDLE" not in result.output, "steps after a failed login are skipped"
    assert "OK   smtp: login" in result.output


def test_wrong_imap_password_is_explained(make):
    checks = doctor.run(make(inbox={"password_env": "T_NOPE"}))
    login = by_name(checks)[("inbox shop", "login")]
    assert login.status == "FAIL" and "no password" in login.text


def test_gmail_login_failure_mentions_app_passwords(make, monkeypatch):
    monkeypatch.setenv("T_BAD", "bad")
    cfg = make(inbox={"provider": "gmail", "host": "127.0.0.1", "password_env": "T_BAD"})
    got = by_name(doctor.check_inbox(cfg.inbox[0]))
    assert got[("inbox shop", "provider")].status == "OK"
    assert "app password" in got[("inbox shop", "login")].text


def test_outlook_with_password_is_warned(make):
    cfg = make(inbox={"provider": "outlook", "host": "127.0.0.1"})
    got = by_name(doctor.check_inbox(cfg.inbox[0]))
    assert got[("inbox shop", "auth")].status == "WARN"
    assert "xoauth2" in got[("inbox shop", "auth")].text


def test_unknown_host_fails_dns_in_plain_words(make):
    got = by_name(doctor.check_inbox(make(inbox={"host": "no-such-host.invalid"}).inbox[0]))
    dns = got[("inbox shop", "DNS")]
    assert dns.status == "FAIL" and "cannot find 'no-such-host.invalid' in DNS" in dns.text
    assert ("inbox shop", "connect") not in got


def test_closed_port_fails_connect(make):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    got = by_name(doctor.check_inbox(make(inbox={"port": port}).inbox[0]))
    assert got[("inbox shop", "connect")].status == "FAIL"
    assert "nothing accepts connections" in got[("inbox shop", "connect")].text


def test_untrusted_certificate_is_explained(make):
    got = by_name(doctor.check_inbox(make(inbox={"ca_file": ""}).inbox[0]))
    tls = got[("inbox shop", "TLS")]
    assert tls.status == "FAIL" and "not trusted" in tls.text and "ca_file" in tls.text


def test_tls_on_a_plain_port_and_starttls_on_a_tls_port(make, dovecot):
    got = by_name(doctor.check_inbox(make(inbox={"port": dovecot.port}).inbox[0]))
    assert "does not speak TLS from the start" in got[("inbox shop", "TLS")].text
    got = by_name(doctor.check_inbox(make(inbox={"security": "starttls",
                                                 "timeout_seconds": 0.5}).inbox[0]))
    tls = got[("inbox shop", "TLS")]
    assert tls.status == "FAIL" and 'security = "tls"' in tls.text
    got = by_name(doctor.check_inbox(make(inbox={"security": "starttls",
                                                 "port": dovecot.port}).inbox[0]))
    assert got[("inbox shop", "TLS")].status == "OK"
    assert got[("inbox shop", "TLS")].text.startswith("STARTTLS: TLS")


def test_missing_folders_are_named(make):
    got = by_name(doctor.check_inbox(make(inbox={"folder": "Nope", "drafts_folder": "Gone",
                                                 "drafts_to_folder": True}).inbox[0]))
    assert got[("inbox shop", "folder")].status == "FAIL"
    assert "INBOX" in got[("inbox shop", "folder")].text
    assert got[("inbox shop", "Drafts")].status == "FAIL"


def test_smtp_failures_are_explained(make, sink):
    got = by_name(doctor.check_smtp(make(smtp={"password_env": "T_IMAP_PW"}).smtp))
    assert got[("smtp", "login")].status == "FAIL"
    assert "refused the login for 'mailer' (535" in got[("smtp", "login")].text
    with SmtpSink() as plain:
        got = by_name(doctor.check_smtp(make(smtp={"port": plain.port}).smtp))
        assert got[("smtp", "STARTTLS")].status == "FAIL"
        assert "does not offer STARTTLS" in got[("smtp", "STARTTLS")].text
        got = by_name(doctor.check_smtp(make(smtp={"port": plain.port, "security": "none",
                                                   "username": ""}).smtp))
        assert got[("smtp", "security")].status == "WARN"
        assert got[("smtp", "login")].status == "OK"
