"""Write a trained reward model: its normalisation statistics, the transformers folder, the metadata and a model card."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from constitution.data import Pair
from constitution.reward.heads import head_stats, head_weights, reward_stats
from constitution.reward.metadata import MODEL_CARD, RewardMetadata, write_metadata
from constitution.reward.model import RewardModel


def save_reward_model(model, tokenizer, meta: RewardMetadata, out_dir: Path, stat_pairs: Sequence[Pair]) -> tuple[float, float]:
    """Score ``stat_pairs`` for the reward mean/std (per-principle models: the heads' mean and covariance, and the
    reward's mean/std under the training weights), then write model, tokenizer and metadata; returns (mean, std)."""
    scorer = RewardModel(model, tokenizer, meta)
    items = [(p.prompt, p.response_a) for p in stat_pairs] + [(p.prompt, p.response_b) for p in stat_pairs]
    if meta.heads:
        meta.head_mean, meta.head_cov = head_stats(np.asarray(scorer.score_heads(items)))
        meta.reward_mean, meta.reward_std = reward_stats(meta, head_weights(meta))
    else:
        rewards = np.asarray(scorer.score(items), dtype=np.float64)
        meta.reward_mean, meta.reward_std = float(rewards.mean()), float(rewards.std() or 1.0)
    # OpenRLHF reads these config fields when asked to normalise rewards.
    model.config.update({"normalize_reward": False, "mean": meta.reward_mean, "std": meta.reward_std})
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    write_metadata(out_dir, meta)
    (out_dir / MODEL_CARD).write_text(
        f"# Reward model\n\nBase: `{meta.base_model}`; trained with `constitution train` on {meta.train_pairs} pairs.\n"
        f"Load with `AutoModelForSequenceClassification.from_pretrained(folder)`; metadata in "
        f"`constitution_reward.json`:\n\n```json\n{json.dumps(meta.eval_metrics, indent=2)}\n```\n"
    )
    return meta.reward_mean, meta.reward_std
