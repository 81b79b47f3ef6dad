"""A stand-in for a RewardModel's scoring surface around a plain function, for service tests that inject faults,
hold the queue or need rewards of a known value (each test that uses it says why)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from constitution.reward.metadata import RewardMetadata
from constitution.serve.served import ServedModel


class FnModel:
    """``fn(items)`` gives one reward per item (scalar) or one row of head outputs per item (``heads`` given)."""

    def __init__(self, fn: Callable, heads: Sequence[str] = (), weights: Sequence[float] | None = None, mean: float = 0.0, std: float = 1.0) -> None:
        self.fn = fn
        self.heads = list(heads)
        k = max(1, len(self.heads))
        self.weights = np.asarray(weights if weights is not None else [1.0 / k] * k, dtype=np.float64)
        self.metadata = RewardMetadata(base_model="fake", heads=self.heads)
        self.reward_mean, self.reward_std = mean, std

    def score_heads(self, items: list, batch_size: int = 64) -> list:
        out = self.fn(items)
        return out if self.heads else [[x] for x in out]

    def normalize(self, rewards: Sequence[float]) -> list[float]:
        return [(r - self.reward_mean) / self.reward_std for r in rewards]


def served(fn: Callable, version: int = 1, **kwargs) -> ServedModel:
    """``fn`` served as version ``version`` of a model folder named "fake"."""
    return ServedModel(FnModel(fn, **kwargs), version=version, folder="fake")
