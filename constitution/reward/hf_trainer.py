"""``RewardTrainer``: ``transformers.Trainer`` with the pairwise loss, resumable length-grouped batches and the
held-out metrics. A plain Trainer, so ``accelerate launch`` (DDP/FSDP/DeepSpeed) runs it unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from transformers import Trainer
from transformers.trainer_pt_utils import LengthGroupedSampler

from constitution.reward.evaluate import preference_metrics
from constitution.reward.guards import check_finite
from constitution.reward.head_eval import head_metrics
from constitution.reward.loss import bradley_terry_loss
from constitution.reward.pair_dataset import LABELS


class EpochSeededLengthSampler(LengthGroupedSampler):
    """transformers' length-grouped sampler with its shuffle seeded by (seed, epoch) rather than the global RNG.

    A run resumed in the middle of an epoch then replays exactly the batches the interrupted run would have seen.
    """

    def __init__(self, batch_size: int, lengths: list[int], seed: int) -> None:
        super().__init__(batch_size, lengths=lengths)
        self.seed = seed
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        self.generator = torch.Generator().manual_seed(self.seed + epoch)


def pair_metrics(eval_pred, weights: np.ndarray | None = None) -> dict[str, float]:
    """Scalar: accuracy/ECE/NLL of (r_a, r_b) vs p. Heads (``weights``): those of the weighted reward vs the
    ensembled label p_a, plus ``judgment_*`` over every (pair, judging principle) of the heads vs their labels."""
    rewards = np.asarray(eval_pred.predictions, dtype=np.float64)
    if weights is None:
        return preference_metrics(rewards[:, 0], rewards[:, 1], np.asarray(eval_pred.label_ids))
    p, mask, p_a = (np.asarray(x, dtype=np.float64) for x in eval_pred.label_ids)
    return head_metrics(rewards, p, mask, p_a, weights)


class RewardTrainer(Trainer):
    """A Trainer whose loss is the soft-label Bradley–Terry loss; predictions are (r_a, r_b) per pair.

    A training batch whose loss or rewards are nan/inf raises ``TrainingDiverged``.
    """

    def __init__(self, *args, margin: float = 0.0, center_rewards_coefficient: float = 0.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.margin = margin
        self.center = center_rewards_coefficient
        self.loss_is_scaled_for_ga = False

    def _get_train_sampler(self, train_dataset=None) -> EpochSeededLengthSampler:
        """Length-grouped batches whose order depends only on (data_seed, epoch)."""
        dataset = self.train_dataset if train_dataset is None else train_dataset
        batch = self.args.train_batch_size * self.args.gradient_accumulation_steps
        return EpochSeededLengthSampler(batch, list(dataset["length"]), self.args.data_seed)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        logits = model(**{k: v for k, v in inputs.items() if k not in LABELS}).logits.float()
        r_a, r_b = logits.chunk(2)  # B × K each
        mask = inputs.get("mask")
        if mask is None:
            r_a, r_b = r_a[:, 0], r_b[:, 0]
        loss = bradley_terry_loss(r_a, r_b, inputs["p"], self.margin, self.center, mask)
        if model.training:
            check_finite(loss, torch.cat([r_a, r_b]), self.state.global_step + 1, Path(self.args.output_dir))
        return (loss, {"rewards": torch.stack([r_a, r_b], dim=-1)}) if return_outputs else loss
