"""The multilingual offline default scorer, its data splits and its held-out report."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from responder.config import ScoringSection
from responder.core.model import HostilityVerdict
from responder.core.scoring import heldout, make_scorer
from responder.core.scoring.breakdown import auc, evaluate_items, format_breakdown
from responder.core.scoring.mlhead import (
    DATA_DIR,
    ML_HEAD_JSON,
    ML_HEAD_NPZ,
    MultilingualHead,
    MultilingualScorer,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def scorer() -> MultilingualScorer:
    s = make_scorer(ScoringSection())
    assert isinstance(s, MultilingualScorer)
    return s


def test_default_decision_path_never_imports_torch_or_transformers() -> None:
    code = textwrap.dedent("""
        import sys
        from responder.config import Config
        from responder.core import parsing
        from responder.core.intent import make_classifier
        from responder.core.scoring import make_scorer
        cfg = Config()
        raw = (b"From: A <a@customer.test>\\r\\nTo: s@shop.test\\r\\nSubject: order\\r\\n"
               b"Content-Type: text/plain; charset=utf-8\\r\\n\\r\\n"
               b"You are useless idiots. Where is my parcel?\\r\\n")
        parsed = parsing.parse(raw)
        v = make_scorer(cfg.scoring).score([parsed.own_words or parsed.text], [parsed.language])[0]
        make_classifier(cfg.intent).classify([parsed.text], [parsed.language])
        bad = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "transformers"))
        print(repr((v.score, bad)))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    score, bad = eval(out.stdout.strip().splitlines()[-1])
    assert bad == [], bad
    assert score >= 0.5          # and it did score: the insult is held


def test_shipped_head_is_plain_arrays_and_names_its_sources() -> None:
    with np.load(DATA_DIR / ML_HEAD_NPZ, allow_pickle=False) as arrays:
        assert all(arrays[k].dtype.kind == "f" for k in arrays.files)
    head = MultilingualHead.load()
    assert list(head.w_emb) == ["use"]
    meta = json.loads((DATA_DIR / ML_HEAD_JSON).read_text(encoding="utf-8"))
    assert set(meta["sources"]) == {"corpus", "davidson-hate-offensive-en",
                                    "ru-distorted-toxicity-vk", "rtp-lx-prompts",
                                    "templates", "banking77-en"}
    # functional test suites never train
    assert not any("hatecheck" in key for key in meta["train_counts"])
    sources_md = (DATA_DIR.parent / "SOURCES.md").read_text(encoding="utf-8")
    for name in meta["sources"]:
        assert name in sources_md
    # the tune-split shift is measured and recorded, and (see SOURCES.md) not applied:
    # its operating point is hold_threshold = 1 / (1 + e^-shift), said with the reason
    cal = meta["calibration"]
    assert cal["applied"] is False and cal["all_languages"] == 0.0
    assert cal["measured_all_languages"] < 0 and "hold_threshold" in cal["why_not_applied"]


def test_use_encoder_is_multilingual() -> None:
    from responder.core.scoring.multilingual import get_encoder
    enc = get_encoder("use")
    e = enc.encode(["I want my money back.", "Ich möchte mein Geld zurück.",
                    "The weather is nice today."])
    assert e.shape == (3, 512)
    assert np.allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-3)
    assert e[0] @ e[1] > e[0] @ e[2] + 0.2           # a translation is nearer than a new topic


@pytest.mark.parametrize("lang,text", [
    ("de", "Ihr seid die dümmsten Menschen, mit denen ich je zu tun hatte."),
    ("fr", "Vous êtes vraiment les pires abrutis que j'aie jamais vus."),
    ("es", "Sois la gente más estúpida con la que he tratado en mi vida."),
])
def test_abuse_without_listed_words_in_other_languages_scores_above_civil(
        scorer: MultilingualScorer, lang: str, text: str) -> None:
    civil = {"de": "Meine Bestellung ist seit zwei Wochen nicht angekommen, bitte prüfen Sie das.",
             "fr": "Ma commande n'est toujours pas arrivée, pouvez-vous vérifier ?",
             "es": "Mi pedido todavía no ha llegado, ¿podrían revisarlo por favor?"}[lang]
    hostile, calm = scorer.score([text, civil], [lang, lang])
    assert hostile.score > calm.score + 0.2, (hostile, calm)
    assert calm.score < 0.5


def test_long_mail_is_capped_but_the_insult_is_kept(scorer: MultilingualScorer) -> None:
    civil = [f"Item {i} of the order arrived on time and works as described." for i in range(60)]
    civil.insert(45, "You are the most incompetent morons I have ever dealt with.")
    (sents, z, _), = scorer.sentence_scores([" ".join(civil)], ["en"])
    assert len(sents) == scorer.max_sentences
    assert any("morons" in s for s in sents)
    v = scorer.score([" ".join(civil)], ["en"])[0]
    assert v.score >= 0.5 and any("morons" in s for s in v.evidence)


# -- the data splits -------------------------------------------------------------

def _write(folder: Path, name: str, rows: list[dict]) -> None:
    (folder / name).mkdir(parents=True)
    (folder / name / "data.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def test_splits_keep_test_suites_for_testing_and_use_abusive_to_people(tmp_path: Path) -> None:
    _write(tmp_path, "hatecheck-en", [
        {"text": "I hate you.", "lang": "en", "label": "non-hateful",
         "functionality": "target_indiv_nh", "abusive_to_people": True, "case_id": "1"},
        {"text": "I hate pizza.", "lang": "en", "label": "non-hateful",
         "functionality": "target_obj_nh", "abusive_to_people": False, "case_id": "2"}])
    _write(tmp_path, "rtp-lx-prompts", [
        {"text": f"text {i} {lang}", "lang": lang, "label": "toxic" if i % 2 else "non_toxic",
         "rtp_lx_index": str(i)} for i in range(40) for lang in ("de", "fr")]
        + [{"text": "so-so", "lang": "de", "label": "mild", "rtp_lx_index": "99"}])
    items = heldout.public_items(tmp_path)
    hc = [it for it in items if it.source == "hatecheck-en"]
    assert [(it.text, it.y, it.split) for it in hc] == [("I hate you.", 1, "test"),
                                                         ("I hate pizza.", 0, "test")]
    rtp = [it for it in items if it.source == "rtp-lx-prompts"]
    assert len(rtp) == 80                                   # "mild" is left out
    split_of_index: dict[str, set[str]] = {}
    for it in rtp:
        split_of_index.setdefault(it.group, set()).add(it.split)
    assert all(len(s) == 1 for s in split_of_index.values())   # translations stay together
    assert {it.split for it in rtp} == {"train", "tune", "test"}
    assert heldout.public_items(tmp_path) == items             # fixed, not random


def test_reserved_evaluation_sets_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="reserved"):
        heldout._check_not_reserved(tmp_path / "paradetox-en")
    _write(tmp_path, "mlma-fr", [{"text": "x", "lang": "fr", "label": "hateful"}])
    assert heldout.public_items(tmp_path) == []             # not a known source: never read


def test_corpus_dev_split_is_test_only() -> None:
    recs = [{"id": "en-001", "lang": "en", "split": "dev", "hostility": "complaint"},
            {"id": "de-001", "lang": "de", "split": "train", "hostility": "hostile"}]
    a, b = heldout.corpus_items(recs, ["t1", "t2"])
    assert (a.split, a.kind, a.y) == ("test", heldout.COMPLAINT, 0)
    assert (b.split, b.kind, b.y) == ("train", heldout.ABUSE, 1)
    assert a.group == b.group == "corpus:001"                   # one scenario, one group


# -- the held-out report -----------------------------------------------------------

def test_rank_auc_matches_the_definition() -> None:
    assert auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert auc([0, 1], [0.5, 0.5]) == pytest.approx(0.5)
    assert auc([1, 1], [0.1, 0.2]) is None


class _Fixed:
    name = "fixed"

    def __init__(self, scores: dict[str, float]) -> None:
        self.scores = scores

    def score(self, texts: list[str], languages: list[str | None] | None = None
              ) -> list[HostilityVerdict]:
        return [HostilityVerdict(score=self.scores[t]) for t in texts]


def test_breakdown_reports_per_source_language_and_kind() -> None:
    def item(text: str, lang: str, y: int, kind: str, origin: str) -> heldout.Item:
        return heldout.Item(text, lang, y, kind, "s", origin, "test", text)
    items = [item("a", "de", 1, heldout.ABUSE, heldout.REAL),
             item("b", "de", 0, heldout.NEUTRAL, heldout.REAL),
             item("c", "de", 0, heldout.COMPLAINT, heldout.WRITTEN),
             item("d", "de", 1, heldout.ABUSE, heldout.WRITTEN)]
    rep = evaluate_items(_Fixed({"a": 0.9, "b": 0.2, "c": 0.6, "d": 0.4}), items, 0.5)
    rows = {(c["origin"], c["lang"]): c for c in rep["by_language"]}
    assert rows[(heldout.REAL, "de")]["auc"] == 1.0
    assert rows[(heldout.WRITTEN, "de")]["auc"] == 0.0
    assert rows[(heldout.WRITTEN, "de")]["complaint_held"] == 1.0
    assert rows[(heldout.WRITTEN, "de")]["abuse_held"] == 0.0
    assert [c["origin"] for c in rep["by_language"]][0] == heldout.WRITTEN
    assert sum(b["n"] for b in rep["calibration"]) == 4
    text = format_breakdown(rep)
    assert "civil complaint" in text and "calibration" in text
