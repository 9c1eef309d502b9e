import re

import pytest
from conftest import ROOT

from responder import config as config_mod
from responder.config import ConfigError


def _uncommented_bundled_config() -> str:
    """config.toml with every commented `key = value` line switched on."""
    out = []
    for line in (ROOT / "config.toml").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^# ([a-z_]+ = .*?)(\s+#.*)?$", line)
        out.append(m.group(1) if m and not line.startswith("# [") else line)
    return "\n".join(out)


def test_every_documented_default_is_the_real_default(tmp_path):
    text = _uncommented_bundled_config()
    # the [[inbox]] example is commented as a whole block: leave it out
    text = text.split("# One [[inbox]] section")[0] + "\n[smtp]" + text.split("\n[smtp]", 1)[1]
    path = tmp_path / "all.toml"
    path.write_text(text, encoding="utf-8")
    documented = config_mod.load(path)
    defaults = config_mod.from_dict({})
    assert documented.model_dump() == defaults.model_dump()


def test_every_section_key_is_documented():
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    defaults = config_mod.from_dict({})
    for section, values in defaults.model_dump().items():
        if section == "inbox":
            fields = config_mod.InboxSection.model_fields
        else:
            fields = values
        for key in fields:
            assert re.search(rf"^#? ?{key} = ", text, re.M), f"{section}.{key} not in config.toml"


def test_bundled_config_is_valid():
    cfg = config_mod.load(ROOT / "config.toml")
    assert cfg.shop.addresses == ["support@example-shop.test"]


def test_unknown_key_is_named(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[scoring]\nhold_treshold = 0.7\n")
    with pytest.raises(ConfigError) as err:
        config_mod.load(path)
    assert "scoring.hold_treshold: unknown key" in str(err.value)


def test_bad_values_are_named_with_what_is_expected(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[scoring]\nhold_threshold = 3\n[shop]\naddresses = ["not-an-address"]\n'
                    '[[inbox]]\nhost = "imap.test"\nsecurity = "ssl"\n')
    with pytest.raises(ConfigError) as err:
        config_mod.load(path)
    text = str(err.value)
    assert "scoring.hold_threshold: Input should be less than or equal to 1 (got 3)" in text
    assert "shop.addresses" in text and "not an e-mail address" in text
    assert "inbox.0.username: required key is missing" in text
    assert "inbox.0.security" in text and "'tls'" in text


def test_not_toml_and_missing_file(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[shop\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        config_mod.load(path)
    with pytest.raises(ConfigError, match="cannot read config"):
        config_mod.load(tmp_path / "nope.toml")


def test_secrets_come_from_env_or_file_never_config(tmp_path, monkeypatch):
    cfg = config_mod.from_dict({"inbox": [{"host": "h", "username": "u",
                                           "password_env": "T_PW"}]})
    monkeypatch.delenv("T_PW", raising=False)
    assert cfg.inbox[0].password() is None
    monkeypatch.setenv("T_PW", "s3cret")
    assert cfg.inbox[0].password() == "s3cret"
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    cfg = config_mod.from_dict({"inbox": [{"host": "h", "username": "u", "password_env": "",
                                           "password_file": str(secret)}]})
    assert cfg.inbox[0].password() == "from-file"
    cfg = config_mod.from_dict({"inbox": [{"host": "h", "username": "u", "password_env": "",
                                           "password_file": str(tmp_path / "missing")}]})
    with pytest.raises(ConfigError, match="cannot read secret file"):
        cfg.inbox[0].password()
    with pytest.raises(ConfigError, match="unknown key"):
        config_mod.from_dict({"inbox": [{"host": "h", "username": "u", "password": "x"}]})


def test_database_url_env_override(monkeypatch):
    monkeypatch.setenv("RESPONDER_DATABASE_URL", "sqlite:////tmp/x.db")
    assert config_mod.from_dict({}).database_url == "sqlite:////tmp/x.db"


def test_duplicate_inbox_names_rejected():
    with pytest.raises(ConfigError, match="repeated: a"):
        config_mod.from_dict({"inbox": [{"name": "a", "host": "h", "username": "u"},
                                        {"name": "a", "host": "h2", "username": "u"}]})
