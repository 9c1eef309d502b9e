"""Real mail responder used to misread (issue 9, item 8), through the real parser and
screening together: old Mac mail with bare-CR line ends read from a file (plain or
mbox), and automatic messages outside the standard forms (abuse complaints without
ARF, post_master@ bounces, list manager notices), next to the human look-alike that
must still be answered. The messages are written by hand (the corpora hold no such
mail); each docstring names the real-world form it reproduces.
"""
from __future__ import annotations

from test_parsing import OLD_MAC_MAIL

from responder.app.replay import iter_sources
from responder.core.parsing import parse
from responder.core.screening import ScreenContext, screen

CTX = ScreenContext(own_addresses=frozenset({"support@shop.test"}),
                    own_message_id_domains=frozenset({"responder.shop.test"}))

OFFENDING = (b"From: Example Shop <news@shop.test>\r\nTo: someone@isp-customer.test\r\n"
             b"Subject: Autumn sale\r\nMessage-ID: <n1@shop.test>\r\n\r\n"
             b"Autumn sale! Everything 30% off.\r\n")


def _with_attachment(sender: str, subject: str, text: str) -> bytes:
    return (f"From: {sender}\r\nTo: support@shop.test\r\nSubject: {subject}\r\n"
            "Message-ID: <c1@sender.test>\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
            f"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
            '--b\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; '
            'filename="forwarded.eml"\r\n\r\n').encode() + OFFENDING + b"\r\n--b--\r\n"


def test_bare_cr_files_are_read_as_messages(tmp_path):
    """An old Mac .eml and an old Mac mbox (a "From " line first): both used to give
    "empty message" in replay, because mailbox.mbox does not split lines on a bare CR."""
    (tmp_path / "plain.eml").write_bytes(OLD_MAC_MAIL)
    (tmp_path / "box.mbox").write_bytes(
        b"From mac@example.com Mon Nov 23 09:00:00 1998\r" + OLD_MAC_MAIL + b"\r"
        b"From other@example.com Tue Nov 24 10:00:00 1998\r"
        + OLD_MAC_MAIL.replace(b"Mac@Example.COM", b"other@example.com"))
    sources = list(iter_sources([str(tmp_path / "plain.eml"), str(tmp_path / "box.mbox")]))
    assert [s.error for s in sources] == [None, None, None]
    parsed = [parse(s.raw) for s in sources]
    assert [p.from_addr for p in parsed] == ["mac@example.com", "mac@example.com",
                                             "other@example.com"]
    assert all(p.own_words.startswith("Hello, my order of café crème") for p in parsed)
    assert all(screen(p, CTX) is None for p in parsed)      # a customer: answered


def test_abuse_complaint_is_skipped_and_a_forwarding_customer_is_answered():
    """Reproduces an abuse desk's plain complaint (abuse@ sender, "spam complaint",
    the offending message attached as message/rfc822), and a customer forwarding a
    message as an attachment with a question of their own."""
    complaint = parse(_with_attachment(
        "Abuse Desk <abuse@isp.test>", "Spam complaint about 192.0.2.25",
        "We received a spam complaint about the attached message. Please investigate."))
    verdict = screen(complaint, CTX)
    assert verdict is not None and verdict.rule == "report"
    assert "abuse complaint" in verdict.reason
    customer = parse(_with_attachment(
        "Jane Miller <jane@customer.test>", "Fwd: Autumn sale",
        "Hi, is the attached offer still valid? I would like to order two mugs."))
    assert screen(customer, CTX) is None


def test_post_master_bounce_and_fml_notice_are_skipped():
    """Reproduces a small server's bounce from post_master@ (no delivery-status part)
    and an fml command reply (X-MLServer, X-ML-Name, from the list's -admin address)."""
    bounce = parse(b"From: Mail System <post_master@mx.customer.test>\r\nTo: support@shop.test"
                   b"\r\nSubject: Delivery problem\r\n\r\nYour message could not be "
                   b"delivered to ghost@customer.test: mailbox unknown.\r\n")
    verdict = screen(bounce, CTX)
    assert verdict is not None and "postmaster" in verdict.reason
    fml = parse(b"From: elena-admin@example.test\r\nTo: support@shop.test\r\n"
                b"Subject: Subscribe request result (elena ML)\r\n"
                b"X-MLServer: fml [fml 4.0.3 release (20011202/4.0.3)]\r\nX-ML-Name: elena\r\n"
                b"\r\nYour subscribe request was accepted.\r\n")
    verdict = screen(fml, CTX)
    assert verdict is not None and verdict.rule == "mailing-list"
    assert "X-MLServer" in verdict.reason
