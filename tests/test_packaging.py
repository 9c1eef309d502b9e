"""Packaging: the sdist and the wheel carry every file responder reads at run time,
and the wheel, installed into a fresh virtual environment outside the checkout,
runs `responder templates check`, `responder replay` and `responder demo`.

The sdist is built from the checkout and the wheel from that sdist (``python -m
build --no-isolation``, with the build backend from the test extras), so a file
missing from the sdist also breaks the wheel. The new environment gets the wheel
with ``--no-deps``; its dependencies come from the project's own environment,
whose site-packages folder a ``.pth`` file lists (installing them afresh would
download torch's CUDA build). That folder's own ``.pth`` files, among them the
editable install's, are not processed from there, so neither the checkout nor
the editable responder is importable in the new environment: the test checks it.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from responder import resources

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_PREFIX = "responder/_data/"

# Files the brief names one by one, as globs inside the wheel: a guard in case
# the walk over the checkout below ever finds less than it should.
REQUIRED_IN_WHEEL = [
    "responder/_data/config.toml",
    "responder/_data/templates/replies/en/refund_request.txt.j2",
    "responder/_data/templates/report/report.html",
    "responder/_data/data/corpus/en.jsonl",
    "responder/core/scoring/data/hostility_head.npz",
    "responder/core/scoring/data/hostility_head.json",
    "responder/core/intent/data/intent_head.npz",
    "responder/core/intent/data/intent_head.json",
    "responder/core/scoring/SOURCES.md",
    "responder/core/intent/data/SOURCES.md",
    "responder/core/scoring/lexicons/en.txt",
    "responder/app/demo_mail/01-refund-en.eml",
    "responder/store/migrations/env.py",
    "responder/store/migrations/script.py.mako",
]
LANGUAGES = ["en", "fr", "de", "es", "ru", "cs", "et"]
REPLAY_KEYS = {
    "file", "message_id", "language", "skipped", "skip_rule", "skip_reason", "hostility",
    "hostility_labels", "hostility_evidence", "held", "release_at", "deadline_at", "intent",
    "intent_confidence", "template", "draft_language", "fallback_language", "draft_to",
    "draft_subject", "in_reply_to", "draft", "draft_notes", "quarantined", "error",
}


def _checkout_files(relative: str) -> list[str]:
    """Every file under ``relative`` in the checkout (a file or a folder), as
    POSIX paths relative to the checkout, less Python's byte-code caches."""
    base = ROOT / relative
    if base.is_file():
        return [relative]
    found = []
    for path in sorted(base.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        found.append(path.relative_to(ROOT).as_posix())
    assert found, f"nothing found under {base}"
    return found


def _run(cmd: list[str | Path], cwd: Path, env: dict[str, str],
         timeout: float = 90) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, (
        f"{' '.join(map(str, cmd))} exited {proc.returncode}\n"
        f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}")
    return proc


def _clean_env() -> dict[str, str]:
    """The environment for commands in the new venv: nothing that points back here."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "RESPONDER_CONFIG",
                        "RESPONDER_DATABASE_URL", "PYTHONSTARTUP"}}
    env["PYTHONNOUSERSITE"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    return env


@dataclass
class Built:
    wheel: Path
    sdist: Path


@dataclass
class Installed:
    venv: Path
    python: Path
    responder: Path
    site_packages: Path
    workdir: Path
    env: dict[str, str]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    out = tmp_path_factory.mktemp("dist")
    # sdist from the checkout, then the wheel from that sdist; offline, with the
    # build backend installed by the test extras.
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", out, ROOT],
         cwd=out, env=_clean_env(), timeout=120)
    wheels = list(out.glob("responder-*.whl"))
    sdists = list(out.glob("responder-*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(p.name for p in out.iterdir())
    return Built(wheel=wheels[0], sdist=sdists[0])


@pytest.fixture(scope="module")
def installed(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("fresh")
    assert not base.resolve().is_relative_to(ROOT)
    venv = base / "venv"
    env = _clean_env()
    # Without pip: pip comes, like every dependency, from the project's site-packages.
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=base, env=env)
    python = venv / "bin" / "python"
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=base, env=env).stdout.strip())
    assert site.is_relative_to(venv), site
    project_dirs = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    (site / "_responder_test_deps.pth").write_text("\n".join(project_dirs) + "\n", encoding="utf-8")

    before = _run([python, "-c", "import importlib.util as u; print(u.find_spec('responder'))"],
                  cwd=base, env=env).stdout.strip()
    assert before == "None", f"responder importable before the wheel is installed: {before}"

    _run([python, "-m", "pip", "install", "--no-deps", "--no-index", built.wheel],
         cwd=base, env=env, timeout=120)
    workdir = base / "work"
    workdir.mkdir()
    return Installed(venv=venv, python=python, responder=venv / "bin" / "responder",
                     site_packages=site, workdir=workdir, env=env)


def test_wheel_carries_every_runtime_file(built: Built) -> None:
    with zipfile.ZipFile(built.wheel) as zf:
        names = set(zf.namelist())
    expected = set(_checkout_files("responder"))
    for relative in resources.SHIPPED:
        expected |= {SHIPPED_PREFIX + name for name in _checkout_files(relative)}
    missing = sorted(expected - names)
    assert not missing, f"missing from the wheel: {missing[:20]}"
    for name in REQUIRED_IN_WHEEL:
        assert name in names, name
    for lang in LANGUAGES:
        assert f"responder/core/scoring/lexicons/{lang}.txt" in names
        assert f"responder/_data/templates/replies/{lang}/_layout.txt.j2" in names
    assert any(n.startswith("responder/store/migrations/versions/") and n.endswith(".py")
               for n in names)
    junk = sorted(n for n in names if "__pycache__" in n or n.endswith(".pyc"))
    assert not junk, junk
    # Only the package and its metadata: nothing lands at the top of site-packages.
    tops = {n.split("/", 1)[0] for n in names}
    dist_info = built.wheel.name.split("-py3")[0] + ".dist-info"
    assert tops == {"responder", dist_info}, tops


def test_sdist_carries_the_sources_and_runtime_files(built: Built) -> None:
    with tarfile.open(built.sdist) as tf:
        names = {m.name.split("/", 1)[1] for m in tf.getmembers() if m.isfile()}
    expected = set(_checkout_files("responder"))
    for relative in resources.SHIPPED:
        expected |= set(_checkout_files(relative))
    expected |= {"pyproject.toml", "hatch_build.py", "README.md"}
    missing = sorted(expected - names)
    assert not missing, f"missing from the sdist: {missing[:20]}"
    assert not any(n.startswith("responder/_data/") for n in names), \
        "the sdist keeps run-time files at the top, as the checkout does"


def test_installed_wheel_is_what_runs(installed: Installed) -> None:
    probe = (
        "import json, responder, responder.resources as r\n"
        "from responder.store import migrations\n"
        "from responder.core.scoring import builtin as s\n"
        "from responder.core.intent import builtin as i\n"
        "from responder.core.scoring import lexicon\n"
        "from responder.core import corpus\n"
        "print(json.dumps({'package': responder.__file__, 'installed': r.is_installed_copy(),"
        " 'templates': str(r.templates_dir()), 'config': str(r.default_config_file()),"
        " 'corpus': str(r.corpus_dir()), 'demo_mail': str(r.demo_mail_dir()),"
        " 'migrations': str(migrations.MIGRATIONS_DIR), 'scoring_data': str(s.DATA_DIR),"
        " 'intent_data': str(i.DATA_DIR), 'lexicons': str(lexicon.LEXICON_DIR),"
        " 'corpus_records': len(corpus.load(split='dev'))}))\n"
    )
    out = json.loads(_run([installed.python, "-c", probe], cwd=installed.workdir,
                          env=installed.env).stdout)
    site = installed.site_packages.resolve()
    assert out.pop("installed") is True
    assert out.pop("corpus_records") > 0
    for what, where in out.items():
        path = Path(where).resolve()
        assert path.is_relative_to(site), f"{what} comes from {path}, not the new venv"
        assert not path.is_relative_to(ROOT), f"{what} comes from the checkout: {path}"
        assert path.exists(), f"{what}: {path} does not exist"
    assert Path(out["templates"], "replies", "en", "refund_request.txt.j2").is_file()
    assert Path(out["config"]).read_text(encoding="utf-8") == \
        (ROOT / "config.toml").read_text(encoding="utf-8")


def test_installed_dependencies_are_satisfied(installed: Installed) -> None:
    # pip's own check over everything the new venv sees ...
    _run([installed.python, "-m", "pip", "check"], cwd=installed.workdir, env=installed.env)
    # ... and each of the wheel's declared requirements, named when one fails.
    probe = (
        "from importlib import metadata\n"
        "from packaging.requirements import Requirement\n"
        "bad = []\n"
        "for text in metadata.requires('responder') or []:\n"
        "    req = Requirement(text)\n"
        "    if req.marker is not None and not req.marker.evaluate({'extra': ''}):\n"
        "        continue\n"
        "    try:\n"
        "        have = metadata.version(req.name)\n"
        "    except metadata.PackageNotFoundError:\n"
        "        bad.append(f'{req}: not installed'); continue\n"
        "    if not req.specifier.contains(have, prereleases=True):\n"
        "        bad.append(f'{req}: have {have}')\n"
        "print('\\n'.join(bad) or 'ok')\n"
    )
    result = _run([installed.python, "-c", probe], cwd=installed.workdir, env=installed.env)
    assert result.stdout.strip() == "ok", result.stdout


def test_templates_check_from_the_wheel(installed: Installed) -> None:
    result = _run([installed.responder, "templates", "check"], cwd=installed.workdir,
                  env=installed.env)
    assert " 0 problem" in result.stdout, result.stdout


def test_replay_from_the_wheel(installed: Installed) -> None:
    samples = installed.site_packages / "responder" / "app" / "demo_mail"
    names = ["01-refund-en.eml", "02-hostile-en.eml", "07-bounce.eml"]
    for name in names:
        (installed.workdir / name).write_bytes((samples / name).read_bytes())
    result = _run([installed.responder, "replay", *names, "--json", "--no-progress"],
                  cwd=installed.workdir, env=installed.env)
    records = {Path(rec["file"]).name: rec
               for rec in map(json.loads, result.stdout.splitlines())}
    assert set(records) == set(names), result.stdout
    for rec in records.values():
        assert REPLAY_KEYS <= set(rec), REPLAY_KEYS - set(rec)
        assert rec["quarantined"] is False and rec["error"] is None, rec
    refund = records["01-refund-en.eml"]
    assert refund["skipped"] is False and refund["held"] is False
    assert refund["language"] == "en" and refund["draft_language"] == "en"
    assert refund["intent"] == "refund_request"
    assert refund["in_reply_to"] == "<jane-10234@customer.test>"
    assert "10234" in refund["draft"]        # the template rendered with the message's facts
    hostile = records["02-hostile-en.eml"]
    assert hostile["held"] is True and hostile["release_at"], hostile
    assert hostile["hostility"] > refund["hostility"] and hostile["hostility_evidence"], hostile
    bounce = records["07-bounce.eml"]
    assert bounce["skipped"] is True and bounce["skip_rule"], bounce


def test_demo_from_the_wheel(installed: Installed) -> None:
    result = _run([installed.responder, "demo", "--dir", installed.workdir / "demo"],
                  cwd=installed.workdir, env=installed.env, timeout=110)
    out = result.stdout
    assert "HELD until" in out, out
    assert "stage now: sent" in out, out
    assert "In-Reply-To: <jane-10234@customer.test>" in out, out
    assert "released: #2" in out, out
    # its database was made by the wheel's own Alembic migrations
    assert (installed.workdir / "demo" / "demo.db").is_file()
