"""Scoring traces with a process reward model (``constitution score-steps``): each trace's step scores, its
aggregate and its first error, and the step metrics when the traces carry step labels."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from constitution.data.steps import StepTrace
from constitution.reward.process.metrics import process_metrics
from constitution.reward.process.model import ProcessRewardModel


class TraceScore(BaseModel):
    """One trace's scores (one output row)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    step_scores: list[float | None]
    score: float
    first_error: int


class TraceScores(BaseModel):
    """Every trace's scores, and the step metrics on the labelled ones (None when none is labelled)."""

    rows: list[TraceScore]
    metrics: dict[str, float] | None


def score_traces(model: ProcessRewardModel, traces: Sequence[StepTrace], *, threshold: float | None = None, batch_size: int = 32) -> TraceScores:
    """Score ``traces``; a step below ``threshold`` (default: the model's) is an error."""
    threshold = model.metadata.threshold if threshold is None else threshold
    scores = model.step_scores([(t.prompt, t.completions) for t in traces], batch_size)
    rows = [
        TraceScore(id=t.id, step_scores=s, score=model.aggregate(s), first_error=model.first_error(s, threshold))
        for t, s in zip(traces, scores)
    ]
    labelled = [(s, t.soft_labels()) for t, s in zip(traces, scores) if t.labels is not None]
    metrics = process_metrics([s for s, _ in labelled], [y for _, y in labelled], threshold) if labelled else None
    return TraceScores(rows=rows, metrics=metrics)
