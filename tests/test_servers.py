"""The test servers themselves work: real Dovecot over plain/TLS/STARTTLS and the
aiosmtpd capture sink with STARTTLS, AUTH and injected failures."""

from __future__ import annotations

import imaplib
import smtplib
import ssl
import threading
import time
import uuid

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError
from imapclient.imapclient import DRAFTS, SENT
from servers import Dovecot, SmtpSink  # pytest puts tests/ on sys.path


def _message(subject: str = "Hello") -> tuple[str, bytes]:
    mid = f"<{uuid.uuid4().hex}@example.test>"
    raw = (
        f"From: Buyer <buyer@example.test>\r\n"
        f"To: seller@example.test\r\n"
        f"Subject: {subject}\r\n"
        f"Message-ID: {mid}\r\n"
        f"\r\n"
        f"Is this still available?\r\n"
    ).encode()
    return mid, raw


@pytest.fixture(scope="module")
def dovecot():
    with Dovecot() as d:
        yield d


# ----------------------------------------------------------------------------- IMAP


def test_login_plain(dovecot):
    c = IMAPClient(dovecot.host, port=dovecot.port, ssl=False, timeout=10)
    assert c.has_capability("STARTTLS")
    c.login(dovecot.user, dovecot.password)
    try:
        info = c.select_folder("INBOX")
        assert b"UIDVALIDITY" in info
    finally:
        c.logout()
    dovecot.client().logout()  # the helper


def test_login_implicit_tls_verifies_cafile(dovecot):
    ctx = ssl.create_default_context(cafile=str(dovecot.cafile))
    c = IMAPClient(dovecot.host, port=dovecot.tls_port, ssl=True, ssl_context=ctx, timeout=10)
    try:
        c.login(dovecot.user, dovecot.password)
        c.select_folder("INBOX", readonly=True)
    finally:
        c.logout()
    # Also via the helper.
    c = dovecot.client(tls=True)
    c.logout()


def test_tls_without_cafile_is_rejected(dovecot):
    ctx = ssl.create_default_context()  # system CAs only: self-signed must fail
    with pytest.raises(ssl.SSLCertVerificationError):
        IMAPClient(dovecot.host, port=dovecot.tls_port, ssl=True, ssl_context=ctx, timeout=10)


def test_starttls(dovecot):
    c = IMAPClient(dovecot.host, port=dovecot.port, ssl=False, timeout=10)
    try:
        c.starttls(ssl.create_default_context(cafile=str(dovecot.cafile)))
        c.login(dovecot.user, dovecot.password)
        c.select_folder("INBOX", readonly=True)
    finally:
        c.logout()


def test_bad_password(dovecot):
    c = IMAPClient(dovecot.host, port=dovecot.port, ssl=False, timeout=10)
    start = time.monotonic()
    with pytest.raises(LoginError, match="AUTHENTICATIONFAILED"):
        c.login(dovecot.user, "wrong")
    assert time.monotonic() - start < 3
    c.shutdown()


def test_append_search_fetch(dovecot):
    mid, raw = _message("Append test")
    c = dovecot.client()
    try:
        c.append("INBOX", raw)
        c.select_folder("INBOX")
        uids = c.search(["HEADER", "Message-ID", mid])
        assert len(uids) == 1
        data = c.fetch(uids, ["BODY.PEEK[]", "FLAGS"])[uids[0]]
        assert data[b"BODY[]"] == raw
        assert b"\\Seen" not in data[b"FLAGS"]  # PEEK does not mark as read
        c.add_flags(uids, [b"\\Answered"])
        assert b"\\Answered" in c.get_flags(uids)[uids[0]]
    finally:
        c.logout()


def test_special_use_folders(dovecot):
    c = dovecot.client()
    try:
        assert c.find_special_folder(DRAFTS) == "Drafts"
        assert c.find_special_folder(SENT) == "Sent"
        flags = {name: fl for fl, _sep, name in c.list_folders()}
        assert DRAFTS in flags["Drafts"] and SENT in flags["Sent"]
    finally:
        c.logout()


def test_idle_sees_append_from_other_connection(dovecot):
    watcher = dovecot.client()
    writer = dovecot.client()
    try:
        watcher.select_folder("INBOX")
        watcher.idle()
        writer.append("INBOX", _message("Idle test")[1])
        responses = watcher.idle_check(timeout=5)
        watcher.idle_done()
        assert any(r[1] == b"EXISTS" for r in responses if len(r) > 1)
    finally:
        watcher.logout()
        writer.logout()


def test_add_user_while_running(dovecot):
    dovecot.add_user("other@example.test", "pw2")
    c = dovecot.client("other@example.test")
    try:
        c.append("INBOX", _message()[1])
        c.select_folder("INBOX")
        assert len(c.search()) == 1
    finally:
        c.logout()


def test_restart_keeps_mail_and_drops_connections(dovecot):
    mid, raw = _message("Survives restart")
    c = dovecot.client()
    c.append("INBOX", raw)
    c.select_folder("INBOX")
    port, tls_port = dovecot.port, dovecot.tls_port
    dovecot.restart()
    assert (dovecot.port, dovecot.tls_port) == (port, tls_port)
    with pytest.raises((OSError, imaplib.IMAP4.abort, imaplib.IMAP4.error)):  # old one is dead
        c.noop()
    try:
        c.shutdown()
    except OSError:
        pass
    c = dovecot.client()
    try:
        c.select_folder("INBOX")
        assert len(c.search(["HEADER", "Message-ID", mid])) == 1
    finally:
        c.logout()


def test_reset_uidvalidity(dovecot):
    mid, raw = _message("UIDVALIDITY test")
    c = dovecot.client()
    c.append("INBOX", raw)
    before = c.select_folder("INBOX")[b"UIDVALIDITY"]
    c.logout()
    dovecot.reset_uidvalidity(dovecot.user)
    c = dovecot.client()
    try:
        after = c.select_folder("INBOX")[b"UIDVALIDITY"]
        assert after != before
        assert len(c.search(["HEADER", "Message-ID", mid])) == 1
    finally:
        c.logout()


# ----------------------------------------------------------------------------- SMTP


@pytest.fixture(scope="module")
def _sink_server():
    with SmtpSink() as s:
        yield s


@pytest.fixture(scope="module")
def _secure_sink_server():
    with SmtpSink(username="mailer", password="s3cret", starttls=True) as s:
        yield s


@pytest.fixture
def sink(_sink_server):
    _sink_server.clear()
    return _sink_server


@pytest.fixture
def secure_sink(_secure_sink_server):
    _secure_sink_server.clear()
    return _secure_sink_server


def test_smtp_plain_capture(sink):
    _mid, raw = _message("SMTP plain")
    with smtplib.SMTP(sink.host, sink.port, timeout=10) as s:
        s.sendmail("seller@example.test", ["buyer@example.test", "cc@example.test"], raw)
    (msg,) = sink.wait_for(1)
    assert msg.mail_from == "seller@example.test"
    assert msg.rcpt_tos == ["buyer@example.test", "cc@example.test"]
    assert msg.data == raw
    assert not msg.tls and msg.auth_user is None


def test_smtp_starttls_and_auth(secure_sink):
    with smtplib.SMTP(secure_sink.host, secure_sink.port, timeout=10) as s:
        s.ehlo()
        assert s.has_extn("starttls")
        assert not s.has_extn("auth")  # AUTH only offered after STARTTLS
        s.starttls(context=secure_sink.ssl_context())
        s.ehlo()
        s.login("mailer", "s3cret")
        s.sendmail("seller@example.test", ["buyer@example.test"], _message()[1])
    (msg,) = secure_sink.wait_for(1)
    assert msg.tls and msg.auth_user == "mailer"


def test_smtp_auth_required(secure_sink):
    with smtplib.SMTP(secure_sink.host, secure_sink.port, timeout=10) as s:
        s.starttls(context=secure_sink.ssl_context())
        with pytest.raises(smtplib.SMTPSenderRefused) as e:
            s.sendmail("seller@example.test", ["buyer@example.test"], _message()[1])
        assert e.value.smtp_code == 530
    assert secure_sink.messages == []


def test_smtp_auth_failure_is_quick_535(secure_sink):
    with smtplib.SMTP(secure_sink.host, secure_sink.port, timeout=10) as s:
        s.starttls(context=secure_sink.ssl_context())
        start = time.monotonic()
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login("mailer", "wrong")
        assert time.monotonic() - start < 2
        assert e.value.smtp_code == 535
    assert secure_sink.auth_failures >= 1


def test_smtp_plain_auth_without_tls():
    with SmtpSink(username="u", password="p") as sink:
        with smtplib.SMTP(sink.host, sink.port, timeout=10) as s:
            s.login("u", "p")
            s.sendmail("a@example.test", ["b@example.test"], b"Subject: x\r\n\r\ny\r\n")
        assert sink.wait_for(1)[0].auth_user == "u"


@pytest.mark.parametrize("code, permanent", [(451, False), (550, True)])
def test_smtp_forced_data_failure(sink, code, permanent):
    sink.fail_next(1, code=code)
    raw = _message("Fail once")[1]
    with smtplib.SMTP(sink.host, sink.port, timeout=10) as s:
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail("seller@example.test", ["buyer@example.test"], raw)
        assert e.value.smtp_code == code
        assert (e.value.smtp_code >= 500) == permanent
        # The next attempt goes through.
        s.sendmail("seller@example.test", ["buyer@example.test"], raw)
    assert len(sink.wait_for(1)) == 1
    assert [(r.stage, r.code) for r in sink.rejections] == [("data", code)]


def test_smtp_forced_rcpt_and_mail_failures(sink):
    sink.fail_next(1, code=550, stage="rcpt")
    with smtplib.SMTP(sink.host, sink.port, timeout=10) as s:
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            s.sendmail("seller@example.test", ["nobody@example.test"], b"x\r\n")
    sink.fail_next(1, code=421, stage="mail")
    with smtplib.SMTP(sink.host, sink.port, timeout=10) as s:
        with pytest.raises(smtplib.SMTPSenderRefused) as e:
            s.sendmail("seller@example.test", ["b@example.test"], b"x\r\n")
        assert e.value.smtp_code == 421
    assert sink.messages == []


def test_smtp_wait_for_threaded_delivery(sink):
    def deliver():
        time.sleep(0.2)
        for i in range(3):
            with smtplib.SMTP(sink.host, sink.port, timeout=10) as s:
                s.sendmail("a@example.test", [f"r{i}@example.test"], _message()[1])

    t = threading.Thread(target=deliver)
    t.start()
    msgs = sink.wait_for(3, timeout=10)
    t.join()
    assert sorted(m.rcpt_tos[0] for m in msgs) == [f"r{i}@example.test" for i in range(3)]
    with pytest.raises(TimeoutError):
        sink.wait_for(4, timeout=0.2)
