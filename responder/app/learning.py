"""``responder train``: refit the offline heads on the reps' labels, check, switch.

For each kind (hostility, intent):

1. the reps' labels (the last word per message, ``store.labels``) are split by a fixed
   hash of the customer's words (``core.learning.is_held_out``): the held-out part is
   never fitted on;
2. a candidate is fitted on the rest, starting from the SHIPPED head with a prior
   toward it (``core.scoring.refit``, ``core.intent.refit``): each version is "shipped
   plus all the shop's labels so far", never a correction of a correction;
3. the candidate and the version in use now are scored on the held-out labels and on
   the shipped written-here dev split (a guard against forgetting general abuse);
4. the candidate is written as a new ``vNNNN`` folder either way (kept for a look),
   and ``CURRENT`` moves to it only when it is not worse: on the held-out labels no
   figure lower (hostility: AUC and balanced accuracy at the hold threshold; intent:
   accuracy), and on the dev split no more than ``DEV_TOLERANCE`` lower. ``force``
   switches anyway (still needing labels to fit on).

A running ``responder run`` keeps the models it loaded; restart it to use a new version.
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from responder.config import Config
from responder.core import learning
from responder.store import labels as labels_store
from responder.store.repository import Repository
from responder.store.tables import LabelRow

if TYPE_CHECKING:
    from responder.core.scoring.mlhead import MultilingualScorer
    from responder.core.scoring.refit import Batch

log = logging.getLogger(__name__)

DEV_TOLERANCE = 0.02      # how much lower a dev-split figure may be after a refit
MIN_HELD_OUT = 2          # held-out labels needed to judge a candidate at all


@dataclass
class KindReport:
    """What ``train`` did for one kind of model."""

    kind: str
    labels: int = 0
    fit: int = 0
    held_out: int = 0
    current: str = learning.SHIPPED           # the version in use before
    candidate: str | None = None              # the version written (None: none made)
    switched: bool = False
    reason: str = ""
    before: dict[str, Any] = field(default_factory=dict)   # held-out figures, version in use
    after: dict[str, Any] = field(default_factory=dict)    # held-out figures, candidate
    dev_before: dict[str, Any] = field(default_factory=dict)
    dev_after: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


Progress = Callable[[str], None]


def _say(progress: Progress | None, text: str) -> None:
    if progress is not None:
        progress(text)
    log.info("%s", text)


def train(repo: Repository, cfg: Config, *, now: datetime | None = None, force: bool = False,
          dry_run: bool = False, kinds: Sequence[str] = learning.KINDS,
          progress: Progress | None = None) -> list[KindReport]:
    """Refit, check and (when not worse) switch each kind in ``kinds``."""
    now = now or datetime.now(UTC)
    root = cfg.learning.models_path(cfg.database_url)
    out = []
    for kind in kinds:
        if kind == "hostility":
            out.append(_train_hostility(repo, cfg, root, now, force, dry_run, progress))
        elif kind == "intent":
            out.append(_train_intent(repo, cfg, root, now, force, dry_run, progress))
        else:
            raise learning.VersionError(f"unknown model kind {kind!r}")
    return out


def _split(rows: Sequence[LabelRow], percent: int) -> tuple[list[LabelRow], list[LabelRow]]:
    fit: list[LabelRow] = []
    held: list[LabelRow] = []
    for row in rows:
        (held if learning.is_held_out(row.text, percent) else fit).append(row)
    return fit, held


def _too_few(report: KindReport, cfg: Config, fit_classes: int, need_classes: int,
             held_classes: int) -> str | None:
    need = cfg.learning.min_labels
    if report.fit < need:
        return (f"too few labels to fit on ({report.fit}; [learning] min_labels = {need})")
    if fit_classes < need_classes:
        return "no labels to fit on"
    if report.held_out < MIN_HELD_OUT or held_classes < 1:
        return (f"too few held-out labels to check a new version ({report.held_out}; "
                f"{MIN_HELD_OUT} needed)")
    return None


def _decide(report: KindReport, keys: Sequence[str], force: bool) -> None:
    """Switch or not, with the reason."""
    better_held = learning.not_worse(report.before, report.after, keys)
    worse_dev = [k for k in keys if report.dev_before.get(k) is not None
                 and report.dev_after.get(k) is not None
                 and report.dev_after[k] < report.dev_before[k] - DEV_TOLERANCE]
    if better_held and not worse_dev:
        report.switched = True
        report.reason = "not worse on the held-out labels, and the dev split holds"
    elif force:
        report.switched = True
        report.reason = "switched by --force although " + (
            "it is worse on the held-out labels" if not better_held else
            f"the dev split dropped ({', '.join(worse_dev)})")
    else:
        report.reason = ("worse on the held-out labels" if not better_held else
                         f"worse on the shipped dev split ({', '.join(worse_dev)} more than "
                         f"{DEV_TOLERANCE} lower)")


def _write_version(root: Path, kind: str, report: KindReport, now: datetime,
                   save: Callable[[Path, str], None], dry_run: bool) -> None:
    if dry_run:
        report.candidate = "(dry run: not written)"
        report.switched = False
        report.reason += "; dry run: nothing written"
        return
    name = learning.next_version(root, kind)
    folder = learning.kind_dir(root, kind) / name
    tmp = folder.with_name(f".{name}.partial")
    save(tmp, name)
    report.candidate = name
    info = report.as_dict()
    info.update(version=name, made_at=now.isoformat(), trainer="responder train",
                started_from=f"{learning.SHIPPED} head, prior toward it")
    learning.write_version_info(tmp, info)
    tmp.rename(folder)
    if report.switched:
        learning.set_current(root, kind, name)


def _start(repo: Repository, cfg: Config, root: Path, kind: str
           ) -> tuple[KindReport, list[LabelRow], list[LabelRow], Path | None]:
    """What both refits begin with: the kind's latest labels split into the part to fit
    on and the held-out part, and the version in use (its folder; None = shipped)."""
    report = KindReport(kind)
    rows = labels_store.latest_labels(repo, kind)
    report.labels = len(rows)
    fit_rows, held_rows = _split(rows, cfg.learning.holdout_percent)
    report.fit, report.held_out = len(fit_rows), len(held_rows)
    report.current = learning.current(root, kind) or learning.SHIPPED
    return report, fit_rows, held_rows, learning.current_dir(root, kind)


# ---- hostility ---------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _dev_split() -> tuple[list[dict[str, Any]], list[str], list[str | None]]:
    """The shipped written-here dev split: records, own words, languages (parsed once
    per process: both kinds use it)."""
    from responder.core import corpus
    from responder.core.scoring.evaluate import prepare
    records = corpus.load(None, split="dev")
    texts, langs = prepare(records)
    return records, texts, langs


@functools.lru_cache(maxsize=1)
def _shipped_scorer() -> MultilingualScorer:
    """The shipped hostility scorer (the starting point of every refit), loaded once."""
    from responder.core.scoring.mlhead import MultilingualScorer
    return MultilingualScorer()


@functools.lru_cache(maxsize=1)
def _dev_batch() -> tuple[np.ndarray, Batch]:
    """The dev split's labels and sentence features (the encoder's work done once)."""
    from responder.core.scoring import refit
    records, texts, langs = _dev_split()
    dev = refit.build_batch(_shipped_scorer(), texts, langs)
    return np.asarray([int(records[i]["hostility"] == "hostile") for i in dev.kept]), dev


def _train_hostility(repo: Repository, cfg: Config, root: Path, now: datetime, force: bool,
                     dry_run: bool, progress: Progress | None) -> KindReport:
    from responder.core.scoring import refit
    from responder.core.scoring.mlhead import MultilingualScorer

    report, fit_rows, held_rows, current_dir = _start(repo, cfg, root, "hostility")
    y_fit = [int(r.value == labels_store.HOSTILE) for r in fit_rows]
    y_held = [int(r.value == labels_store.HOSTILE) for r in held_rows]
    problem = _too_few(report, cfg, len(set(y_fit)), 1, len(set(y_held)))
    if problem:
        report.reason = problem
        return report
    if cfg.scoring.backend != "builtin" or cfg.scoring.model:
        report.reason = ("the hostility scorer is not the builtin default ([scoring] backend "
                         "/ model): nothing to refit")
        return report
    threshold = cfg.scoring.hold_threshold
    shipped = _shipped_scorer()
    in_use = MultilingualScorer(head_dir=current_dir, encoders=shipped.encoders) \
        if current_dir else shipped
    _say(progress, f"hostility: {len(fit_rows)} labels to fit on, {len(held_rows)} held out")
    fit_batch = refit.build_batch(shipped, [r.text for r in fit_rows],
                                  [r.language for r in fit_rows])
    held_batch = refit.build_batch(shipped, [r.text for r in held_rows],
                                   [r.language for r in held_rows])
    head = refit.refit(shipped.head, fit_batch, [y_fit[i] for i in fit_batch.kept],
                       prior=cfg.learning.prior_strength)
    y_h = np.asarray([y_held[i] for i in held_batch.kept])
    report.before = learning.hostility_figures(
        y_h, refit.message_scores(in_use.head, held_batch), threshold)
    report.after = learning.hostility_figures(
        y_h, refit.message_scores(head, held_batch), threshold)
    _say(progress, "hostility: checking on the shipped dev split")
    y_dev, dev = _dev_batch()
    report.dev_before = learning.hostility_figures(
        y_dev, refit.message_scores(in_use.head, dev), threshold)
    report.dev_after = learning.hostility_figures(
        y_dev, refit.message_scores(head, dev), threshold)
    _decide(report, ("auc", "balanced_accuracy"), force)

    def save(folder: Path, name: str) -> None:
        head.meta = dict(shipped.head.meta, version=name, trained=now.isoformat(),
                         trainer="responder train", shop_labels=len(fit_batch.kept),
                         prior_strength=cfg.learning.prior_strength,
                         base=learning.version_name(shipped.head.meta))
        head.save(folder)
    _write_version(root, "hostility", report, now, save, dry_run)
    return report


# ---- intent ---------------------------------------------------------------------------

SHOP_WEIGHT = 1.0         # one shop label counts as much as one shipped training mail


@functools.lru_cache(maxsize=1)
def _train_split() -> tuple[list[dict[str, Any]], list[str]]:
    """The shipped written-here train split (the intent head's training mail), parsed."""
    from responder.core import corpus
    from responder.core.scoring.evaluate import prepare
    records = corpus.load(None, split="train")
    texts, _ = prepare(records)
    return records, texts

def _intent_text(subject: str | None, text: str) -> str:
    """The classifier's input, as the pipeline builds it (subject line, own words)."""
    return f"{subject or ''}\n{text}"


def _train_intent(repo: Repository, cfg: Config, root: Path, now: datetime, force: bool,
                  dry_run: bool, progress: Progress | None) -> KindReport:
    from responder.core.intent import refit
    from responder.core.intent.builtin import BuiltinClassifier

    report, fit_rows, held_rows, current_dir = _start(repo, cfg, root, "intent")
    problem = _too_few(report, cfg, len({r.value for r in fit_rows}), 1,
                       len({r.value for r in held_rows}))
    if problem:
        report.reason = problem
        return report
    if cfg.intent.backend != "builtin" or cfg.intent.model:
        report.reason = ("the intent classifier is not the builtin default ([intent] backend "
                         "/ model): nothing to refit")
        return report
    min_conf = cfg.intent.min_confidence
    shipped = BuiltinClassifier.load(None, min_confidence=min_conf)
    in_use = BuiltinClassifier.load(current_dir, min_confidence=min_conf) \
        if current_dir else shipped
    known = set(shipped.head.classes)
    fit_rows = [r for r in fit_rows if r.value in known]
    _say(progress, f"intent: {len(fit_rows)} labels to fit on, {len(held_rows)} held out")
    from scipy import sparse

    # the shop's labels and the shipped training mail together (see core/intent/refit.py)
    train_records, train_texts = _train_split()
    X_fit = sparse.vstack([
        refit.features(shipped, [_intent_text(r.subject, r.text) for r in fit_rows]),
        refit.features(shipped, [_intent_text(r.get("subject"), t)
                                 for r, t in zip(train_records, train_texts)])]).tocsr()
    head = refit.refit(shipped.head, X_fit,
                       [r.value for r in fit_rows] + [str(r["intent"]) for r in train_records],
                       prior=cfg.learning.prior_strength,
                       weights=[SHOP_WEIGHT] * len(fit_rows) + [1.0] * len(train_records))
    X_held = refit.features(shipped, [_intent_text(r.subject, r.text) for r in held_rows])
    want = [r.value for r in held_rows]
    report.before = _accuracy(want, refit.predict(in_use.head, X_held, min_conf))
    report.after = _accuracy(want, refit.predict(head, X_held, min_conf))
    _say(progress, "intent: checking on the shipped dev split")
    records, texts, _ = _dev_split()
    X_dev = refit.features(shipped, [_intent_text(r.get("subject"), t)
                                     for r, t in zip(records, texts)])
    dev_want = [str(r["intent"]) for r in records]
    report.dev_before = _accuracy(dev_want, refit.predict(in_use.head, X_dev, min_conf))
    report.dev_after = _accuracy(dev_want, refit.predict(head, X_dev, min_conf))
    _decide(report, ("accuracy",), force)

    def save(folder: Path, name: str) -> None:
        params = {k: v for k, v in shipped.meta.items()
                  if k not in ("classes", "temperature", "blocks", "block_cfg", "n_features")}
        params.update(version=name, trained=now.isoformat(), trainer="responder train",
                      shop_labels=len(fit_rows), prior_strength=cfg.learning.prior_strength,
                      base=learning.version_name(shipped.meta))
        head.save(folder, params)
    _write_version(root, "intent", report, now, save, dry_run)
    return report


def _accuracy(want: Sequence[str], got: Sequence[str]) -> dict[str, Any]:
    right = sum(a == b for a, b in zip(want, got))
    return {"n": len(want), "accuracy": right / len(want) if want else None}


# ---- reading the reports ---------------------------------------------------------------

def _fmt(value: Any, pct: bool = False) -> str:
    if value is None:
        return "-"
    if pct:
        return f"{100 * float(value):.1f}%"
    return f"{float(value):.3f}" if isinstance(value, float) else str(value)


_ROWS = {"hostility": (("AUC", "auc", False), ("abusive held", "abuse_held", True),
                       ("others held", "civil_held", True),
                       ("balanced accuracy", "balanced_accuracy", True)),
         "intent": (("accuracy", "accuracy", True),)}


def describe(reports: Sequence[KindReport], root: Path) -> str:
    """The reports as the CLI prints them."""
    lines = []
    for r in reports:
        lines.append(f"{r.kind}: {r.labels} labelled message(s): {r.fit} to fit on, "
                     f"{r.held_out} held out; in use: {r.current}")
        if r.before:
            lines.append(f"  {'held-out labels':<22}{'in use':>10}{'new':>10}"
                         f"   (n={r.before.get('n')})")
            for title, key, pct in _ROWS[r.kind]:
                lines.append(f"  {title:<22}{_fmt(r.before.get(key), pct):>10}"
                             f"{_fmt(r.after.get(key), pct):>10}")
        if r.dev_before:
            lines.append(f"  {'shipped dev split':<22}{'in use':>10}{'new':>10}"
                         f"   (n={r.dev_before.get('n')})")
            for title, key, pct in _ROWS[r.kind]:
                lines.append(f"  {title:<22}{_fmt(r.dev_before.get(key), pct):>10}"
                             f"{_fmt(r.dev_after.get(key), pct):>10}")
        if r.switched and r.candidate:
            lines.append(f"  SWITCHED to {r.candidate} ({r.reason}); previous: {r.current}. "
                         f"Roll back: responder model use {r.kind} {r.current}")
        elif r.candidate:
            lines.append(f"  NOT SWITCHED: {r.reason}; {r.current} stays in use"
                         + (f" ({r.candidate} kept in {learning.kind_dir(root, r.kind)})"
                            if r.candidate.startswith("v") else ""))
        else:
            lines.append(f"  NOT SWITCHED: {r.reason}; no new version made")
    lines.append(f"models folder: {root} (restart `responder run` to use a new version)")
    return "\n".join(lines)


def list_versions(cfg: Config) -> list[tuple[str, str, bool, dict[str, Any]]]:
    """(kind, version, in use, its version.json) for every version, shipped first."""
    root = cfg.learning.models_path(cfg.database_url)
    out: list[tuple[str, str, bool, dict[str, Any]]] = []
    for kind in learning.KINDS:
        now = learning.current(root, kind)
        out.append((kind, learning.SHIPPED, now is None, {}))
        for name in learning.versions(root, kind):
            info = learning.read_version_info(learning.kind_dir(root, kind) / name)
            out.append((kind, name, name == now, info))
    return out


def use_version(cfg: Config, kind: str, version: str) -> Path:
    """Make ``version`` (or ``shipped``) the one in use for ``kind``; returns the folder."""
    root = cfg.learning.models_path(cfg.database_url)
    learning.set_current(root, kind, version)
    return root
