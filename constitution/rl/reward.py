"""``RewardFunction``: a TRL GRPO ``reward_funcs`` callable, ``(prompts, completions, **kw) -> list[float]``.

Over one reward model or an ensemble (conservative mean − k·std): batched, length-sorted, normalised with the
training-set mean/std stored in the model's metadata. For OpenRLHF, serve the model (``constitution serve``) and point
``--remote_rm_url`` at ``/get_reward``.

A per-principle model's reward is its heads weighted by ``constitution`` (a loaded one; None: the training weights):
editing a weight changes the RL reward with no retraining, and adding a principle mid-run (SALMON-style, after
``train --add-principle``) needs only a reload. :meth:`RewardFunction.swap` replaces the model between calls (a
refreshed reward model): a call reads the model once, so every reward of a batch comes from one model.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from constitution.errors import InputError
from constitution.principles import Constitution
from constitution.reward.ensemble import RewardEnsemble
from constitution.reward.model import RewardModel
from constitution.reward.process.model import is_process_model

Scorer = RewardModel | RewardEnsemble


def completion_text(completion: Any) -> str:
    """TRL gives completions as strings (standard) or message lists (conversational)."""
    if isinstance(completion, str):
        return completion
    return "".join(m["content"] for m in completion if m.get("role") == "assistant")


class RewardFunction:
    """Normalised rewards for (prompt, completion) batches, from one reward model or an ensemble."""

    __name__ = "constitution_reward"  # TRL logs each reward function under its name

    def __init__(self, scorer: Scorer, batch_size: int = 64) -> None:
        self._scorer = scorer
        self.batch_size = batch_size
        self.version = 0
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls,
        paths: str | Path | Sequence[str | Path],
        k: float = 1.0,
        batch_size: int = 64,
        constitution: Constitution | None = None,
    ) -> RewardFunction:
        """One folder: that model; several: their ensemble's conservative reward (mean − k·std). ``constitution``
        weighs per-principle heads (a principle of positive weight without a head is an InputError)."""
        paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
        for path in paths:
            if is_process_model(path):  # it would load as a sequence classifier with a head it never trained
                raise InputError(
                    "a process reward model scores steps; its RL reward is constitution.rl.process_reward.ProcessRewardFunction",
                    where=str(path),
                )  # fmt: skip
        if len(paths) == 1:
            return cls(RewardModel.load(paths[0], constitution=constitution), batch_size)
        return cls(RewardEnsemble.load(paths, k=k, constitution=constitution), batch_size)

    @property
    def scorer(self) -> Scorer:
        """The model scoring now."""
        return self._scorer

    def swap(self, scorer: Scorer) -> int:
        """Score with ``scorer`` from the next call on (a call in progress finishes with the old one); the new
        version number."""
        with self._lock:
            self._scorer = scorer
            self.version += 1
            return self.version

    def score(self, items: Sequence[Any]) -> list[float]:
        """Normalised (ensemble: conservative) rewards for texts or (prompt, response) items."""
        scorer = self._scorer  # read once: one model for the whole batch even if a swap lands meanwhile
        if isinstance(scorer, RewardEnsemble):
            return scorer.score(items, batch_size=self.batch_size).conservative
        return scorer.score(items, batch_size=self.batch_size, normalize=True)

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **_: Any) -> list[float]:
        return self.score([(p, completion_text(c)) for p, c in zip(prompts, completions)])

    def raw(self, prompts: Sequence[Any], completions: Sequence[Any]) -> list[float]:
        """The un-normalised reward (what the monitor logs: a refreshed model's new normalisation does not move it);
        an ensemble's conservative reward as scored (its members are never refreshed)."""
        scorer = self._scorer
        if isinstance(scorer, RewardEnsemble):
            return self(prompts, completions)
        return scorer.score([(p, completion_text(c)) for p, c in zip(prompts, completions)], batch_size=self.batch_size)
