"""Binary classification metrics for safety scores (higher score = more likely unsafe).

Ranking metrics come from scikit-learn's tie-aware implementations: rows with equal scores share one threshold, so
no figure depends on row order. Decisions are always ``score >= threshold``.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score


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


def _both_classes(labels: np.ndarray) -> bool:
    return bool((labels == 1).any() and (labels == 0).any())


def auroc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Area under the ROC curve (ties count half); None without both classes."""
    return float(roc_auc_score(labels, scores)) if _both_classes(labels) else None


def auprc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Average precision: Σ (R_k − R_{k−1}) · P_k over the distinct score thresholds; None without positives."""
    return float(average_precision_score(labels, scores)) if (labels == 1).any() else None


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
    """The lowest threshold reaching ``target_precision`` with some recall (the most recall at that precision).

    One pass over scikit-learn's precision-recall curve, whose thresholds are the distinct scores (ascending).
    """
    if not (labels == 1).any():
        raise ValueError("calibration data has no unsafe (label 1) examples")
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    # precision[i], recall[i] belong to thresholds[i]; the final (1, 0) point has no threshold
    ok = np.flatnonzero((precision[:-1] >= target_precision) & (recall[:-1] > 0))
    if ok.size == 0:
        raise ValueError(f"no threshold reaches precision {target_precision} on the calibration data")
    return float(thresholds[ok[0]])
