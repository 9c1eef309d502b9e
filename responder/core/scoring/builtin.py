"""The offline default scorer: MiniLM + hashed n-grams + word lists -> trained head.

Each sentence of the customer's own words gets a hostility logit from a
logistic-regression head (trained by ``scripts/train_hostility.py`` on the
project's corpus, stored as plain numpy arrays + JSON in ``data/``) over the
features of :mod:`.features`. The message score combines the sentence logits
(the highest one, how much the others add, how many there are) in a second,
tiny logistic layer trained on out-of-fold sentence scores. So one insulting
sentence in a long civil mail is enough to hold it, and a mail of many
angry-but-civil sentences is not held for its length.
"""
from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from responder.core.languages import LANGUAGES
from responder.core.model import HOSTILITY_LABELS, HostilityVerdict
from responder.core.scoring.encoder import SentenceEncoder, get_encoder
from responder.core.scoring.errors import ModelUnavailable
from responder.core.scoring.features import (
    EMB_DIM,
    HASH_DIM,
    LEX_NAMES,
    SentenceFeatures,
    sentence_features,
)
from responder.core.scoring.lexicon import Hit, Lexicon, load_lexicon
from responder.core.scoring.text import guess_language, split_sentences

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"
HEAD_NPZ = "hostility_head.npz"
HEAD_JSON = "hostility_head.json"
EVIDENCE_MAX = 3
# Labels and evidence explain a score; they do not decide a hold (the cooling
# policy does, with scoring.hold_threshold). A sentence or message is described as
# abusive at the model's own boundary, probability 0.5, and a sentence is evidence
# from half of that.
LABEL_SCORE = 0.5
EVIDENCE_SCORE = 0.5 * LABEL_SCORE
# the label reported when the head holds a message but no word list names why
FALLBACK_LABEL = "contempt"

Floats = npt.NDArray[np.float32]


def message_features(z: Floats) -> Floats:
    """Message-level inputs from the logits of its sentences."""
    if z.size == 0:
        return np.asarray([-10.0, 0.0, 0.0], np.float32)
    top = float(z.max())
    lse = top + math.log(float(np.exp(z - top).sum()))
    return np.asarray([top, lse - top, math.log1p(z.size)], np.float32)


MESSAGE_FEATURES = ("top_sentence_logit", "logsumexp_minus_top", "log1p_sentences")


def read_head_files(folder: Path, npz_name: str, json_name: str, train_command: str,
                    ) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """A trained head's metadata (JSON) and weights (npz, never pickle), or
    ModelUnavailable saying how to train it. Shared by every head format."""
    npz, meta_path = folder / npz_name, folder / json_name
    if not npz.is_file() or not meta_path.is_file():
        raise ModelUnavailable(
            f"The builtin hostility head is missing ({npz}). Train it with: {train_command}")
    meta: dict[str, Any] = json.loads(meta_path.read_text(encoding="utf-8"))
    with np.load(npz, allow_pickle=False) as z:
        arrays = {name: z[name] for name in z.files}
    return meta, arrays


@dataclass
class Head:
    """The trained weights: sentence layer and message layer."""

    w_hash: Floats            # HASH_DIM
    w_emb: Floats             # 2 * EMB_DIM: [English sentences | other languages]
    w_lex: Floats             # LEX_DIM
    bias: float
    msg_w: Floats             # len(MESSAGE_FEATURES)
    msg_b: float
    meta: dict[str, Any]      # the JSON beside the weights: how the head was trained

    @classmethod
    def load(cls, folder: str | Path | None = None) -> Head:
        folder = Path(folder) if folder else DATA_DIR
        meta, arrays = read_head_files(folder, HEAD_NPZ, HEAD_JSON,
                                       "python scripts/train_hostility.py")
        head = cls(w_hash=arrays["w_hash"].astype(np.float32),
                   w_emb=arrays["w_emb"].astype(np.float32),
                   w_lex=arrays["w_lex"].astype(np.float32),
                   bias=float(arrays["bias"]),
                   msg_w=arrays["msg_w"].astype(np.float32),
                   msg_b=float(arrays["msg_b"]), meta=meta)
        if (head.w_hash.shape != (HASH_DIM,) or head.w_emb.shape != (2 * EMB_DIM,)
                or list(meta.get("lex_names", [])) != list(LEX_NAMES)):
            raise ModelUnavailable(
                f"The builtin hostility head in {folder} does not match this version's "
                "features. Train it again: python scripts/train_hostility.py")
        return head

    def save(self, folder: str | Path | None = None) -> None:
        folder = Path(folder) if folder else DATA_DIR
        folder.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(folder / HEAD_NPZ, w_hash=self.w_hash.astype(np.float32),
                            w_emb=self.w_emb.astype(np.float32),
                            w_lex=self.w_lex.astype(np.float32),
                            bias=np.float64(self.bias), msg_w=self.msg_w.astype(np.float32),
                            msg_b=np.float64(self.msg_b))
        meta = dict(self.meta, lex_names=list(LEX_NAMES),
                    message_features=list(MESSAGE_FEATURES))
        (folder / HEAD_JSON).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n",
                                        encoding="utf-8")

    def sentence_logits(self, feats: list[SentenceFeatures], emb: Floats,
                        english: npt.NDArray[np.bool_]) -> Floats:
        z = np.full(len(feats), self.bias, np.float32)
        if not feats:
            return z
        w_emb = np.where(english[:, None], self.w_emb[None, :EMB_DIM], self.w_emb[None, EMB_DIM:])
        z += (emb * w_emb).sum(axis=1)
        lex = np.stack([f.lex for f in feats])
        z += lex @ self.w_lex
        for i, f in enumerate(feats):
            if f.hash_idx.size:
                z[i] += float(self.w_hash[f.hash_idx] @ f.hash_val)
        return z

    def message_logit(self, z: Floats) -> float:
        return float(message_features(z) @ self.msg_w + self.msg_b)


def _sigmoid(x: Floats | float) -> npt.NDArray[np.floating[Any]]:
    """The logistic function; for a plain number, an array of no dimensions."""
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(x, -40, 40))))


def resolve_languages(texts: Sequence[str], languages: Sequence[str | None] | None) -> list[str]:
    """The caller's language per text when supported, else a cheap guess."""
    out: list[str] = []
    for i, text in enumerate(texts):
        lang = languages[i] if languages is not None and i < len(languages) else None
        lang = (lang or "").lower().split("-")[0].split("_")[0]
        out.append(lang if lang in LANGUAGES else guess_language(text))
    return out


def labels_from_hits(hits_per_sentence: list[list[Hit]], hostile: bool,
                     sentence_scores: Sequence[float] | npt.NDArray[np.floating[Any]] | None = None,
                     floor: float = 0.0, extra: Sequence[str] = ()) -> list[str]:
    """HOSTILITY_LABELS named by the word lists.

    reputation_threat and threat are always reported (they raise priority);
    insult, profanity and contempt only from sentences that scored at least
    ``floor`` or when the message is held; mild swearing counts as profanity
    only in a held message. ``extra`` labels (e.g. a model's own) are added.
    A held message that nothing explains is contempt.
    """
    found: set[str] = set(extra)
    for k, hits in enumerate(hits_per_sentence):
        strong = hostile or sentence_scores is None or sentence_scores[k] >= floor
        for h in hits:
            if h.category in ("reputation_threat", "threat"):
                found.add(h.category)
            elif h.category in ("insult", "profanity", "contempt") and strong:
                found.add(h.category)
            elif h.category in ("mild", "listed") and hostile:
                found.add("profanity")
    if hostile and not found & {"insult", "profanity", "threat", "contempt"}:
        found.add(FALLBACK_LABEL)
    return [label for label in HOSTILITY_LABELS if label in found]


class BuiltinScorer:
    """Offline default: needs numpy, torch, transformers and the packaged MiniLM."""

    name = "builtin"

    def __init__(self, batch_size: int = 32,
                 device: str = "cpu", head_dir: str | Path | None = None,
                 encoder: SentenceEncoder | None = None, encoder_dir: str | Path | None = None):
        self.batch_size = max(1, int(batch_size))
        self.head = Head.load(head_dir)
        self.encoder = encoder or get_encoder(encoder_dir, device=device)
        self._lexicons: dict[str, Lexicon] = {}

    def lexicon(self, lang: str) -> Lexicon:
        lex = self._lexicons.get(lang)
        if lex is None:
            lex = self._lexicons[lang] = load_lexicon(lang)
        return lex

    # -- scoring ----------------------------------------------------------
    def sentence_scores(self, texts: Sequence[str], languages: Sequence[str | None] | None = None
                        ) -> list[tuple[list[str], Floats, list[SentenceFeatures]]]:
        """Per text: (sentences, logits, features). The building block of score()."""
        langs = resolve_languages(texts, languages)
        per_text = [split_sentences(t or "") for t in texts]
        flat: list[str] = []
        owner: list[int] = []
        for i, sents in enumerate(per_text):
            flat.extend(sents)
            owner.extend([i] * len(sents))
        feats = [sentence_features(s, langs[owner[k]], self.lexicon(langs[owner[k]]))
                 for k, s in enumerate(flat)]
        emb = self.encoder.encode(flat, batch_size=self.batch_size)
        english = np.asarray([langs[i] == "en" for i in owner], bool)
        z = self.head.sentence_logits(feats, emb, english)
        out: list[tuple[list[str], Floats, list[SentenceFeatures]]] = []
        k = 0
        for sents in per_text:
            n = len(sents)
            out.append((sents, z[k:k + n], feats[k:k + n]))
            k += n
        return out

    def score(self, texts: Sequence[str], languages: Sequence[str | None] | None = None
              ) -> list[HostilityVerdict]:
        texts = list(texts)
        verdicts: list[HostilityVerdict] = []
        for sents, z, feats in self.sentence_scores(texts, languages):
            verdicts.append(self._verdict(sents, z, feats))
        return verdicts

    def _verdict(self, sents: list[str], z: Floats, feats: list[SentenceFeatures]
                 ) -> HostilityVerdict:
        if not sents:
            return HostilityVerdict(score=0.0)
        score = float(_sigmoid(self.head.message_logit(z)))
        hostile = score >= LABEL_SCORE
        sent_scores = _sigmoid(z)
        order = np.argsort(-z, kind="stable")
        floor = EVIDENCE_SCORE
        evidence = [sents[i] for i in order[:EVIDENCE_MAX] if sent_scores[i] >= floor]
        if hostile and not evidence:
            evidence = [sents[int(order[0])]]
        labels = labels_from_hits([f.hits for f in feats], hostile, sent_scores, floor)
        return HostilityVerdict(score=score, labels=labels, evidence=evidence)
