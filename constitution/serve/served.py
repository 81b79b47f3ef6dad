"""What the service serves: one loaded reward model under one version number, and the answers made from its scores.

A :class:`ServedModel` never changes once built: a batch is scored by the one the slot held when the batch started,
and a reload builds a new one beside it (:mod:`constitution.serve.slot`), so no request is scored by a half-loaded
or half-reweighted model. Scoring uses the reward model's public API: ``score_heads`` (one row of raw head outputs
per item), ``heads.combine`` with the model's weights, ``normalize`` and ``heads.contributions``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from constitution.principles import Constitution
from constitution.reward.heads import combine, contributions
from constitution.serve.schema import Normalization, ServedBy, Stats


@dataclass(frozen=True)
class Scored:
    """One item's raw scores and the served model that produced them."""

    by: ServedModel
    reward: float
    heads: np.ndarray


class ServedModel:
    """A loaded reward model (a :class:`~constitution.reward.model.RewardModel`, or anything with its scoring
    surface: ``score_heads``, ``weights``, ``heads``, ``normalize``, ``reward_mean``/``reward_std``, ``metadata``)
    under a version number."""

    def __init__(
        self,
        model: Any,
        *,
        version: int,
        folder: str,
        constitution: Constitution | None = None,
        constitution_path: str | list[str] | None = None,
        batch_size: int = 64,
    ) -> None:
        self.model = model
        trained_under = "+".join(model.metadata.constitution_hash) or None  # the constitution(s) of its training labels
        self.identity = ServedBy(version=version, model=folder, constitution_hash=constitution.hash if constitution else trained_under)
        self.constitution_path = constitution_path
        self.batch_size = batch_size
        self.heads: list[str] = list(model.heads)
        meta = model.metadata
        self.head_mean = list(meta.head_mean) if meta.head_mean else [0.0] * len(self.heads)
        cov = np.asarray(meta.head_cov, dtype=np.float64) if meta.head_cov else np.eye(len(self.heads))
        self.head_std = [float(np.sqrt(v)) if v > 0 else 1.0 for v in np.diag(cov)] if self.heads else []
        self.default_threshold: float | None = getattr(meta, "safety_threshold", None)

    def score(self, items: list[Any]) -> list[Scored]:
        """Raw scores of a batch (runs on the batcher's worker thread)."""
        matrix = np.asarray(self.model.score_heads(items, batch_size=self.batch_size), dtype=np.float64).reshape(len(items), -1)
        rewards = combine(matrix, self.model.weights)
        return [Scored(self, float(r), row) for r, row in zip(rewards, matrix)]

    def normalization(self) -> Normalization:
        """The statistics :meth:`rewards` and :meth:`principles` normalise with."""
        per_head = {h: Stats(mean=m, std=s) for h, m, s in zip(self.heads, self.head_mean, self.head_std)}
        return Normalization(reward=Stats(mean=self.model.reward_mean, std=self.model.reward_std), principles=per_head)

    def rewards(self, scored: Sequence[Scored], normalize: bool) -> list[float]:
        """Combined rewards, raw or normalised with the training statistics."""
        raw = [s.reward for s in scored]
        return list(self.model.normalize(raw)) if normalize else raw

    def _matrix(self, scored: Sequence[Scored]) -> np.ndarray:
        """The items' raw head outputs, one row per item (no rows for no items)."""
        return np.asarray([s.heads for s in scored], dtype=np.float64).reshape(len(scored), max(1, len(self.heads)))

    def principles(self, scored: Sequence[Scored], normalize: bool) -> dict[str, list[float]]:
        """Each principle's reward (its head's output, raw or normalised by that head's training mean and std), one
        list per principle in item order; empty for a scalar model."""
        matrix = self._matrix(scored)
        if normalize and self.heads:
            matrix = (matrix - np.asarray(self.head_mean)) / np.asarray(self.head_std)
        return {h: matrix[:, k].tolist() for k, h in enumerate(self.heads)}

    def contributions(self, scored: Sequence[Scored], normalize: bool) -> list[dict[str, float]]:
        """Each weighted principle's share of each reward (they sum to it), as ``RewardModel.explain`` gives them."""
        matrix = self._matrix(scored)
        stats = {"mean": self.head_mean, "std": self.model.reward_std} if normalize else {}
        return contributions(matrix, self.model.weights, self.heads, **stats)
