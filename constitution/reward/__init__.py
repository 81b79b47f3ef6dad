"""Scalar reward models: soft-label Bradley–Terry training on transformers.Trainer, scoring, evaluation, ensembles.

Heavy imports (torch, transformers) happen when a name is first used.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "RewardTrainingConfig": "config",
    "LoraSettings": "config",
    "RewardModel": "model",
    "RewardMetadata": "metadata",
    "METADATA_FILE": "metadata",
    "RewardTrainer": "trainer",
    "PairCollator": "trainer",
    "bradley_terry_loss": "trainer",
    "train_reward_model": "trainer",
    "TrainResult": "trainer",
    "TrainingDiverged": "guards",
    "EvalReport": "evaluate",
    "evaluate_pairs": "evaluate",
    "reliability_plot": "evaluate",
    "RewardEnsemble": "ensemble",
    "EnsembleScores": "ensemble",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'constitution.reward' has no attribute {name!r}")
    return getattr(importlib.import_module(f"constitution.reward.{_EXPORTS[name]}"), name)
