"""Measures of step scores: trace aggregates, the first error (ProcessBench), step accuracy, best-of-n picks.

ProcessBench (Zheng et al. 2024): a trace's reference is the index of its first wrong step, or -1 when every step is
right; the prediction is the first step scored below the threshold, or -1. Accuracy is counted separately on the
erroneous and on the correct traces, and the F1 is their harmonic mean (NaN when either kind of trace is missing).
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


def first_error(scores: Sequence[float], threshold: float = 0.5) -> int:
    """Index of the first step scored below ``threshold``, or -1."""
    return next((k for k, s in enumerate(scores) if s < threshold), -1)


class ProcessTally:
    """Running counts behind :func:`process_metrics`: steps on the right side of ``threshold``, and first errors
    found on the erroneous and on the correct traces (streamed scoring keeps no trace)."""

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold
        self.step_hits = self.steps = 0
        self.wrong_hits = self.wrong = self.right_hits = self.right = 0

    def add_first_error(self, predicted: int, reference: int) -> None:
        if reference >= 0:
            self.wrong += 1
            self.wrong_hits += predicted == reference
        else:
            self.right += 1
            self.right_hits += predicted < 0

    def add(self, scores: Sequence[float], labels: Sequence[float]) -> None:
        """One trace's step scores against its step labels (soft 0.5 labels count for no step)."""
        for s, y in zip(scores, labels):
            if y != 0.5:
                self.steps += 1
                self.step_hits += (s >= self.threshold) == (y > 0.5)
        self.add_first_error(first_error(scores, self.threshold), first_error(labels, 0.5))

    def first_error_metrics(self) -> dict[str, float]:
        acc_wrong = self.wrong_hits / self.wrong if self.wrong else float("nan")
        acc_right = self.right_hits / self.right if self.right else float("nan")
        if math.isnan(acc_wrong) or math.isnan(acc_right):  # a class is missing: no F1, not 0
            f1 = float("nan")
        else:
            f1 = 2 * acc_wrong * acc_right / (acc_wrong + acc_right) if acc_wrong + acc_right > 0 else 0.0
        return {
            "first_error_acc_erroneous": acc_wrong, "first_error_acc_correct": acc_right, "first_error_f1": f1,
            "first_error_accuracy": (self.wrong_hits + self.right_hits) / max(1, self.wrong + self.right),
            "erroneous_traces": float(self.wrong), "correct_traces": float(self.right),
        }  # fmt: skip

    def metrics(self) -> dict[str, float]:
        step_accuracy = self.step_hits / self.steps if self.steps else float("nan")
        return {"step_accuracy": step_accuracy, **self.first_error_metrics()}


def processbench_metrics(predicted: Sequence[int], reference: Sequence[int]) -> dict[str, float]:
    """Accuracy on erroneous traces, on correct traces, their harmonic mean (F1) and overall accuracy."""
    tally = ProcessTally()
    for p, r in zip(predicted, reference):
        tally.add_first_error(p, r)
    return tally.first_error_metrics()


def process_metrics(scores: Sequence[Sequence[float]], labels: Sequence[Sequence[float]], threshold: float = 0.5) -> dict[str, float]:
    """Step accuracy and the ProcessBench first-error figures of step scores against step labels."""
    tally = ProcessTally(threshold)
    for s, y in zip(scores, labels):
        tally.add(s, y)
    return tally.metrics()


def best_of_n_accuracy(scores: Sequence[Sequence[float]], correct: Sequence[Sequence[bool]]) -> float:
    """Share of problems whose highest-scored candidate is a correct one (ties: the first)."""
    hits = [c[max(range(len(s)), key=s.__getitem__)] for s, c in zip(scores, correct)]
    return sum(hits) / len(hits) if hits else float("nan")
