"""The reward model as the reward in RL.

``RewardFunction`` is a TRL GRPO ``reward_funcs`` callable, ``(prompts, completions, **kw) -> list[float]``, over one
reward model or an ensemble (conservative mean − k·std): batched, length-sorted, normalised with the training-set
mean/std stored in the model's metadata. For OpenRLHF, serve the model (``constitution serve``) and point
``--remote_rm_url`` at ``/get_reward``.

A per-principle model's reward is its heads weighted by ``constitution`` (a loaded one, or a principles folder or
file; None: the training weights): editing a weight changes the RL reward with no retraining, and adding a principle
to the constitution mid-run (SALMON-style, after ``train --add-principle``) needs only a reload.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from constitution.loader import load_constitution
from constitution.principles import Constitution
from constitution.reward.ensemble import RewardEnsemble
from constitution.reward.model import RewardModel


def _completion_text(completion: Any) -> str:
    """TRL gives completions as strings (standard) or message lists (conversational)."""
    if isinstance(completion, str):
        return completion
    return "".join(m["content"] for m in completion if m.get("role") == "assistant")


class RewardFunction:
    """Normalised rewards for (prompt, completion) batches, from one reward model or an ensemble."""

    __name__ = "constitution_reward"  # TRL logs each reward function under its name

    def __init__(self, scorer: RewardModel | RewardEnsemble, batch_size: int = 64) -> None:
        self.scorer = scorer
        self.batch_size = batch_size

    @classmethod
    def load(
        cls,
        paths: str | Path | Sequence[str | Path],
        k: float = 1.0,
        batch_size: int = 64,
        constitution: Constitution | str | Path | None = None,
    ) -> RewardFunction:
        """One folder: that model; several: their ensemble's conservative reward (mean − k·std). ``constitution``
        weighs per-principle heads (a principle of positive weight without a head is an InputError)."""
        if isinstance(constitution, (str, Path)):
            constitution = load_constitution(constitution)
        paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
        if len(paths) == 1:
            return cls(RewardModel.load(paths[0], constitution=constitution), batch_size)
        return cls(RewardEnsemble.load(paths, k=k, constitution=constitution), batch_size)

    def score(self, items: Sequence[Any]) -> list[float]:
        """Normalised (ensemble: conservative) rewards for texts or (prompt, response) items."""
        if isinstance(self.scorer, RewardEnsemble):
            return self.scorer.score(items, batch_size=self.batch_size).conservative
        return self.scorer.score(items, batch_size=self.batch_size, normalize=True)

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **_: Any) -> list[float]:
        return self.score([(p, _completion_text(c)) for p, c in zip(prompts, completions)])
