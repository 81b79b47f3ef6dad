"""Reward models: soft-label Bradley–Terry training on transformers.Trainer (one scalar head, or one head per
principle weighted by the constitution at load time), scoring, evaluation, ensembles, export to a scalar head,
heads added on frozen features (a new principle, safety categories).

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
    "RewardTrainer": "hf_trainer",
    "PairCollator": "pair_dataset",
    "bradley_terry_loss": "loss",
    "train_reward_model": "trainer",
    "HeadKind": "head_kinds",
    "register_kind": "head_kinds",
    "head_kind": "head_kinds",
    "TrainResult": "trainer",
    "TrainingDiverged": "guards",
    "EvalReport": "reports",
    "evaluate_pairs": "evaluate",
    "reliability_plot": "evaluate",
    "RewardEnsemble": "ensemble",
    "EnsembleScores": "ensemble",
    "HeadInfo": "metadata",
    "PrinciplePair": "principle_pairs",
    "load_principle_pairs": "principle_pairs",
    "head_weights": "heads",
    "export_scalar": "export",
    "add_principle_head": "add_head",
    "add_principle": "add_principle",
    "AddPrincipleResult": "add_principle",
    "heads_report": "head_eval",
    "CategoryHeads": "category_heads",
    "fit_category_heads": "category_heads",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'constitution.reward' has no attribute {name!r}")
    return getattr(importlib.import_module(f"constitution.reward.{_EXPORTS[name]}"), name)
