"""Reward mode: a trained reward model's score as a safety signal (a low reward means likely unsafe).

The unsafe score is ``sigmoid(-(r - mean) / std)`` with the training-set reward statistics from the model's metadata,
so it lies in (0, 1) like the judge's P("Yes"); the decision threshold is calibrated on labelled data and can be
stored in the metadata (``safety_threshold``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from constitution.reward.model import RewardModel
from constitution.safety.datasets import SafetyExample


class RewardSafetyScorer:
    """Unsafe scores from a reward model."""

    def __init__(self, model: RewardModel, batch_size: int = 64) -> None:
        self.model = model
        self.batch_size = batch_size
        self.mode = f"reward:{Path(model.metadata.base_model).name or model.metadata.base_model}"
        self.threshold: float | None = getattr(model.metadata, "safety_threshold", None)

    @classmethod
    def load(cls, path: str | Path, batch_size: int = 64) -> RewardSafetyScorer:
        return cls(RewardModel.load(path), batch_size=batch_size)

    def unsafe_scores(self, examples: list[SafetyExample], progress: Callable[[int], None] | None = None) -> list[float]:
        """sigmoid(-normalised reward) per example (a response in its conversation, or a text alone)."""
        # A text alone is read as an assistant turn with no prompt: the framing the reward model was trained on.
        items = [(ex.conversation, ex.text) for ex in examples]
        rewards = self.model.score(items, batch_size=self.batch_size, normalize=True)
        if progress:
            progress(len(examples))
        return [1.0 / (1.0 + math.exp(r)) for r in rewards]
