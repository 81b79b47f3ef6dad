"""``transformers.TrainingArguments`` for a reward-training config: epochs, batch sizes, optimiser schedule,
per-epoch evaluation and checkpoints (best epoch by held-out accuracy), bf16 where the machine has it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from constitution.devices import bf16_supported
from constitution.reward.checkpoints import CHECKPOINTS_DIR
from constitution.reward.config import RewardTrainingConfig


def training_arguments(config: RewardTrainingConfig, out_dir: Path, has_eval: bool, label_names: Sequence[str] = ("p",)):
    """transformers.TrainingArguments for the config."""
    from transformers import TrainingArguments

    cuda = torch.cuda.is_available()
    bf16 = bf16_supported(torch.device("cuda" if cuda else "cpu")) if config.bf16 is None else config.bf16
    strategy = "epoch" if has_eval else "no"  # plus CheckpointEvery's step checkpoints
    return TrainingArguments(
        output_dir=str(out_dir / CHECKPOINTS_DIR),
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.eval_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        warmup_steps=config.warmup_ratio,
        lr_scheduler_type=config.lr_scheduler,
        eval_strategy=strategy,
        save_strategy=strategy,
        save_total_limit=1,
        load_best_model_at_end=has_eval,
        metric_for_best_model="accuracy",
        greater_is_better=True,
        label_names=list(label_names),
        remove_unused_columns=False,
        bf16=bf16,
        use_cpu=not cuda,
        seed=config.seed,
        data_seed=config.seed,
        logging_steps=config.logging_steps,
        report_to=[],
        dataloader_pin_memory=cuda,
        ddp_find_unused_parameters=False,
    )
