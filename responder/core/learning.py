"""Learning from the reps: where the shop's own model versions live, which labels are
kept apart for checking, and the figures that decide a switch. Files only; no store.

Layout of the models folder (``[learning] models_dir``)::

    <models_dir>/hostility/v0001/      hostility_ml_head.npz + .json, version.json
    <models_dir>/hostility/v0002/
    <models_dir>/hostility/CURRENT     "v0002" (or "shipped"): the version in use
    <models_dir>/intent/v0001/         intent_head.npz + .json, version.json
    <models_dir>/intent/CURRENT

``responder train`` writes a new ``vNNNN`` folder and moves ``CURRENT`` only when the
new version is not worse; every earlier folder stays, so rolling back is writing an
older name (or ``shipped``) into ``CURRENT`` (``responder model use``).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

KINDS = ("hostility", "intent")
SHIPPED = "shipped"
POINTER = "CURRENT"
VERSION_FILE = "version.json"
_VERSION = re.compile(r"v\d{4}")


class VersionError(Exception):
    """The models folder does not hold what was asked for; the message says what to do."""


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise VersionError(f"unknown model kind {kind!r} (one of {', '.join(KINDS)})")


def kind_dir(root: Path, kind: str) -> Path:
    _check_kind(kind)
    return root / kind


def versions(root: Path, kind: str) -> list[str]:
    """The shop's versions of ``kind`` present in ``root``, oldest first."""
    folder = kind_dir(root, kind)
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and _VERSION.fullmatch(p.name))


def current(root: Path | None, kind: str) -> str | None:
    """The shop version in use (``vNNNN``), or None for the shipped one.

    Raises VersionError when ``CURRENT`` names a version that is not there."""
    if root is None:
        return None
    pointer = kind_dir(root, kind) / POINTER
    if not pointer.is_file():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    if name in ("", SHIPPED):
        return None
    if not _VERSION.fullmatch(name) or not (kind_dir(root, kind) / name).is_dir():
        raise VersionError(
            f"{pointer} names {name!r}, which is not a version folder there. Choose one "
            f"with: responder model use {kind} shipped|vNNNN (see responder model versions)")
    return name


def current_dir(root: Path | None, kind: str) -> Path | None:
    """The folder of the shop version in use, or None for the shipped one."""
    name = current(root, kind)
    return kind_dir(root, kind) / name if root is not None and name else None


def next_version(root: Path, kind: str) -> str:
    have = versions(root, kind)
    return f"v{(int(have[-1][1:]) + 1) if have else 1:04d}"


def set_current(root: Path, kind: str, version: str) -> None:
    """Point ``CURRENT`` at ``version`` (``vNNNN`` present in the folder, or ``shipped``).
    Written to a temporary file and renamed, so a reader never sees half a name."""
    folder = kind_dir(root, kind)
    if version != SHIPPED and (not _VERSION.fullmatch(version)
                               or not (folder / version).is_dir()):
        have = ", ".join(versions(root, kind)) or "none"
        raise VersionError(f"no {kind} version {version!r} in {folder} (there: {have}; "
                           f"or {SHIPPED})")
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{POINTER}.{os.getpid()}"
    tmp.write_text(version + "\n", encoding="utf-8")
    os.replace(tmp, folder / POINTER)


def read_version_info(folder: Path) -> dict[str, Any]:
    path = folder / VERSION_FILE
    if not path.is_file():
        return {}
    info: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return info


def write_version_info(folder: Path, info: dict[str, Any]) -> None:
    (folder / VERSION_FILE).write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n",
                                       encoding="utf-8")


# ---- the split ------------------------------------------------------------------------

def is_held_out(text: str, percent: int) -> bool:
    """Is a label on ``text`` kept apart for checking? A fixed hash of the customer's
    words (whitespace and case folded), so the same words always land on the same side
    (a copy of a message cannot be fitted on and checked on) and every run agrees."""
    key = " ".join(text.split()).casefold()
    bucket = int(hashlib.sha256(b"responder-label-split:" + key.encode("utf-8"))
                 .hexdigest()[:8], 16) % 100
    return bucket < percent


# ---- figures ------------------------------------------------------------------------

def auc(y: Sequence[int] | np.ndarray, score: Sequence[float] | np.ndarray) -> float | None:
    """Area under the ROC curve (ties count half); None without both classes."""
    yy = np.asarray(y, dtype=np.int64)
    s = np.asarray(score, dtype=np.float64)
    pos, neg = s[yy == 1], s[yy == 0]
    if not pos.size or not neg.size:
        return None
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (pos.size * neg.size))


def hostility_figures(y: Sequence[int] | np.ndarray, score: Sequence[float] | np.ndarray,
                      threshold: float) -> dict[str, float | int | None]:
    """AUC, share of abusive messages held, share of the others held, and the balanced
    accuracy of holding at ``threshold`` (mean of abuse held and others let through)."""
    yy = np.asarray(y, dtype=np.int64)
    held = np.asarray(score, dtype=np.float64) >= threshold
    abuse_held = float(held[yy == 1].mean()) if (yy == 1).any() else None
    civil_held = float(held[yy == 0].mean()) if (yy == 0).any() else None
    parts = [p for p in (abuse_held, None if civil_held is None else 1.0 - civil_held)
             if p is not None]
    return {"n": int(yy.size), "abusive": int((yy == 1).sum()), "auc": auc(yy, score),
            "abuse_held": abuse_held, "civil_held": civil_held,
            "balanced_accuracy": float(np.mean(parts)) if parts else None}


def not_worse(before: dict[str, Any], after: dict[str, Any], keys: Sequence[str]) -> bool:
    """Every figure in ``keys`` that both sides have is at least as good after."""
    return all(after[k] >= before[k] for k in keys
               if before.get(k) is not None and after.get(k) is not None)


def version_name(meta: dict[str, Any]) -> str:
    """How a head names itself: ``vNNNN`` for a shop version (``responder train`` writes
    it into the head's JSON), else ``shipped`` and the date it was trained."""
    if meta.get("version"):
        return str(meta["version"])
    return f"{SHIPPED} {str(meta.get('trained', ''))[:10]}".strip()
