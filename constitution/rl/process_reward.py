"""A process reward model as the reward in RL and best-of-n.

``ProcessRewardFunction`` is a TRL GRPO ``reward_funcs`` callable, ``(prompts, completions, **kw) -> list[float]``:
each completion is split into steps at the model's separator, every step is scored in one batched pass, and the
reward is the steps' aggregate (min, product or last: the model's, or the one given). :func:`load_reward` picks the
process or the outcome reward function for a folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from constitution.principles import Constitution
from constitution.reward.process.config import Aggregate
from constitution.reward.process.model import ProcessRewardModel, is_process_model
from constitution.rl.reward import RewardFunction, completion_text


class ProcessRewardFunction:
    """Aggregate step scores (P(step good)) of (prompt, completion) batches."""

    __name__ = "constitution_process_reward"  # TRL logs each reward function under its name

    def __init__(self, model: ProcessRewardModel, batch_size: int = 32) -> None:
        self.model = model
        self.batch_size = batch_size

    @classmethod
    def load(cls, path: str | Path, *, aggregate: Aggregate | None = None, batch_size: int = 32) -> ProcessRewardFunction:
        return cls(ProcessRewardModel.load(path, aggregate_by=aggregate), batch_size)

    def score(self, items: Sequence[Any]) -> list[float]:
        """Aggregate step scores of (prompt, response) items."""
        return self.model.score(items, batch_size=self.batch_size)

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **_: Any) -> list[float]:
        return self.score([(p, completion_text(c)) for p, c in zip(prompts, completions)])


def load_reward(
    paths: str | Path | Sequence[str | Path], *, k: float = 1.0, constitution: Constitution | None = None
) -> RewardFunction | ProcessRewardFunction:
    """One process reward folder: its :class:`ProcessRewardFunction`; anything else: :meth:`RewardFunction.load`."""
    listed = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if len(listed) == 1 and is_process_model(listed[0]):
        return ProcessRewardFunction.load(listed[0])
    return RewardFunction.load(listed, k=k, constitution=constitution)
