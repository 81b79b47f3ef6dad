"""A per-principle reward model in RL: one TRL reward function per principle, beside the combined reward.

TRL's ``GRPOTrainer`` weighs its reward functions with ``GRPOConfig.reward_weights`` and logs each one
(``rewards/<name>/mean``), so a per-principle model gives one function per principle of positive weight plus the
combined reward (logged, weight 0 by default). Principle ``k``'s function returns its head's reward standardised with
the head's training-set mean and std, ``z_k = (r_k − μ_k) / σ_k``, so the principles are on one scale. The
statistics are those of the model the run starts with, kept for the whole run: a refreshed model (new statistics)
is standardised like the first, so the weights TRL was given stay faithful to the constitution (TRL's weighted sum
stays an increasing affine function of the combined reward) and the logged principles keep their scale.
:meth:`PrincipleRewards.trl_weights` gives the weights that reproduce the constitution:

* ``sum_then_normalize`` (TRL's default): ``w_k σ_k / std``, so ``Σ weight_k z_k`` is exactly the combined
  normalised reward ``(Σ w_k r_k − mean) / std`` — the same advantages as the combined function alone;
* ``normalize_then_sum`` (decoupled normalisation, TRL #4841 / GDPO): each principle is normalised within its GRPO
  group first, then weighted by ``w_k / Σw``; summing before normalising lets one principle's spread swamp the others.

For a stack that takes one scalar (verl, OpenRLHF, a single TRL function), ``group_normalize=True`` makes the
combined function do the decoupled normalisation itself: each head normalised within its prompt's group of
completions, then weighted by ``w_k / Σw``. The head outputs are computed once per batch for all the functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from constitution.errors import InputError
from constitution.reward.heads import combine
from constitution.reward.model import RewardModel
from constitution.rl.reward import RewardFunction, completion_text

Aggregation = Literal["sum_then_normalize", "normalize_then_sum"]


def group_normalized(values: np.ndarray, groups: Sequence[Any]) -> np.ndarray:
    """Columns of ``values`` (rows = completions) normalised within each group of rows sharing a key: mean 0, std 1
    (a group whose values are all equal, or of one row, gets 0)."""
    out = np.zeros_like(np.asarray(values, dtype=np.float64))
    index: dict[Any, list[int]] = {}
    for row, key in enumerate(groups):
        index.setdefault(key, []).append(row)
    for rows in index.values():
        block = values[rows]
        std = block.std(axis=0)
        out[rows] = np.where(std > 1e-12, (block - block.mean(axis=0)) / np.where(std > 1e-12, std, 1.0), 0.0)
    return out


class _Principle:
    """TRL reward function of one principle (named for TRL's logs)."""

    def __init__(self, owner: PrincipleRewards, column: int, name: str) -> None:
        self.owner, self.column, self.__name__ = owner, column, name

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **_: Any) -> list[float]:
        return self.owner.standardized(prompts, completions)[:, self.column].tolist()


class PrincipleRewards:
    """The per-principle and combined rewards of the per-principle model that ``reward`` scores with (swapping a
    refreshed model into ``reward`` reaches every function)."""

    def __init__(self, reward: RewardFunction, *, group_normalize: bool = False) -> None:
        self.reward = reward
        self.group_normalize = group_normalize
        self.__name__ = reward.__name__
        self._cache: tuple[Any, np.ndarray] | None = None
        model = self.model
        self.principles = [h for h, w in zip(model.heads, model.weights) if w > 0]
        self.heads_at_start = list(model.heads)
        self.head_mean, self.head_sd = self._head_stats()
        self.reward_std = model.reward_std

    @property
    def version(self) -> int:
        """The version of the model scoring now (the monitor records it)."""
        return self.reward.version

    @property
    def model(self) -> RewardModel:
        scorer = self.reward.scorer
        if not isinstance(scorer, RewardModel) or not scorer.heads:
            raise InputError("per-principle rewards need one per-principle reward model (`train --heads per_principle`)")
        return scorer

    def heads(self, prompts: Sequence[Any], completions: Sequence[Any]) -> np.ndarray:
        """Raw head outputs (rows = completions), computed once per batch and reward-model version."""
        texts = [completion_text(c) for c in completions]
        key = (self.reward.version, [repr(p) for p in prompts], texts)
        if self._cache is None or self._cache[0] != key:
            model = self.model
            ids = model.encode(list(zip(prompts, texts)))
            self._cache = (key, model.head_matrix(ids, self.reward.batch_size))
        return self._cache[1]

    def _head_stats(self) -> tuple[np.ndarray, np.ndarray]:
        meta = self.model.metadata
        k = len(meta.heads)
        if not meta.head_mean:
            return np.zeros(k), np.ones(k)
        sd = np.sqrt(np.clip(np.diag(np.asarray(meta.head_cov, dtype=np.float64)), 0.0, None))
        return np.asarray(meta.head_mean, dtype=np.float64), np.where(sd > 0, sd, 1.0)

    def standardized(self, prompts: Sequence[Any], completions: Sequence[Any]) -> np.ndarray:
        """``z_k = (r_k − μ_k) / σ_k`` per completion and head (the first model's training-set statistics)."""
        if self.model.heads != self.heads_at_start:
            raise InputError(f"the reward model's heads changed during the run: {self.heads_at_start} -> {self.model.heads}")
        return (self.heads(prompts, completions) - self.head_mean) / self.head_sd

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **_: Any) -> list[float]:
        """The combined reward: the model's normalised reward, or with ``group_normalize`` the weighted mean of the
        heads normalised within each prompt's group."""
        model = self.model
        matrix = self.heads(prompts, completions)
        if self.group_normalize:
            share = model.weights / model.weights.sum()
            return (group_normalized(matrix, [repr(p) for p in prompts]) @ share).tolist()
        return model.normalize(combine(matrix, model.weights).tolist())

    def raw(self, prompts: Sequence[Any], completions: Sequence[Any]) -> list[float]:
        """The un-normalised combined reward ``Σ w_k r_k`` (what the monitor logs: neither the group normalisation
        nor a refreshed model's statistics move it)."""
        return combine(self.heads(prompts, completions), self.model.weights).tolist()

    def functions(self) -> list[Any]:
        """TRL ``reward_funcs``: one per principle of positive weight, then the combined reward."""
        heads = self.model.heads
        return [_Principle(self, heads.index(p), f"{self.__name__}/{p}") for p in self.principles] + [self]

    def trl_weights(self, aggregation: Aggregation = "sum_then_normalize", *, combined: float = 0.0) -> list[float]:
        """``GRPOConfig.reward_weights`` for :meth:`functions` that reproduce the constitution (see the module
        docstring); the combined function gets ``combined`` (0: logged only)."""
        model = self.model
        columns = [model.heads.index(p) for p in self.principles]
        w = model.weights[columns]
        if aggregation == "normalize_then_sum":
            weights = w / w.sum()
        else:  # each head's coefficient in the raw reward, whatever scale ``combine`` gives the weights
            coefficients = combine(np.eye(len(model.heads)), model.weights)[columns]
            weights = coefficients * self.head_sd[columns] / self.reward_std
        return [float(x) for x in weights] + [combined]
