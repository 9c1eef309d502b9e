"""``responder replay PATH --report FILE.html`` through the real CLI on a folder of
mail: the bundled samples, real third-party mail from ../shared/corpora, and crafted
hostile and threatening messages (one with script and event-handler payloads). The
page is self-contained, every number links to an anchor that exists and lists the
messages behind it, each message shows its decision as --json does, and nothing the
customers wrote is markup. The same page in a real browser: tests/test_report_browser.py.
"""
from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT, SAMPLES

from responder.cli.main import main

CORPORA = ROOT.parent / "shared" / "corpora"
CORPUS_FILES = [
    "mikel-mail/plain_emails/basic_email.eml",
    "mikel-mail/plain_emails/raw_email_bad_time.eml",
    "spamassassin-publiccorpus/easy-ham-1/00001.7c53336b37003a9286aba55d2945844c.txt",
    "spamassassin-publiccorpus/easy-ham-1/00030.cc78e84cd398ff4a2e9e287263de928f.txt",
    "hunnysoft-mime-samples/m0001.txt",
    "hunnysoft-mime-samples/m0002.txt",
]
PAYLOAD = ('I will leave a bad review on Trustpilot <script>window.pwned=1</script> '
           '<img src=x onerror="window.pwned=2"> <svg onload="window.pwned=3"></svg>')


def crafted(sender: str, n: int, subject: str, body: str, day: int = 20) -> bytes:
    return (f"From: {sender}\r\nTo: support@example-shop.test\r\nSubject: {subject}\r\n"
            f"Message-ID: <crafted-{n}@customer.test>\r\n"
            f"Date: {'Fri' if day == 20 else 'Sat'}, {day} Nov 2026 0{n % 10}:00:00 +0000\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            f"{body}\r\n").encode()


CRAFTED = {
    "angry-1.eml": crafted("Rick Angry <rick@angry.test>", 1, "broken lamp",
                           "You useless idiots, the lamp arrived smashed. What a pathetic "
                           "joke of a shop, you are a bunch of lying crooks."),
    "angry-2.eml": crafted("Rick Angry <rick@angry.test>", 2, "my money", "Morons. Where is "
                           "my refund, you thieving scammers? I want my money back now.",
                           day=21),
    "payload.eml": crafted("Eve <eve@customer.test>", 3,
                           "<img src=x onerror=window.pwned=4> refund", PAYLOAD),
    "threat-ru.eml": crafted("Иван <ivan@customer.test>", 4, "Заказ 4411",
                             "Я обращусь в суд и напишу плохой отзыв, если вы не вернете "
                             "деньги за заказ 4411."),
    "threat-de.eml": crafted("Lena <lena@customer.test>", 5, "Rückzahlung",
                             "Ich warte seit drei Wochen. Sonst veranlasse ich eine "
                             "Rückbuchung bei meiner Bank."),
    "polite.eml": crafted("Paula <paula@customer.test>", 6, "Question", "Hello, does the "
                          "blue mug fit in a dishwasher? I left a good review last week."),
}


def mail_folder(root: Path) -> Path:
    folder = root / "mail"
    folder.mkdir()
    for eml in sorted(SAMPLES.glob("*.eml")):
        shutil.copy(eml, folder / eml.name)
    missing = [f for f in CORPUS_FILES if not (CORPORA / f).is_file()]
    if missing:
        pytest.fail(f"the shared corpora are missing {missing} (expected under {CORPORA})")
    for i, name in enumerate(CORPUS_FILES):
        shutil.copy(CORPORA / name, folder / f"corpus-{i}.eml")
    for name, raw in CRAFTED.items():
        (folder / name).write_bytes(raw)
    return folder


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    folder = mail_folder(root)
    out = root / "report.html"
    result = CliRunner().invoke(main, ["replay", str(folder), "--json", "--no-progress",
                                       "--report", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return {"records": records, "html": out.read_text(encoding="utf-8"), "path": out,
            "stderr": result.stderr, "folder": folder}


class Page(HTMLParser):
    """Every element with its attributes, ancestors, and the digits-only texts."""

    VOID = {"meta", "br", "img", "input", "hr", "link", "source", "area", "col", "wbr"}

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.elements: list[tuple[str, dict[str, str], list[tuple[str, dict[str, str]]]]] = []
        self.numbers: list[tuple[str, list[tuple[str, dict[str, str]]]]] = []
        self.text_by_id: dict[str, list[str]] = {}
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        self.elements.append((tag, a, list(self.stack)))
        if tag not in self.VOID:
            self.stack.append((tag, a))

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, {k: v or "" for k, v in attrs}, list(self.stack)))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        for _tag, a in self.stack:
            if "id" in a:
                self.text_by_id.setdefault(a["id"], []).append(data)
        if data.strip().isdigit():
            self.numbers.append((data.strip(), list(self.stack)))

    def ids(self) -> set[str]:
        return {a["id"] for _t, a, _s in self.elements if "id" in a}

    def text(self, element_id: str) -> str:
        return " ".join(" ".join(self.text_by_id.get(element_id, [])).split())


def _outcome(rec) -> str:
    if rec["quarantined"]:
        return "quarantined"
    if rec["skipped"]:
        return "skipped"
    if rec.get("superseded_by"):
        return "superseded"
    return "held" if rec["held"] else "drafted"


def test_replay_writes_the_report_and_keeps_its_json(replayed):
    records = replayed["records"]
    samples = len(list(SAMPLES.glob("*.eml")))
    assert len(records) == samples + len(CORPUS_FILES) + len(CRAFTED)
    assert f"report: {replayed['path']}" in replayed["stderr"]
    for rec in records:
        assert {"file", "skipped", "held", "intent", "hostility", "draft",
                "reputation_threats"} <= set(rec)
    by = {Path(r["file"]).name: r for r in records}
    assert [t["kind"] for t in by["payload.eml"]["reputation_threats"]] == ["bad_review"]
    assert {t["kind"] for t in by["threat-ru.eml"]["reputation_threats"]} == {"lawyer",
                                                                             "bad_review"}
    assert by["polite.eml"]["reputation_threats"] == []
    assert by["03-out-of-office.eml"]["reputation_threats"] is None     # automatic mail


def test_every_link_points_at_an_anchor_and_every_number_is_a_link(replayed):
    page = Page(replayed["html"])
    ids = page.ids()
    hrefs = [a["href"] for t, a, _s in page.elements if t == "a" and "href" in a]
    assert hrefs and all(h.startswith("#") for h in hrefs), [h for h in hrefs
                                                             if not h.startswith("#")]
    assert {h[1:] for h in hrefs} <= ids, {h[1:] for h in hrefs} - ids
    checked = 0
    for value, stack in page.numbers:
        in_figures = any(a.get("id") in ("figures", "threat-table", "difficult-table")
                         or "chart" in a.get("class", "").split() for _t, a in stack)
        if in_figures and not any(t == "title" for t, _a in stack):
            assert any(t == "a" for t, _a in stack), (value, stack[-3:])
            checked += 1
    assert checked >= 40
    svgs = [a for t, a, _s in page.elements if t == "svg"]
    assert len(svgs) == 5 and all(int(a["width"]) > 0 and int(a["height"]) > 0 for a in svgs)


def test_numbers_name_exactly_the_messages_behind_them(replayed):
    records, page = replayed["records"], Page(replayed["html"])
    groups = {a["id"]: s for t, a, s in page.elements if t == "section"}
    links_in: dict[str, list[str]] = {}
    for t, a, stack in page.elements:
        if t == "a":
            for _t, anc in stack:
                if anc.get("id", "").startswith("g-"):
                    links_in.setdefault(anc["id"], []).append(a["href"])
    outcomes = [_outcome(r) for r in records]

    def expect(anchor: str, wanted: list[int]) -> None:
        assert anchor in groups, anchor
        assert links_in.get(anchor, []) == [f"#m-{i + 1}" for i in wanted], anchor

    expect("g-summary-all", list(range(len(records))))
    for key in ("held", "skipped", "drafted", "superseded"):
        expect(f"g-summary-{key}", [i for i, o in enumerate(outcomes) if o == key])
    expect("g-summary-threats", [i for i, r in enumerate(records) if r["reputation_threats"]])
    expect("g-threat-lawyer", [i for i, r in enumerate(records)
                               if any(t["kind"] == "lawyer"
                                      for t in r["reputation_threats"] or [])])
    rules = {r["skip_rule"] for r in records if r["skipped"]}
    for rule in rules:
        slug = re.sub(r"[^a-z0-9]+", "-", f"skip-{rule}").strip("-")
        expect(f"g-{slug}", [i for i, r in enumerate(records) if r["skip_rule"] == rule])
    # the summary figures show those counts, each a link to its list
    figures = page.text("figures")
    assert f"{outcomes.count('held')} held for cooling off" in figures
    assert f"{len(records)} messages replayed" in figures
    # each message's own section says what was decided, as --json does
    for i, rec in enumerate(records):
        section = page.text(f"m-{i + 1}")
        assert section.split("Decision ", 1)[1].startswith(_outcome(rec)), section[:80]
        assert Path(rec["file"]).name in section


def test_difficult_senders_are_listed_with_their_history(replayed):
    page = Page(replayed["html"])
    rows = [a["data-address"] for t, a, _s in page.elements
            if t == "tr" and "data-address" in a]
    assert "rick@angry.test" in rows                     # two hostile messages
    assert {"eve@customer.test", "ivan@customer.test", "lena@customer.test"} <= set(rows)
    assert "paula@customer.test" not in rows and "jane.miller@customer.test" not in rows
    assert "responder decides nothing for these customers; you do." in replayed["html"]


def test_customer_text_is_only_text_and_the_page_loads_nothing(replayed):
    html = replayed["html"]
    page = Page(html)
    tags = {t for t, _a, _s in page.elements}
    assert not tags & {"script", "img", "iframe", "object", "embed", "link", "form", "video",
                       "audio", "image", "foreignobject", "base"}, tags
    for tag, attrs, _s in page.elements:
        assert not [k for k in attrs if k.startswith("on")], (tag, attrs)
        for key in ("src", "action", "srcset", "xlink:href"):
            assert key not in attrs, (tag, attrs)
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=window.pwned=4&gt; refund" in html   # the subject
    [csp] = [a["content"] for t, a, _s in page.elements
             if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert not re.search(r"https?://", re.sub(r'xmlns="http://www.w3.org/2000/svg"', "",
                                              html.split("<main>")[0]))


def test_a_report_in_a_missing_folder_stops_before_anything_runs(tmp_path):
    result = CliRunner().invoke(main, ["replay", str(SAMPLES), "--no-progress", "--report",
                                       str(tmp_path / "nowhere" / "r.html")])
    assert result.exit_code != 0
    assert "--report: no such folder" in result.output
