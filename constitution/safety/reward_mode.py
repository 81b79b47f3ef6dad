"""Reward mode: a trained reward model's score as a safety signal (a low reward means likely unsafe).

The unsafe score is :func:`~constitution.safety.scorers.unsafe_score` of the reward normalised with the
training-set statistics from the model's metadata; the decision threshold is calibrated on labelled data and can be
stored in the metadata (``safety_threshold``). Per-category scores come from the model's safety-category heads
(:mod:`constitution.reward.category_heads`), fitted on the judge's per-category labels.
"""

from __future__ import annotations

from pathlib import Path

from constitution.errors import InputError
from constitution.principles import Constitution
from constitution.reward.category_heads import CategoryHeads
from constitution.reward.metadata import METADATA_FILE, read_metadata, write_metadata
from constitution.reward.model import RewardModel
from constitution.safety.classify import Calibration
from constitution.safety.datasets import SafetyExample
from constitution.safety.scorers import unsafe_score


def store_threshold(folder: str | Path, calibration: Calibration) -> Path:
    """Write a calibrated threshold (and how it was chosen) into a reward model's metadata; later runs default to it."""
    meta = read_metadata(folder)
    if meta is None:
        raise InputError(f"{folder}: no {METADATA_FILE}; only a model trained by `constitution train` can store a threshold")
    meta.safety_threshold = calibration.threshold
    meta.safety_calibration = calibration.model_dump()
    return write_metadata(folder, meta)


class RewardSafetyScorer:
    """Unsafe scores from a reward model; per-category scores from its safety-category heads, where it has them."""

    def __init__(self, model: RewardModel, batch_size: int = 64, categories: CategoryHeads | None = None) -> None:
        self.model = model
        self.batch_size = batch_size
        self.categories = categories
        self.mode = f"reward:{Path(model.metadata.base_model).name or model.metadata.base_model}"
        self.threshold: float | None = model.metadata.safety_threshold

    @classmethod
    def load(
        cls, path: str | Path, batch_size: int = 64, constitution: Constitution | None = None, categories: bool = False
    ) -> RewardSafetyScorer:
        """A reward folder; ``constitution`` weighs a per-principle model's heads (None: its training weights);
        ``categories`` loads its safety-category heads (InputError when it has none)."""
        heads = CategoryHeads.load(path) if categories else None
        return cls(RewardModel.load(path, constitution=constitution), batch_size=batch_size, categories=heads)

    def unsafe_scores(self, examples: list[SafetyExample]) -> list[float]:
        """unsafe_score(normalised reward) per example (a response in its conversation, or a text alone)."""
        # A text alone is read as an assistant turn with no prompt: the framing the reward model was trained on.
        items = [(ex.conversation, ex.text) for ex in examples]
        return [unsafe_score(r) for r in self.model.score(items, batch_size=self.batch_size, normalize=True)]

    def category_scores(self, examples: list[SafetyExample]) -> list[dict[str, float]]:
        """P(violates category) per example, from the category heads (loaded with ``categories=True``)."""
        if self.categories is None:
            raise InputError("per-category scores need the reward model's category heads (load with categories=True)")
        return self.categories.probabilities(self.model, [(ex.conversation, ex.text) for ex in examples], self.batch_size)

    def close(self) -> None:
        """Nothing to release (the model is freed with the scorer)."""
