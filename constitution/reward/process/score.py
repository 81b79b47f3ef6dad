"""Scoring traces with a process reward model (``constitution score-steps``): each trace's step scores, its
aggregate, its first error and how many of its steps were read truncated, streamed a chunk of traces at a time; the
step metrics on the traces that carry step labels are kept as running counts."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice

from pydantic import BaseModel, ConfigDict

from constitution.data.steps import StepTrace
from constitution.errors import InputError
from constitution.reward.process.metrics import ProcessTally
from constitution.reward.process.model import ProcessRewardModel


class TraceScore(BaseModel):
    """One trace's scores (one output row)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    step_scores: list[float]
    truncated_steps: int
    score: float
    first_error: int


class ScoreSummary(BaseModel):
    """What a scoring run read, how much of it was read truncated, and the step metrics on the labelled traces
    (None when none is labelled)."""

    traces: int = 0
    steps: int = 0
    truncated_steps: int = 0
    truncated_traces: int = 0
    labelled_traces: int = 0
    rows_bad: int = 0
    metrics: dict[str, float] | None = None


class StepScoring:
    """Scores traces lazily (:meth:`rows`); :meth:`summary` once they are read."""

    def __init__(self, model: ProcessRewardModel, *, threshold: float | None = None, batch_size: int = 32, chunk_traces: int = 512) -> None:
        self.model = model
        self.threshold = model.metadata.threshold if threshold is None else threshold
        if not 0 < self.threshold < 1:  # a NaN fails this too
            raise InputError(f"the threshold is a step's P(good) below which it is an error: between 0 and 1, not {self.threshold}", where="--threshold")
        self.batch_size = batch_size
        self.chunk_traces = chunk_traces
        self.counts = ScoreSummary()
        self.tally = ProcessTally(self.threshold)

    def rows(self, traces: Iterable[StepTrace]) -> Iterator[TraceScore]:
        """Each trace's row, in input order; a chunk of traces is in memory at a time."""
        it = iter(traces)
        while chunk := list(islice(it, self.chunk_traces)):
            for trace, scored in zip(chunk, self.model.scored([(t.prompt, t.completions) for t in chunk], self.batch_size)):
                self._count(trace, scored.scores, scored.truncated_steps)
                yield TraceScore(
                    id=trace.id, step_scores=scored.scores, truncated_steps=scored.truncated_steps,
                    score=self.model.aggregate(scored.scores), first_error=self.model.first_error(scored.scores, self.threshold),
                )  # fmt: skip

    def _count(self, trace: StepTrace, scores: list[float], truncated: int) -> None:
        c = self.counts
        c.traces += 1
        c.steps += len(scores)
        c.truncated_steps += truncated
        c.truncated_traces += truncated > 0
        labels = trace.soft_labels()
        if labels is not None:
            c.labelled_traces += 1
            self.tally.add(scores, labels)

    def summary(self) -> ScoreSummary:
        return self.counts.model_copy(update={"metrics": self.tally.metrics() if self.counts.labelled_traces else None})
