"""Labelled hostility data for training and honest evaluation, with fixed splits.

Two kinds of origin:

* ``written`` - the project's own corpus (``data/corpus``): its ``train`` split
  trains, its ``dev`` split is only ever a test set.
* public sets under a datasets folder (``MANIFEST.md`` there gives licences and
  provenance). Each source has a role and a deterministic split:

  ==========================  ======  ==========  ==============================
  folder                      langs   origin      use
  ==========================  ======  ==========  ==============================
  davidson-hate-offensive-en  en      real        train / tune / test by hash
  ru-distorted-toxicity-vk    ru      real        train / tune / test by hash
  rtp-lx-prompts              6       translated  train / tune / test by item
                                                  index (one item's translations
                                                  stay in one split)
  hatecheck-en                en      functional  test only (never trained on)
  multilingual-hatecheck      de es fr functional test only (never trained on)
  ==========================  ======  ==========  ==============================

  The split of an item is a hash of a stable key (text, or RTP-LX index), so it
  never changes between runs or machines: 60 % train, 15 % tune, 25 % test.
  ``tune`` is for choosing settings (regularisation, calibration); ``test`` is
  only reported.

Sets reserved for independent evaluation (ParaDetox, RUSSE 2022 detox,
multilingual ParaDetox, MLMA) are refused by name even if someone copies them
into the folder. Intent sets and the word list are not hostility items.

Labels: HateCheck and MHC use ``abusive_to_people`` (their ``label`` marks
group hate only); RTP-LX ``toxic`` is abuse, ``non_toxic`` is not, ``mild`` is
left out (the raters did not agree it is either); Davidson ``offensive`` and
``hate_speech`` are abuse, ``neither`` is not.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from responder import resources

SPLITS = ("train", "tune", "test")
TRAIN, TUNE, TEST = SPLITS

# kinds of item (the per-kind rows of the report)
ABUSE = "abuse"
COMPLAINT = "civil complaint"
NEUTRAL = "neutral"

# origins (the per-source rows of the report)
WRITTEN = "written here"
REAL = "public real"
TRANSLATED = "public translated"
FUNCTIONAL = "functional tests"

# Never read, whatever a folder is called: kept apart for independent evaluation.
RESERVED = ("paradetox", "russe", "detox", "mlma")

DATASETS_ENV = "RESPONDER_DATASETS"


@dataclass(frozen=True)
class Item:
    text: str
    lang: str
    y: int                 # 1 = abusive (should be held)
    kind: str              # ABUSE / COMPLAINT / NEUTRAL
    source: str            # folder name, or "corpus"
    origin: str            # WRITTEN / REAL / TRANSLATED / FUNCTIONAL
    split: str             # train / tune / test
    group: str             # items of one group never straddle splits


@dataclass(frozen=True)
class Source:
    folder: str
    origin: str
    trainable: bool        # False: functional test suite, test split only


SOURCES: tuple[Source, ...] = (
    Source("davidson-hate-offensive-en", REAL, True),
    Source("ru-distorted-toxicity-vk", REAL, True),
    Source("rtp-lx-prompts", TRANSLATED, True),
    Source("hatecheck-en", FUNCTIONAL, False),
    Source("multilingual-hatecheck", FUNCTIONAL, False),
)


def default_datasets_dir() -> Path | None:
    """``$RESPONDER_DATASETS``, else ``../shared/datasets`` beside the checkout, if present."""
    env = os.environ.get(DATASETS_ENV)
    if env:
        return Path(env).expanduser()
    if resources.is_installed_copy():
        return None
    guess = resources.CHECKOUT.parent / "shared" / "datasets"
    return guess if guess.is_dir() else None


def split_of(key: str, tune: float = 0.15, test: float = 0.25) -> str:
    """A fixed split from a stable key (sha1, so not Python's salted hash)."""
    h = int.from_bytes(hashlib.sha1(key.encode("utf-8")).digest()[:8], "big") / 2.0 ** 64
    if h < test:
        return TEST
    if h < test + tune:
        return TUNE
    return TRAIN


_RT = re.compile(r"^(?:\W*RT\s+@\w+:?\s*)+")
_MENTION = re.compile(r"@\w+")
_URL = re.compile(r"https?://\S+")
_ENTITY = re.compile(r"&#\d+;")


def clean_tweet(text: str) -> str:
    """Davidson tweets without retweet prefixes, user names, links and numeric entities."""
    text = _RT.sub("", text)
    text = _URL.sub("", _ENTITY.sub(" ", text))
    text = _MENTION.sub("@USER", text)
    return " ".join(text.split())


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def _check_not_reserved(folder: Path) -> None:
    name = folder.name.lower()
    if any(word in name for word in RESERVED):
        raise ValueError(f"{folder} is reserved for independent evaluation and is never read")


def _items_of(src: Source, folder: Path) -> Iterator[Item]:
    path = folder / src.folder / "data.jsonl"
    _check_not_reserved(folder / src.folder)
    for rec in _read_jsonl(path):
        text, lang = str(rec.get("text") or ""), str(rec.get("lang") or "")
        if src.folder == "davidson-hate-offensive-en":
            text = clean_tweet(text)
            y = 0 if rec["label"] == "neither" else 1
            group = "dav:" + text
        elif src.folder == "ru-distorted-toxicity-vk":
            y = 1 if rec["label"] == "toxic" else 0
            group = "vk:" + text
        elif src.folder == "rtp-lx-prompts":
            if rec["label"] == "mild":
                continue
            y = 1 if rec["label"] == "toxic" else 0
            group = "rtp:" + str(rec["rtp_lx_index"])
        else:   # HateCheck, MHC: abusive_to_people, never `label`
            y = 1 if rec["abusive_to_people"] else 0
            group = "hc:" + lang + ":" + str(rec.get("case_id"))
        if len(text.strip()) < 2:
            continue
        split = split_of(group) if src.trainable else TEST
        yield Item(text=text, lang=lang, y=y, kind=ABUSE if y else NEUTRAL,
                   source=src.folder, origin=src.origin, split=split, group=group)


def public_items(folder: str | Path | None = None,
                 origins: Iterable[str] | None = None) -> list[Item]:
    """Every hostility item of the public sets in ``folder`` (missing sets are skipped)."""
    base = Path(folder) if folder else default_datasets_dir()
    if base is None or not base.is_dir():
        return []
    wanted = set(origins) if origins else None
    out: list[Item] = []
    for src in SOURCES:
        if wanted is not None and src.origin not in wanted:
            continue
        if (base / src.folder / "data.jsonl").is_file():
            out.extend(_items_of(src, base))
    return out


_KIND = {"hostile": ABUSE, "complaint": COMPLAINT, "neutral": NEUTRAL}


def corpus_items(records: Iterable[Mapping[str, Any]], texts: Iterable[str]) -> list[Item]:
    """Items of the written-here corpus; ``texts`` are the customer's own words per record.

    Its ``train`` split trains; ``dev`` is a test set (the word lists and the
    features were written while reading train mail only)."""
    out = []
    for rec, text in zip(records, texts):
        split = TRAIN if rec.get("split") == "train" else TEST
        rid, lang = str(rec.get("id", "")), str(rec.get("lang", ""))
        scenario = rid[len(lang) + 1:] if lang and rid.startswith(lang + "-") else rid
        hostility = str(rec.get("hostility"))
        out.append(Item(text=text, lang=lang, y=1 if hostility == "hostile" else 0,
                        kind=_KIND.get(hostility, NEUTRAL), source="corpus", origin=WRITTEN,
                        split=split, group="corpus:" + scenario))
    return out


TEST_CAP = 500


def eval_items(folder: str | Path | None = None, items: list[Item] | None = None,
               cap: int = TEST_CAP) -> list[Item]:
    """The public TEST split, at most ``cap`` items per (source, language, label).

    The same fixed subset every time (chosen by a hash of the item), so that
    ``responder eval`` stays a few minutes long and figures compare across runs.
    """
    pool = items if items is not None else public_items(folder)
    cells: dict[tuple[str, str, int], list[Item]] = {}
    for it in pool:
        if it.split == TEST:
            cells.setdefault((it.source, it.lang, it.y), []).append(it)
    out: list[Item] = []
    for key in sorted(cells):
        cell = sorted(cells[key], key=lambda it: hashlib.sha1(
            (it.group + "\x00" + it.text).encode("utf-8")).hexdigest())
        out.extend(cell[:cap])
    return out
