"""The effect of an edit on rewards, for a reward model with one head per principle.

Contract with per-principle reward heads: ``score_heads(items, batch_size=...)`` gives one score per head, in the
order of ``metadata.heads`` (principle ids), and the reward under a constitution is the mean of the heads weighted by
its principles' weights (a head whose principle the constitution lacks weighs 0), as the model combines them. Both responses of every pair are
scored once; the rewards under the old and the new weights follow, then the unsafe score of each normalised reward
and the decision at the model's stored threshold (:mod:`constitution.safety.scorers`, as ``classify`` decides).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np
from pydantic import BaseModel, Field

from constitution.data.records import Pair
from constitution.errors import InputError
from constitution.principles import Constitution
from constitution.safety.scorers import resolve_threshold, unsafe_score

if TYPE_CHECKING:  # both import torch
    from constitution.reward.inputs import Item
    from constitution.reward.metadata import RewardMetadata


class HeadScorer(Protocol):
    """A reward model with per-principle heads (``metadata.heads``)."""

    metadata: RewardMetadata

    def score_heads(self, items: Sequence[Item], *, batch_size: int = 64) -> list[list[float]]: ...


class ResponseMove(BaseModel):
    """One response's reward and unsafe score before and after."""

    pair_id: str
    response: Literal["a", "b"]
    text: str
    reward_old: float
    reward_new: float
    unsafe_old: float
    unsafe_new: float

    @property
    def delta(self) -> float:
        return self.reward_new - self.reward_old


class RewardDiff(BaseModel):
    """Rewards of the pairs' responses under the old and the new weights."""

    model: str
    heads: list[str]
    principles_without_head: list[str] = Field(description="principles of either version that no head scores")
    threshold: float = Field(description="unsafe-score threshold the decisions are taken at (the model's stored one)")
    responses: int
    mean_abs_delta: float
    preference_flips: int = Field(description="pairs whose higher-reward response changed")
    moved_most: list[ResponseMove]
    safety_changed: list[ResponseMove] = Field(description="responses whose safe/unsafe decision changed")


def head_names(path: str | Path) -> list[str]:
    """The heads of the reward model at ``path``; an InputError when it has none (a scalar reward model)."""
    from constitution.reward.metadata import read_metadata

    meta = read_metadata(path) if Path(path).is_dir() else None
    heads = getattr(meta, "heads", None) if meta else None
    if not heads:
        raise InputError(
            "not a reward model with per-principle heads (`heads` in constitution_reward.json): a scalar reward "
            "cannot be re-weighted by the constitution",
            where=str(path),
        )
    return list(heads)


def _weights(constitution: Constitution, heads: list[str]) -> np.ndarray:
    """The heads' weights under ``constitution`` divided by their sum, as the reward model combines them."""
    from constitution.reward.heads import unit_weights

    by_id = {p.id: p.weight for p in constitution.principles}
    return unit_weights([by_id.get(h, 0.0) for h in heads], f"constitution {constitution.id!r}")


def _unsafe(rewards: np.ndarray, meta: RewardMetadata, weights: np.ndarray) -> list[float]:
    """Unsafe scores of rewards normalised with the training statistics of the reward under these weights."""
    from constitution.reward.heads import reward_stats

    mean, std = reward_stats(meta, weights)
    return [unsafe_score((r - mean) / std) for r in rewards]


def reward_diff(
    scorer: HeadScorer, model: str, pairs: Sequence[Pair], before: Constitution, after: Constitution, *, top: int = 10, batch_size: int = 64
) -> RewardDiff:
    """Score both responses of each pair once and compare their rewards under ``before``'s and ``after``'s weights."""
    heads = list(scorer.metadata.heads)  # type: ignore[attr-defined]
    items: list[Item] = [(p.prompt, r) for p in pairs for r in (p.response_a, p.response_b)]
    scores = np.asarray(scorer.score_heads(items, batch_size=batch_size), dtype=float).reshape(len(items), len(heads))
    w_old, w_new = _weights(before, heads), _weights(after, heads)
    old, new = scores @ w_old, scores @ w_new
    unsafe_old = _unsafe(old, scorer.metadata, w_old)
    unsafe_new = _unsafe(new, scorer.metadata, w_new)
    threshold = resolve_threshold(None, scorer.metadata.safety_threshold)
    moves = [
        ResponseMove(
            pair_id=pair.id, response=side, text=text,
            reward_old=float(old[i]), reward_new=float(new[i]), unsafe_old=unsafe_old[i], unsafe_new=unsafe_new[i],
        )  # fmt: skip
        for i, (pair, side, text) in enumerate((p, s, t) for p in pairs for s, t in (("a", p.response_a), ("b", p.response_b)))
    ]
    flips = int(np.sum((old[0::2] >= old[1::2]) != (new[0::2] >= new[1::2])))
    known = {p.id for p in before.principles} | {p.id for p in after.principles}
    return RewardDiff(
        model=model,
        heads=heads,
        principles_without_head=sorted(known - set(heads)),
        threshold=threshold,
        responses=len(moves),
        mean_abs_delta=float(np.mean(np.abs(new - old))) if moves else 0.0,
        preference_flips=flips,
        moved_most=sorted(moves, key=lambda m: (-abs(m.delta), m.pair_id, m.response))[:top],
        safety_changed=[m for m in moves if (m.unsafe_old >= threshold) != (m.unsafe_new >= threshold)],
    )
