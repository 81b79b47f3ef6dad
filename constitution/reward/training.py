"""The one training entry point of an outcome reward model, whatever its head kind (:mod:`head_kinds`): the CLI
(``constitution train``), the pipeline and the RL refresh load pairs and train through here."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from constitution.data.records import Pair
from constitution.errors import InputError
from constitution.principles import Constitution
from constitution.reward.config import RewardTrainingConfig
from constitution.reward.head_kinds import head_kind

if TYPE_CHECKING:
    from constitution.reward.trainer import TrainResult


def load_training_pairs(config: RewardTrainingConfig, source: str | Path, limit: int | None = None) -> tuple[list[Pair], dict[str, Any]]:
    """The pairs ``config``'s kind trains on from ``source``, and a load report."""
    return head_kind(config.heads).load(source, limit)


def train(
    config: RewardTrainingConfig,
    pairs: Sequence[Pair],
    out: str | Path,
    *,
    constitution: Constitution | None = None,
    **keywords: Any,
) -> TrainResult:
    """Train the reward model of ``config.heads``'s kind into ``out``: the one training entry point of the CLI, the
    pipeline and the RL refresh. ``keywords`` are ``train_reward_model``'s (``eval_pairs``, ``train_data``, ...)."""
    kind = head_kind(config.heads)
    if not any(p.p_a is not None for p in pairs):
        raise InputError("no labelled pairs (need p_a, or chosen/rejected columns)", where=keywords.get("train_data") or None)
    fit = kind.train
    if fit is None:
        from constitution.reward.trainer import train_reward_model as fit
    return fit(config, pairs, out, constitution=constitution if kind.needs_constitution else None, **keywords)
