"""Hostility scoring: the Scorer interface, both backends, word lists, evaluate().

Models are loaded once per module. Nothing here is timed.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from responder.core.cooling import is_hostile
from responder.core.model import HOSTILITY_LABELS, LANGUAGES, HostilityVerdict
from responder.core.scoring import ModelUnavailable, Scorer, make_scorer
from responder.core.scoring.hub import pull_model
from responder.core.scoring.lexicon import CATEGORIES, LEXICON_DIR, load_lexicon, read_lexicon_file
from responder.core.scoring.text import split_sentences, strip_quotes
from responder.core.text import fold, tokens

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


def held(verdict) -> bool:
    """Held at the shipped threshold (the cooling policy's decision)."""
    return is_hostile(verdict, 0.5)


def scoring_cfg(**kw):
    base = dict(backend="builtin", model="", hold_threshold=0.5, batch_size=16,
                hostile_labels=["toxic", "insult", "obscene", "threat", "LABEL_1"],
                device="cpu")
    base.update(kw)
    return SimpleNamespace(**base)


# -- a tiny BERT classifier, built and saved inside the test ------------------

TINY_WORDS = ("you are idiots stupid clowns the parcel is late please refund my order "
              "thank hello where i want money back , . ! ? ' a an and of to").split()


def _save_tiny_bert(folder, num_labels=2, id2label=None, problem_type=None, seed=0):
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + TINY_WORDS
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast.from_pretrained(str(folder), local_files_only=True)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64,
                        max_position_embeddings=64, num_labels=num_labels)
    if id2label:
        config.id2label = dict(enumerate(id2label))
        config.label2id = {v: k for k, v in config.id2label.items()}
    if problem_type:
        config.problem_type = problem_type
    torch.manual_seed(seed)
    model = BertForSequenceClassification(config)
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return _save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="module")
def tiny_scorer(tiny_dir):
    return make_scorer(scoring_cfg(backend="transformers", model=str(tiny_dir), batch_size=4))


TEXTS = [
    "Hello, where is my order? I want my money back.",
    "You are idiots! You are stupid clowns.",
    "",
    "Thank you. The parcel is late. Please refund my order. " * 6,
]


def test_tiny_model_loads_through_the_real_transformers_path(tiny_scorer):
    assert isinstance(tiny_scorer, Scorer)
    assert tiny_scorer.name == "transformers"
    verdicts = tiny_scorer.score(TEXTS, ["en", "en", None, "en"])
    assert len(verdicts) == len(TEXTS)
    for text, v in zip(TEXTS, verdicts):
        assert isinstance(v, HostilityVerdict)
        assert 0.0 <= v.score <= 1.0
        assert set(v.labels) <= set(HOSTILITY_LABELS)
        assert len(v.evidence) <= 3
        for sentence in v.evidence:
            assert sentence in text
    assert verdicts[2].score == 0.0 and not verdicts[2].evidence


def test_tiny_model_probabilities_are_softmax_of_two_labels(tiny_scorer):
    probs = tiny_scorer.label_probabilities(["you are idiots", "thank you", "hello"])
    assert probs.shape == (3, 2)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert tiny_scorer.labels == ["LABEL_0", "LABEL_1"]
    assert tiny_scorer.hostile_idx == [1]


def test_batching_and_sentence_split_do_not_change_scores(tiny_dir, tiny_scorer):
    one_by_one = make_scorer(scoring_cfg(backend="transformers", model=str(tiny_dir),
                                         batch_size=1))
    a = [v.score for v in tiny_scorer.score(TEXTS)]
    b = [v.score for v in one_by_one.score(TEXTS)]
    assert np.allclose(a, b, atol=1e-5)
    # a message scores as its most hostile sentence
    sentences = split_sentences(TEXTS[1])
    assert len(sentences) == 2
    per_sentence = [v.score for v in tiny_scorer.score(sentences)]
    assert tiny_scorer.score([TEXTS[1]])[0].score == pytest.approx(max(per_sentence), abs=1e-5)


def test_threshold_is_the_cooling_policys_not_the_scorers(tiny_dir, tiny_scorer):
    v = tiny_scorer.score([TEXTS[1]])[0]
    other = make_scorer(scoring_cfg(backend="transformers", model=str(tiny_dir),
                                    hold_threshold=0.99))
    assert other.score([TEXTS[1]])[0] == v           # the key changes nothing in the scorer
    assert is_hostile(v, max(0.0, v.score - 0.01)) is True
    assert is_hostile(v, min(1.0, v.score + 0.01)) is False


def test_multi_label_model_uses_sigmoid_and_maps_labels(tmp_path):
    folder = _save_tiny_bert(tmp_path / "multi", num_labels=3,
                             id2label=["toxic", "insult", "threat"],
                             problem_type="multi_label_classification", seed=1)
    scorer = make_scorer(scoring_cfg(backend="transformers", model=str(folder),
                                     hostile_labels=["toxic", "insult", "threat"]))
    probs = scorer.label_probabilities(["you are idiots"])
    assert probs.shape == (1, 3)
    assert not np.allclose(probs.sum(), 1.0)         # independent sigmoids, not a softmax
    v = scorer.score(["you are idiots"])[0]
    assert v.score == pytest.approx(float(probs.max()), abs=1e-5)
    assert is_hostile(v, 0.0)                        # threshold 0 holds everything
    assert "insult" in v.labels and "threat" in v.labels


def test_model_without_a_configured_hostile_label_is_refused(tiny_dir):
    with pytest.raises(ModelUnavailable, match="hostile_labels"):
        make_scorer(scoring_cfg(backend="transformers", model=str(tiny_dir),
                                hostile_labels=["toxic"]))


def test_missing_local_folder_says_what_to_do(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelUnavailable) as exc:
        make_scorer(scoring_cfg(backend="transformers", model=str(missing)))
    msg = str(exc.value)
    assert str(missing) in msg
    assert "responder model pull" in msg and "scoring.model" in msg


def test_folder_without_a_model_says_so(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelUnavailable, match="does not hold a usable model"):
        make_scorer(scoring_cfg(backend="transformers", model=str(tmp_path / "empty")))


def test_uncached_hub_id_offline_fails_without_network(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ModelUnavailable) as exc:
        make_scorer(scoring_cfg(backend="transformers", model="example-org/no-such-model"))
    assert "responder model pull example-org/no-such-model" in str(exc.value)
    with pytest.raises(ModelUnavailable, match="HF_HUB_OFFLINE"):
        pull_model("example-org/no-such-model", cache_dir=str(tmp_path / "cache"))


def test_pull_model_returns_a_local_folder_as_is(tiny_dir):
    assert pull_model(str(tiny_dir)) == tiny_dir.resolve()


def test_unknown_backend_is_a_config_error():
    with pytest.raises(ValueError, match="unknown scoring backend"):
        make_scorer(scoring_cfg(backend="magic"))


# -- the packaged MiniLM, loaded through the path the builtin uses --------------

@pytest.fixture(scope="module")
def encoder():
    from responder.core.scoring.encoder import get_encoder
    return get_encoder()


def test_packaged_minilm_loads_and_embeds(encoder):
    from responder.core.scoring.encoder import packaged_model_dir

    assert encoder.folder == packaged_model_dir()
    assert type(encoder.model).__name__ == "BertModel"
    emb = encoder.encode(["Where is my refund?", "I want my money back.",
                          "The weather is nice today."], batch_size=2)
    assert emb.shape == (3, 384)
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-4)
    # a real sentence encoder: paraphrases are closer than unrelated sentences
    assert emb[0] @ emb[1] > emb[0] @ emb[2]
    again = encoder.encode(["I want my money back."], batch_size=1)
    assert np.allclose(again[0], emb[1], atol=1e-4)


# -- the builtin (offline default) ---------------------------------------------

@pytest.fixture(scope="module")
def builtin(encoder):
    return make_scorer(scoring_cfg())


def test_builtin_is_the_default_and_offline(builtin):
    assert isinstance(builtin, Scorer)
    assert builtin.name == "builtin"
    assert make_scorer(None).name == "builtin"


def test_civil_complaint_with_chargeback_and_review_is_not_held(builtin):
    text = ("Hello,\n\nthis is the third time I ask for my refund for order 55123. "
            "If the money is not back by Friday I will file a chargeback with my bank "
            "and leave a review on Trustpilot.\n\nRegards, Anna")
    v = builtin.score([text], ["en"])[0]
    assert not held(v), v
    assert "reputation_threat" in v.labels
    assert not {"insult", "profanity", "threat"} & set(v.labels)


def test_neutral_question_is_not_held(builtin):
    v = builtin.score(["Hi, could you tell me when my order 4411 will ship? Thanks!"], ["en"])[0]
    assert not held(v) and v.score < 0.5
    assert v.labels == []


INSULTS = {
    "en": "You are a bunch of useless idiots. Fuck you and your pathetic shop.",
    "fr": "Vous êtes une bande de connards incompétents. Allez vous faire foutre.",
    "de": "Ihr seid doch alle Vollidioten. Verpisst euch, ihr Betrüger!",
    "es": "Sois unos inútiles y unos hijos de puta. Idos a la mierda.",
    "ru": "Вы тупые идиоты и уроды. Пошли вы на хуй со своим магазином.",
    "cs": "Jste banda neschopných debilů a zmrdů. Jděte do prdele.",
    "et": "Te olete täielikud idioodid ja petturid. Minge persse oma poega.",
}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_clear_insults_are_held_in_every_language(builtin, lang):
    v = builtin.score([INSULTS[lang]], [lang])[0]
    assert held(v), (lang, v)
    assert v.score >= 0.5
    assert {"insult", "profanity"} & set(v.labels), v.labels
    assert v.evidence and all(s in INSULTS[lang] for s in v.evidence)


def test_insults_are_held_when_the_language_is_unknown(builtin):
    verdicts = builtin.score([INSULTS["de"], INSULTS["ru"]], None)
    assert all(held(v) for v in verdicts)


def test_threat_is_held_and_labelled(builtin):
    v = builtin.score(["I know where you live. You will regret this, I promise you."], ["en"])[0]
    assert held(v)
    assert "threat" in v.labels


def test_civil_reply_quoting_an_earlier_hostile_message_is_not_held(builtin):
    text = ("Hello again,\n\nI am sorry about my last message, I was upset. The parcel has "
            "now arrived and everything is fine. Thank you for your patience.\n\n"
            "On Mon, 2 Nov 2026 at 09:30, Anna <anna@example.test> wrote:\n"
            "> You are a bunch of useless idiots. Fuck you and your pathetic shop.\n"
            "> I know where you live.\n")
    v = builtin.score([text], ["en"])[0]
    assert not held(v), v
    assert all("idiots" not in s and "Fuck" not in s for s in v.evidence)
    alone = builtin.score([INSULTS["en"]], ["en"])[0]
    assert held(alone)                       # the same words unquoted are held


def test_one_insult_in_a_long_civil_mail_is_found(builtin):
    civil = ("I ordered the blue kettle on the third of October and paid by card. "
             "The tracking page has not changed for nine days. ") * 8
    text = civil + "Honestly, you are the most incompetent morons I have ever dealt with."
    v = builtin.score([text], ["en"])[0]
    assert held(v)
    assert any("morons" in s for s in v.evidence)
    assert len(split_sentences(text)) > 10


def test_builtin_threshold_is_configurable(encoder):
    text = ["This is the second time the parcel is late, I am really annoyed."]
    never = make_scorer(scoring_cfg(hold_threshold=1.0)).score(text, ["en"])[0]
    always = make_scorer(scoring_cfg(hold_threshold=0.0)).score(text, ["en"])[0]
    assert never.score == pytest.approx(always.score)
    assert not is_hostile(never, 1.0) and is_hostile(always, 0.0)


def test_builtin_batches_give_the_same_scores(builtin):
    texts = list(INSULTS.values()) + ["Where is my parcel?", ""]
    together = [v.score for v in builtin.score(texts)]
    alone = [builtin.score([t])[0].score for t in texts]
    assert np.allclose(together, alone, atol=1e-4)
    assert together[-1] == 0.0


def test_head_weights_are_plain_arrays_without_pickle():
    from responder.core.scoring.builtin import DATA_DIR, HEAD_JSON, HEAD_NPZ, Head

    with np.load(DATA_DIR / HEAD_NPZ, allow_pickle=False) as arrays:
        assert all(arrays[k].dtype.kind == "f" for k in arrays.files)
    head = Head.load()
    assert (DATA_DIR / HEAD_JSON).is_file() and head.meta["lex_names"]


# -- word lists and text helpers -------------------------------------------------

def test_every_language_has_a_lexicon_with_the_needed_categories():
    for lang in LANGUAGES:
        cats = read_lexicon_file(LEXICON_DIR / f"{lang}.txt")
        for needed in ("insult", "profanity", "contempt", "threat", "reputation_threat",
                       "target"):
            assert cats.get(needed), (lang, needed)
        assert set(cats) <= set(CATEGORIES) | {"exclude", "safe"}


@pytest.mark.parametrize("lang,sentence,category", [
    ("cs", "Vy jste ale debilové", "insult"),
    ("cs", "vy jste ale debilove", "insult"),           # typed without diacritics
    ("ru", "с такими идиотами невозможно работать", "insult"),
    ("ru", "вы там совсем охуели", "profanity"),
    ("et", "te olete idioodid", "insult"),
    ("et", "Minge persse", "profanity"),
    ("de", "Sie Vollidiot", "insult"),
    ("fr", "bande d'enfoirés", "insult"),
    ("es", "sois unos gilipollas", "insult"),
    ("en", "you f*cking clowns", "profanity"),
    ("en", "what a$$holes", "insult"),
    ("de", "what the fuck", "profanity"),                # English swearing in any language
    ("en", "I will leave a one-star review", "reputation_threat"),
    ("fr", "je vais faire opposition auprès de ma banque", "reputation_threat"),
])
def test_lexicon_finds_inflected_and_obfuscated_forms(lang, sentence, category):
    hits = load_lexicon(lang).find_text(sentence)
    assert category in {h.category for h in hits}, hits


@pytest.mark.parametrize("lang,sentence", [
    ("en", "Sorry if this is a stupid question, where is my order?"),
    ("en", "I'm such an idiot, I ordered the wrong size."),
    ("de", "Vielleicht eine dumme Frage: wo ist mein Paket?"),
    ("de", "Ich habe das Paket nicht bekommen, wie dumm von mir, falsche Adresse."),
])
def test_safe_phrases_cancel_hits_inside_them(lang, sentence):
    cats = {h.category for h in load_lexicon(lang).find_text(sentence)}
    assert not cats & {"insult", "contempt", "profanity"}, cats


def test_german_umlauts_and_their_spelled_out_forms_both_match():
    lexicon = load_lexicon("de")
    for sentence in ("Ihr Betrüger!", "Ihr Betrueger!", "ihr betruger"):
        assert "insult" in {h.category for h in lexicon.find_text(sentence)}, sentence


@pytest.mark.parametrize("lang,sentence", [
    ("de", "Bitte senden Sie mir die Rechnung."),        # 'bitte' is on a French list
    ("fr", "À mon avis le colis est perdu."),             # 'avis' is not a review here
    ("en", "Could you check the order status please?"),
    ("es", "Quisiera saber el estado de mi pedido."),
])
def test_lexicon_leaves_ordinary_sentences_alone(lang, sentence):
    hits = [h for h in load_lexicon(lang).find_text(sentence) if h.category != "target"]
    assert hits == []


def test_text_helpers():
    assert fold("Píčo ÉTÉ Ёлка йод Straße") == "pico ete елка иод strasse"
    assert tokens(fold("f*ck you, a$$hole!"), masked=True) == ["f*ck", "you", "a$$hole"]
    text = "Fine, thanks.\nOn Tue, Bob wrote:\n> you idiots\n> really\nBye"
    assert "idiots" not in strip_quotes(text) and "wrote" not in strip_quotes(text)
    assert split_sentences("One. Two! Three?\n\n> quoted\nFour") == ["One.", "Two!", "Three?",
                                                                      "Four"]
    long = " ".join(["word"] * 130)
    chunks = split_sentences(long)
    assert len(chunks) > 2 and all(len(c.split()) <= 48 for c in chunks)


# -- evaluate() --------------------------------------------------------------------

class KeywordScorer:
    name = "keyword"
    hold_threshold = 0.5

    def score(self, texts, languages=None):
        out = []
        for t in texts:
            s = 0.9 if "idiot" in t.lower() else (0.6 if "chargeback" in t.lower() else 0.1)
            out.append(HostilityVerdict(score=s))
        return out


def _rec(i, lang, hostility, body):
    return {"id": f"t{i}", "lang": lang, "split": "dev", "subject": "Order", "body": body,
            "from_name": "Ann", "hostility": hostility, "intent": "other"}


def test_evaluate_reports_per_language_figures():
    from responder.core.scoring.evaluate import evaluate, format_report

    records = [
        _rec(1, "en", "hostile", "You idiots, where is my parcel?"),
        _rec(2, "en", "hostile", "You are idiots."),
        _rec(3, "en", "complaint", "Third time: refund me or I file a chargeback."),
        _rec(4, "en", "complaint", "The parcel is late again, I am unhappy."),
        _rec(5, "en", "neutral", "Where is my parcel?"),
        _rec(6, "de", "hostile", "Sie Idioten!"),
        _rec(7, "de", "neutral", "Wo ist mein Paket?"),
    ]
    report = evaluate(KeywordScorer(), records)
    en, de, all_ = report["languages"]["en"], report["languages"]["de"], report["all"]
    assert en["n"] == 5 and en["n_hostile"] == 2 and en["n_complaint"] == 2
    assert en["auc"] == pytest.approx(1.0)
    assert en["hostile_held"] == pytest.approx(1.0)
    assert en["complaints_held"] == pytest.approx(0.5)
    assert en["precision"] == pytest.approx(2 / 3)
    assert de["complaints_held"] is None
    assert all_["n"] == 7 and all_["recall"] == pytest.approx(1.0)
    text = format_report(report)
    assert "AUC" in text and "en" in text and "de" in text and "all" in text
    assert "50.0%" in text
