"""What the service serves for a process reward model: a loaded :class:`~constitution.reward.process.model.ProcessRewardModel`
under a version number, with the same answering surface as :class:`~constitution.serve.served.ServedModel`.

Its batches hold traces: a :class:`StepItem` (``/score_steps``: a prompt and its steps) or the other routes' items
(a conversation and a response; never a bare text, whose prompt would be read as steps), whose response is split into
steps at the model's separator. Each trace
is scored in one pass (every step's score read at its end). ``/score`` and ``/get_reward`` answer the trace's
aggregate step score (the model's ``aggregate``): a probability, never normalised, with no per-principle rewards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from constitution.reward.process.metrics import aggregate
from constitution.serve.schema import Aggregate, Normalization, ServedBy


@dataclass(frozen=True)
class StepItem:
    """A trace as ``/score_steps`` sends it: the prompt (text or chat messages) and its steps."""

    prompt: Any
    steps: tuple[str, ...]


@dataclass(frozen=True)
class ScoredSteps:
    """One trace's step scores, how many of its steps were read without their whole prefix (a trace longer than the
    model's max_length), its aggregate under the model's own setting, and the served model that scored it."""

    by: ServedProcessModel
    steps: list[float]
    truncated_steps: int
    reward: float


class ServedProcessModel:
    """A process reward model under a version number (no constitution: its one head is not weighed)."""

    def __init__(self, model: Any, *, version: int, folder: str, batch_size: int = 64) -> None:
        self.model = model
        self.heads: list[str] = []
        self.default_threshold: float | None = None
        # the step principles its training labels were made under, as its metadata records them
        self.identity = ServedBy(version=version, model=folder, constitution_hash="+".join(model.metadata.step_principles_hash) or None)
        self.batch_size = batch_size

    def _trace(self, item: Any) -> tuple[Any, Sequence[str]]:
        if isinstance(item, StepItem):
            return item.prompt, item.steps
        prompt, response = item
        return prompt, self.model.split(response)

    def score(self, items: list[Any]) -> list[ScoredSteps]:
        """Step scores of a batch of traces (runs on the batcher's worker thread)."""
        scored = self.model.scored([self._trace(i) for i in items], batch_size=self.batch_size)
        return [ScoredSteps(self, s.scores, s.truncated_steps, self.model.aggregate(s.scores)) for s in scored]

    def aggregates(self, scored: Sequence[ScoredSteps], how: Aggregate | None = None) -> list[float]:
        """Each trace's score: ``how`` its step scores are combined (default: the model's setting)."""
        return [aggregate(s.steps, how or self.model.aggregate_by) for s in scored]

    def rewards(self, scored: Sequence[ScoredSteps], normalize: bool) -> list[float]:
        """The aggregate step scores (``normalize`` does not apply: they are probabilities already)."""
        return [s.reward for s in scored]

    def principles(self, scored: Sequence[ScoredSteps], normalize: bool) -> dict[str, list[float]]:
        return {}

    def normalization(self) -> Normalization | None:
        return None
