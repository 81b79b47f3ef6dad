"""Binary classification metrics for safety scores (higher score = more likely unsafe)."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel


class BinaryMetrics(BaseModel):
    """Ranking and thresholded metrics of unsafe-scores against 0/1 labels."""

    n: int
    positives: int
    auroc: float | None
    auprc: float | None
    threshold: float
    precision: float
    recall: float
    f1: float
    fpr: float


def auroc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Area under the ROC curve (Mann-Whitney U, ties counted half); None without both classes."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    if len(pos) == 0 or len(neg) == 0:
        return None
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order))
    values = np.concatenate([pos, neg])[order]
    # average ranks over ties
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    rank_sum = ranks[: len(pos)].sum()
    return float((rank_sum - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def auprc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Average precision (area under the precision-recall curve, step-wise); None without positives."""
    if labels.sum() == 0:
        return None
    order = np.argsort(-scores, kind="mergesort")
    hits = labels[order]
    precision_at = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision_at * hits).sum() / hits.sum())


def at_threshold(scores: np.ndarray, labels: np.ndarray, threshold: float) -> BinaryMetrics:
    """All metrics, with decisions ``score >= threshold``."""
    flagged = scores >= threshold
    tp = int((flagged & (labels == 1)).sum())
    fp = int((flagged & (labels == 0)).sum())
    fn = int((~flagged & (labels == 1)).sum())
    negatives = int((labels == 0).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return BinaryMetrics(
        n=len(labels),
        positives=int(labels.sum()),
        auroc=auroc(scores, labels),
        auprc=auprc(scores, labels),
        threshold=float(threshold),
        precision=precision,
        recall=recall,
        f1=2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        fpr=fp / negatives if negatives else 0.0,
    )


def threshold_for_fpr(scores: np.ndarray, labels: np.ndarray, target_fpr: float) -> float:
    """The lowest threshold whose false-positive rate on the negatives is at most ``target_fpr``."""
    negatives = np.sort(scores[labels == 0])[::-1]
    if len(negatives) == 0:
        raise ValueError("calibration data has no safe (label 0) examples")
    allowed = int(np.floor(target_fpr * len(negatives)))
    if allowed >= len(negatives):
        return float(negatives[-1])
    # flag strictly above the (allowed+1)-th highest negative score
    return float(np.nextafter(negatives[allowed], np.inf))


def threshold_for_precision(scores: np.ndarray, labels: np.ndarray, target_precision: float) -> float:
    """The lowest threshold reaching ``target_precision`` (most recall at that precision)."""
    candidates = np.unique(scores)
    for t in candidates:  # ascending: the first that qualifies keeps the most recall
        m = at_threshold(scores, labels, float(t))
        if m.precision >= target_precision and m.recall > 0:
            return float(t)
    raise ValueError(f"no threshold reaches precision {target_precision} on the calibration data")
