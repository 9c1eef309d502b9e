"""Intent classification: the builtin head, the transformers path, the fallback, evaluate()."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from responder.config import IntentSection
from responder.core.intent import IntentClassifier, make_classifier
from responder.core.intent.base import verdict
from responder.core.intent.builtin import DATA_DIR, BuiltinClassifier, LinearHead
from responder.core.intent.evaluate import evaluate, format_report
from responder.core.intent.features import Featurizer, clean
from responder.core.intent.hf import label_to_intent
from responder.core.intent.keywords import KeywordMatcher
from responder.core.intent.text import record_text
from responder.core.model import INTENTS, IntentVerdict
from responder.core.text import fold, tokens

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def builtin():
    return make_classifier(IntentSection())


# ---- builtin: obvious messages in several languages -------------------------------------

OBVIOUS = [
    ("refund_request", "Refund please\nHello, I returned the shoes last week. "
                       "Please refund the money to my card."),
    ("refund_request", "Remboursement\nBonjour, je voudrais être remboursé pour ma commande, "
                       "je vous ai renvoyé l'article."),
    ("refund_request", "Rückerstattung\nIch möchte mein Geld zurück, bitte erstatten Sie "
                       "den Betrag."),
    ("where_is_my_order", "Where is my order?\nI ordered two weeks ago and my parcel has "
                          "still not arrived. Can you send me the tracking number?"),
    ("where_is_my_order", "Где мой заказ?\nЗдравствуйте, посылка до сих пор не пришла, "
                          "трек-номер не отслеживается."),
    ("where_is_my_order", "¿Dónde está mi pedido?\nHola, mi paquete todavía no ha llegado. "
                          "¿Me pueden dar el número de seguimiento?"),
    ("damaged_or_wrong_item", "Broken mug\nThe mug arrived smashed, the box was damaged "
                              "and the handle is broken."),
    ("damaged_or_wrong_item", "Poškozené zboží\nDobrý den, balík přišel a lampa je "
                              "rozbitá, sklo je prasklé."),
    ("cancel_order", "Cancel order\nPlease cancel my order, I placed it by mistake and "
                     "do not want it any more."),
    ("cancel_order", "Stornierung\nBitte stornieren Sie meine Bestellung, ich habe mich "
                     "anders entschieden."),
    ("login_or_password_trouble", "Can't log in\nI cannot log in to my account, the "
                                  "password reset link does not work."),
    ("login_or_password_trouble", "Ei saa sisse logida\nTere, ma ei saa oma kontole "
                                  "sisse logida, parool ei tööta."),
    ("download_trouble", "Download problem\nI paid for the ebook but the download link "
                         "gives an error and the file will not download."),
    ("download_trouble", "Téléchargement\nJe n'arrive pas à télécharger le fichier PDF, "
                         "le lien de téléchargement ne marche pas."),
    ("product_question", "Question about the jacket\nHi, is this jacket waterproof, and "
                         "do you have it in size M?"),
    ("billing_or_charge_dispute", "Charged twice\nMy credit card was charged twice for the "
                                  "same order, please check the payment."),
    ("billing_or_charge_dispute", "Cobro duplicado\nMe han cobrado dos veces en la tarjeta "
                                  "por el mismo pedido."),
    ("thanks_or_praise", "Thank you!\nThe package arrived today and everything is perfect. "
                         "Thank you for the great service!"),
    ("thanks_or_praise", "Спасибо\nБольшое спасибо, всё пришло, очень доволен, отличный "
                         "магазин!"),
]


def test_builtin_is_an_intent_classifier(builtin):
    assert isinstance(builtin, IntentClassifier)
    assert builtin.name == "builtin"


@pytest.mark.parametrize("expected,text", OBVIOUS, ids=[f"{e}-{i}" for i, (e, _) in
                                                         enumerate(OBVIOUS)])
def test_builtin_obvious_messages(builtin, expected, text):
    [v] = builtin.classify([text])
    assert v.intent == expected, (v, text)
    assert 0.0 < v.confidence <= 1.0
    assert not v.low_confidence


def test_builtin_batch_matches_single_and_keeps_order(builtin):
    texts = [t for _, t in OBVIOUS]
    batched = make_classifier(IntentSection(batch_size=4)).classify(texts)
    single = [builtin.classify([t])[0] for t in texts]
    assert [v.intent for v in batched] == [v.intent for v in single]
    assert np.allclose([v.confidence for v in batched], [v.confidence for v in single])
    assert builtin.classify([]) == []


def test_builtin_languages_argument_is_accepted(builtin):
    text = OBVIOUS[0][1]
    assert builtin.classify([text], ["en"])[0].intent == builtin.classify([text], [None])[0].intent


def test_builtin_ignores_quoted_lines(builtin):
    quoted = "\n".join("> " + line for line in OBVIOUS[3][1].splitlines())
    text = "Re: your order\nThank you so much, it arrived, great service!\n" + quoted
    assert builtin.classify([text])[0].intent == "thanks_or_praise"


def test_builtin_empty_and_odd_input(builtin):
    for v in builtin.classify(["", "\n", "12345", "!!!", "x" * 5000]):
        assert v.intent in INTENTS
        assert 0.0 <= v.confidence <= 1.0


# ---- the confidence floor -------------------------------------------------------------

def test_low_confidence_falls_back_to_other():
    text = "Hello\nI have a question about my order and the payment and the password."
    [free] = make_classifier(IntentSection(min_confidence=0.0)).classify([text])
    assert not free.low_confidence
    floor = min(1.0, free.confidence + 1e-6)
    [held] = make_classifier(IntentSection(min_confidence=floor)).classify([text])
    assert held.intent == "other"
    assert held.low_confidence is True
    assert held.confidence == pytest.approx(free.confidence)


def test_verdict_rule():
    assert verdict("cancel_order", 0.39, 0.4) == IntentVerdict("other", 0.39, True)
    assert verdict("cancel_order", 0.4, 0.4) == IntentVerdict("cancel_order", 0.4, False)
    assert verdict("no_such_intent", 0.9, 0.4) == IntentVerdict("other", 0.9, False)


# ---- features ---------------------------------------------------------------------------

def test_fold_and_tokens_cover_all_scripts():
    assert fold("Rückerstattung ŽLUŤOUČKÝ Tänan Ёлка й ÉTÉ") == \
        "ruckerstattung zlutoucky tanan елка и ete"
    assert tokens(fold("Order #12345, née"), digits_as_zero=True) == ["order", "0", "nee"]


def test_keyword_layer_matches_each_language():
    m = KeywordMatcher.default()

    def hits(text):
        return m.match(tokens(fold(text), digits_as_zero=True))

    assert "refund_request" in hits("Bitte um Rückerstattung")
    assert "where_is_my_order" in hits("Где мой заказ?")
    assert "login_or_password_trouble" in hits("Zapomněl jsem heslo")
    assert "thanks_or_praise" in hits("Tänan väga!")
    assert "cancel_order" in hits("Je veux annuler")
    assert "billing_or_charge_dispute" in hits("me cobraron dos veces")
    assert "download_trouble" in hits("can't download the file")
    assert hits("lorem ipsum dolor") == {}


def test_clean_drops_quotes_and_masks():
    out = clean("Hi\n> old text\nsee https://x.test/a?b=1 or mail me@x.test")
    assert "old text" not in out and "https" not in out and "me@x.test" not in out


def test_featurizer_blocks():
    counts = Featurizer().counts("Refund\nI want a refund")
    assert set(counts) == {"c", "w", "k"}
    assert counts["c"] and counts["w"] and counts["k"]


# ---- storage and run-time dependencies ---------------------------------------------------

def test_shipped_head_is_json_and_npz_without_pickle():
    meta = json.loads((DATA_DIR / "intent_head.json").read_text(encoding="utf-8"))
    assert meta["classes"] == list(INTENTS)
    with np.load(DATA_DIR / "intent_head.npz", allow_pickle=False) as z:
        assert z["coef"].shape == (meta["n_features"], len(INTENTS))
        assert z["ids"].dtype == np.uint32


def test_head_round_trip(tmp_path, builtin):
    head, meta = LinearHead.load(DATA_DIR)
    head.save(tmp_path, {k: v for k, v in meta.items()
                         if k not in ("classes", "temperature", "blocks", "block_cfg",
                                      "n_features")})
    copy = BuiltinClassifier.load(tmp_path)
    texts = [t for _, t in OBVIOUS[:5]]
    assert np.allclose(copy.proba(texts), builtin.proba(texts), atol=1e-6)


def test_builtin_runtime_needs_no_scikit_learn():
    code = ("import sys\n"
            "from responder.core.intent import make_classifier\n"
            "from responder.config import IntentSection\n"
            "v = make_classifier(IntentSection()).classify(['Refund\\nmoney back please'])\n"
            "assert v[0].intent in __import__('responder.core.model').core.model.INTENTS\n"
            "bad = [m for m in ('sklearn', 'scipy', 'torch', 'transformers') if m in sys.modules]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_missing_head_says_how_to_train(tmp_path):
    with pytest.raises(FileNotFoundError, match="train_intent.py"):
        BuiltinClassifier.load(tmp_path / "nothing")


def test_unknown_backend_and_missing_model():
    with pytest.raises(ValueError):
        make_classifier(type("C", (), {"backend": "magic", "model": "", "min_confidence": 0.4,
                                       "batch_size": 2})())
    with pytest.raises(ValueError):
        make_classifier(IntentSection(backend="transformers", model=""))


# ---- transformers backend, with a tiny random BERT saved locally -------------------------

WORDS = ["hello", "refund", "order", "where", "is", "my", "money", "back", "please",
         "cancel", "password", "download", "thanks", "broken", "charged", "twice"]


def _tiny_bert(folder: Path, labels: list[str]) -> Path:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    folder.mkdir(parents=True, exist_ok=True)
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS) + "\n",
                     encoding="utf-8")
    tokenizer = transformers.BertTokenizerFast(vocab_file=str(vocab), do_lower_case=True)
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=5 + len(WORDS), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64, num_labels=len(labels),
        id2label=dict(enumerate(labels)), label2id={name: i for i, name in enumerate(labels)})
    model = transformers.BertForSequenceClassification(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return _tiny_bert(tmp_path_factory.mktemp("tiny-intent"), list(INTENTS))


def test_transformers_backend_local_folder(tiny_model):
    clf = make_classifier(IntentSection(backend="transformers", model=str(tiny_model),
                                        min_confidence=0.0, batch_size=3))
    assert isinstance(clf, IntentClassifier)
    assert clf.name == "transformers"
    texts = ["Refund\nplease refund my money", "where is my order", "", "password " * 200,
             "Отмена заказа", "thanks"]
    verdicts = clf.classify(texts, ["en"] * len(texts))
    assert len(verdicts) == len(texts)
    for v in verdicts:
        assert v.intent in INTENTS
        assert 0.0 < v.confidence <= 1.0
        assert not v.low_confidence
    probs = clf.proba(texts)
    assert probs.shape == (len(texts), len(INTENTS))
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    # batching does not change the answer
    one_by_one = [clf.classify([t])[0] for t in texts]
    assert [v.intent for v in one_by_one] == [v.intent for v in verdicts]
    assert np.allclose([v.confidence for v in one_by_one],
                       [v.confidence for v in verdicts], atol=1e-5)


def test_transformers_backend_floor_and_foreign_labels(tmp_path):
    folder = _tiny_bert(tmp_path / "m", ["Refund Request", "spam", "thanks-or-praise",
                                         "LABEL_3"])
    clf = make_classifier(IntentSection(backend="transformers", model=str(folder),
                                        min_confidence=0.0))
    probs = clf.proba(["hello refund"])[0]
    # "spam" and "LABEL_3" add up as "other"; only three intents can come out
    assert set(np.nonzero(probs)[0]) <= {INTENTS.index("refund_request"),
                                         INTENTS.index("thanks_or_praise"),
                                         INTENTS.index("other")}
    assert probs.sum() == pytest.approx(1.0, abs=1e-5)
    strict = make_classifier(IntentSection(backend="transformers", model=str(folder),
                                           min_confidence=1.0))
    [v] = strict.classify(["hello refund"])
    assert v.intent == "other" and v.low_confidence and v.confidence < 1.0


def test_transformers_backend_never_downloads(tmp_path):
    from responder.core.scoring.errors import ModelUnavailable
    with pytest.raises(ModelUnavailable, match="model pull"):
        make_classifier(IntentSection(backend="transformers",
                                      model="nobody-here/no-such-intent-model-xyz"))


def test_label_names_map_to_intents():
    assert label_to_intent("Where Is My Order") == "where_is_my_order"
    assert label_to_intent("download-trouble") == "download_trouble"
    assert label_to_intent("LABEL_0") == "other"


# ---- evaluate() ---------------------------------------------------------------------------

class _Fixed:
    name = "fixed"

    def __init__(self, answers):
        self.answers = answers

    def classify(self, texts, languages=None):
        return [IntentVerdict(a, 0.9 if a != "other" else 0.2, a == "other")
                for a in self.answers[:len(texts)]]


def _records():
    rows = [("en", "refund_request"), ("en", "refund_request"), ("en", "cancel_order"),
            ("fr", "where_is_my_order"), ("fr", "thanks_or_praise"), ("ru", "other")]
    return [{"id": f"r{i}", "lang": lang, "split": "dev", "subject": "Hello",
             "body": "Some words.\n", "from_name": "A B", "intent": intent}
            for i, (lang, intent) in enumerate(rows)]


def test_evaluate_counts_and_confusion():
    records = _records()
    answers = ["refund_request", "cancel_order", "cancel_order", "where_is_my_order",
               "other", "other"]
    report = evaluate(_Fixed(answers), records, texts=["x"] * len(records))
    assert report["n"] == 6
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["by_language"]["en"]["accuracy"] == pytest.approx(2 / 3)
    assert report["by_language"]["fr"]["accuracy"] == pytest.approx(1 / 2)
    assert report["by_language"]["ru"]["accuracy"] == 1.0
    assert list(report["by_language"]) == ["en", "fr", "ru"]
    m = report["confusion"]
    assert m[INTENTS.index("refund_request")][INTENTS.index("cancel_order")] == 1
    assert m[INTENTS.index("thanks_or_praise")][INTENTS.index("other")] == 1
    assert sum(map(sum, m)) == 6
    assert ({"true": "refund_request", "pred": "cancel_order", "count": 1}
            in report["top_confusions"])
    assert report["low_confidence"] == 2
    text = format_report(report)
    assert "accuracy" in text and "refund_request -> cancel_order" in text
    assert "fr" in text


def test_evaluate_with_the_parser_and_builtin(builtin):
    records = [{"id": "e1", "lang": "en", "split": "dev", "subject": "Cancel my order",
                "body": "Hi,\nplease cancel my order, I ordered it by mistake.\n\nThanks,\nAnn\n\n"
                        "On Mon, 2 Nov 2026, Shop <s@example.test> wrote:\n"
                        "> Your refund is on its way\n> Refund refund refund\n",
                "from_name": "Ann Lee", "intent": "cancel_order"}]
    text, _ = record_text(records[0])
    assert "refund" not in text.lower()
    report = evaluate(builtin, records)
    assert report["accuracy"] == 1.0
    assert "en" in report["by_language"]
