"""Decisions from unsafe scores: thresholds (given, stored, or calibrated on labelled data) and output records;
:func:`classify` is ``constitution classify``'s job as a library call."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from constitution.errors import InputError
from constitution.safety.config import ClassifyConfig
from constitution.safety.datasets import SafetyExample
from constitution.safety.metrics import threshold_for_fpr, threshold_for_precision
from constitution.safety.scorers import SafetyScorer, resolve_threshold


class Classification(BaseModel):
    """One output row of ``constitution classify``."""

    id: str
    decision: Literal["unsafe", "safe"]
    score: float = Field(description="unsafe score in [0, 1]")
    threshold: float
    categories: list[str] = Field(default_factory=list, description="violated categories (judge mode)")
    category_scores: dict[str, float] | None = None
    mode: str


class Calibration(BaseModel):
    """How a threshold was chosen."""

    threshold: float
    target: Literal["fpr", "precision"]
    value: float
    examples: int


def calibrate(scores: list[float], labels: list[int | None], *, target_fpr: float | None = None, target_precision: float | None = None) -> Calibration:
    """Pick a threshold on labelled validation scores for a target false-positive rate or precision."""
    known = [(s, lab) for s, lab in zip(scores, labels) if lab is not None]
    if not known:
        raise InputError("the calibration file has no rows with a `label` (safe/unsafe or 0/1)")
    s = np.array([k[0] for k in known], dtype=float)
    y = np.array([k[1] for k in known], dtype=int)
    try:
        if target_precision is not None:
            return Calibration(threshold=threshold_for_precision(s, y, target_precision), target="precision", value=target_precision, examples=len(y))
        fpr = 0.05 if target_fpr is None else target_fpr
        return Calibration(threshold=threshold_for_fpr(s, y, fpr), target="fpr", value=fpr, examples=len(y))
    except ValueError as exc:
        raise InputError(str(exc)) from exc


def decide(examples: list[SafetyExample], scores: list[float], threshold: float, mode: str) -> list[Classification]:
    """Decisions at ``threshold`` (score >= threshold is unsafe)."""
    return [
        Classification(id=ex.id, decision="unsafe" if s >= threshold else "safe", score=s, threshold=threshold, mode=mode)
        for ex, s in zip(examples, scores)
    ]


def add_categories(rows: list[Classification], category_scores: list[dict[str, float]], threshold: float = 0.5) -> None:
    """Attach per-category scores and the categories at or above ``threshold`` to unsafe rows."""
    for row, cats in zip(rows, category_scores):
        row.category_scores = cats
        row.categories = sorted((c for c, p in cats.items() if p >= threshold), key=lambda c: -cats[c])


class ClassifyResult(BaseModel):
    """The decisions, the threshold they used, and the calibration that chose it (if one did)."""

    rows: list[Classification]
    threshold: float
    calibration: Calibration | None = None


def classify(scorer: SafetyScorer, examples: list[SafetyExample], config: ClassifyConfig, validation: list[SafetyExample] | None = None) -> ClassifyResult:
    """Decide every example: at ``config.threshold``, else one calibrated on the labelled ``validation`` examples,
    else the scorer's stored threshold, else 0.5; with ``config.categories``, unsafe rows get category scores."""
    calibration = None
    if config.threshold is None and validation is not None:
        scores = scorer.unsafe_scores(validation)
        calibration = calibrate(scores, [ex.label for ex in validation], target_fpr=config.target_fpr, target_precision=config.target_precision)
    threshold = resolve_threshold(config.threshold if calibration is None else calibration.threshold, scorer.threshold)
    rows = decide(examples, scorer.unsafe_scores(examples), threshold, scorer.mode)
    if config.categories:
        flagged = [i for i, r in enumerate(rows) if r.decision == "unsafe"]
        add_categories([rows[i] for i in flagged], scorer.category_scores([examples[i] for i in flagged]))
    return ClassifyResult(rows=rows, threshold=threshold, calibration=calibration)
