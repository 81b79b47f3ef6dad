"""Measures of step scores: trace aggregates, the first error (ProcessBench), step accuracy, best-of-n picks.

ProcessBench (Zheng et al. 2024): a trace's reference is the index of its first wrong step, or -1 when every step is
right; the prediction is the first step scored below the threshold, or -1. Accuracy is counted separately on the
erroneous and on the correct traces, and the F1 is their harmonic mean.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from constitution.reward.process.config import Aggregate


def aggregate(scores: Sequence[float], how: Aggregate) -> float:
    """A trace's score from its step scores (P(step good)): ``min``, ``product`` or ``last`` (nan for no step)."""
    if not scores:
        return float("nan")
    if how == "min":
        return float(min(scores))
    if how == "product":
        return float(math.prod(scores))
    return float(scores[-1])


def first_error(scores: Sequence[float | None], threshold: float = 0.5) -> int:
    """Index of the first step scored below ``threshold``, or -1 (steps without a score are passed over)."""
    return next((k for k, s in enumerate(scores) if s is not None and s < threshold), -1)


def processbench_metrics(predicted: Sequence[int], reference: Sequence[int]) -> dict[str, float]:
    """Accuracy on erroneous traces, on correct traces, their harmonic mean (F1) and overall accuracy."""
    wrong = [(p, r) for p, r in zip(predicted, reference) if r >= 0]
    right = [(p, r) for p, r in zip(predicted, reference) if r < 0]
    acc_wrong = sum(p == r for p, r in wrong) / len(wrong) if wrong else float("nan")
    acc_right = sum(p < 0 for p, _ in right) / len(right) if right else float("nan")
    f1 = 2 * acc_wrong * acc_right / (acc_wrong + acc_right) if acc_wrong + acc_right > 0 else 0.0
    overall = sum((p == r) or (p < 0 and r < 0) for p, r in zip(predicted, reference)) / max(1, len(reference))
    return {
        "first_error_acc_erroneous": acc_wrong, "first_error_acc_correct": acc_right, "first_error_f1": f1,
        "first_error_accuracy": overall, "erroneous_traces": float(len(wrong)), "correct_traces": float(len(right)),
    }  # fmt: skip


def step_accuracy(scores: Sequence[Sequence[float | None]], labels: Sequence[Sequence[float]], threshold: float = 0.5) -> float:
    """Share of scored steps whose side of ``threshold`` matches their label's side of 0.5 (soft 0.5 labels skipped)."""
    hits = total = 0
    for trace_scores, trace_labels in zip(scores, labels):
        for s, y in zip(trace_scores, trace_labels):
            if s is None or y == 0.5:
                continue
            total += 1
            hits += (s >= threshold) == (y > 0.5)
    return hits / total if total else float("nan")


def process_metrics(
    scores: Sequence[Sequence[float | None]], labels: Sequence[Sequence[float]], threshold: float = 0.5
) -> dict[str, float]:
    """Step accuracy and the ProcessBench first-error figures of step scores against step labels."""
    predicted = [first_error(s, threshold) for s in scores]
    reference = [first_error(y, 0.5) for y in labels]
    return {"step_accuracy": step_accuracy(scores, labels, threshold), **processbench_metrics(predicted, reference)}


def best_of_n_accuracy(scores: Sequence[Sequence[float]], correct: Sequence[Sequence[bool]]) -> float:
    """Share of problems whose highest-scored candidate is a correct one (ties: the first)."""
    hits = [c[max(range(len(s)), key=s.__getitem__)] for s, c in zip(scores, correct)]
    return sum(hits) / len(hits) if hits else float("nan")
