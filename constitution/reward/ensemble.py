"""Reward ensembles: N reward models (different seeds or backbones) scored together.

Each member's rewards are normalised with its own training mean/std (scales differ between backbones), then
combined per item: mean, std across members, and the conservative reward mean − k·std that RL can optimise
without chasing one member's errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict

from constitution.reward.inputs import Item
from constitution.reward.model import RewardModel


class EnsembleScores(BaseModel):
    """Per-item ensemble statistics and the members' (normalised) rewards."""

    model_config = ConfigDict(extra="forbid")

    mean: list[float]
    std: list[float]
    conservative: list[float]
    members: list[list[float]]


class RewardEnsemble:
    """Several RewardModels that score the same items."""

    def __init__(self, members: Sequence[RewardModel], *, k: float = 1.0, normalize: bool = True) -> None:
        if not members:
            raise ValueError("an ensemble needs at least one reward model")
        self.members = list(members)
        self.k = k
        self.normalize = normalize

    @classmethod
    def load(cls, paths: Sequence[str | Path], *, k: float = 1.0, normalize: bool = True, **kw) -> RewardEnsemble:
        """Load every member folder."""
        return cls([RewardModel.load(p, **kw) for p in paths], k=k, normalize=normalize)

    def score(self, items: Sequence[Item], *, batch_size: int = 64, progress: bool = False) -> EnsembleScores:
        """Score the items with every member and combine."""
        rows = [m.score(items, batch_size=batch_size, normalize=self.normalize, progress=progress) for m in self.members]
        return combine(rows, self.k)


def combine(member_rewards: Sequence[Sequence[float]], k: float = 1.0) -> EnsembleScores:
    """Mean, population std and mean − k·std across members (rows = members, columns = items)."""
    r = np.asarray(member_rewards, dtype=np.float64).reshape(len(member_rewards), -1)
    mean, std = r.mean(axis=0), r.std(axis=0)
    return EnsembleScores(
        mean=mean.tolist(), std=std.tolist(), conservative=(mean - k * std).tolist(), members=r.tolist()
    )
