"""responder's own SMTP ingress, through a real SMTP conversation (smtplib -> aiosmtpd)."""
import smtplib

import pytest
from conftest import sample
from servers import free_ports

from responder.app.service import Service
from responder.core.model import Stage
from responder.mail.intake.smtp import start_ingress


@pytest.fixture
def ingress(make_config, repo, clock, services):
    [port] = free_ports(1)
    cfg = make_config(ingress={"enabled": True, "port": port})
    services.cfg = cfg
    service = Service(cfg, repo, services=services, clock=clock)
    stored = []
    controller = start_ingress(repo, cfg, on_stored=stored.append, clock=clock)
    yield cfg, repo, service, port, stored
    controller.stop()


def test_ingress_stores_exact_bytes_then_the_pipeline_decides(ingress):
    cfg, repo, service, port, stored = ingress
    raw = sample("01-refund-en.eml").replace(b"\n", b"\r\n")
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.sendmail("jane.miller@customer.test", ["Support@Example-Shop.test"], raw)
    [pk] = stored
    assert repo.get(pk).raw == raw
    assert repo.get(pk).stage == Stage.RECEIVED.value
    assert service.process_pending() == 1
    assert repo.get(pk).stage == Stage.DRAFTED.value


def test_ingress_refuses_other_recipients_and_deduplicates(ingress):
    cfg, repo, service, port, stored = ingress
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as err:
            smtp.sendmail("x@customer.test", ["someone@elsewhere.test"], sample("01-refund-en.eml"))
        assert err.value.recipients["someone@elsewhere.test"][0] == 550
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.sendmail("x@customer.test", ["support@example-shop.test"], sample("04-where-ru.eml"))
        smtp.sendmail("x@customer.test", ["support@example-shop.test"], sample("04-where-ru.eml"))
    assert len(stored) == 1 and repo.count_by_stage() == {"received": 1}


def test_bad_mail_is_quarantined_with_its_reason_and_kept(ingress):
    cfg, repo, service, port, stored = ingress
    junk = b"\x00\x01garbage without any header\xff\r\n"
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.sendmail("x@customer.test", ["support@example-shop.test"], junk)
    service.process_pending()
    row = repo.get(stored[0])
    assert row.stage == Stage.QUARANTINED.value and row.error
    assert row.raw.startswith(b"\x00\x01garbage")


def test_smtp_xoauth2_login_with_token_refresh(tmp_path):
    """responder logs in to a real aiosmtpd server that only knows XOAUTH2; a refused
    (expired) token is replaced by a fresh one from the token file and retried once."""
    import base64

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP, AuthResult

    from responder import config as config_mod
    from responder.mail.connections import connect_smtp

    seen = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            return "250 OK"

    class Server(SMTP):
        async def auth_XOAUTH2(self, server, args):
            raw = base64.b64decode(args[1]).decode()
            seen.append(raw)
            if "auth=Bearer good" in raw:
                return AuthResult(success=True, auth_data="seller")
            # a refresher replaces the expired token while the server says no
            token_file.write_text("good\n")
            return AuthResult(success=False, handled=False)

    class Ctl(Controller):
        def factory(self):
            return Server(self.handler, auth_require_tls=False,
                          authenticator=lambda *a: AuthResult(success=False, handled=False))

    [port] = free_ports(1)
    ctl = Ctl(Handler(), hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        token_file = tmp_path / "token"
        token_file.write_text("stale\n")
        cfg = config_mod.from_dict({"smtp": {
            "host": "127.0.0.1", "port": port, "security": "none", "username": "seller@x.test",
            "auth": "xoauth2", "oauth2_token_file": str(token_file)}})
        connect_smtp(cfg.smtp).quit()
        assert [s.split("auth=Bearer ")[1].strip("\x01") for s in seen] == ["stale", "good"]
        assert seen[0].startswith("user=seller@x.test\x01")
    finally:
        ctl.stop()
