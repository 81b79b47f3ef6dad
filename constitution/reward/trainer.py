"""Reward training on ``transformers.Trainer``: soft-label Bradley–Terry loss, pair collator, length grouping.

Chosen and rejected go through one forward pass (rows ``[a_0..a_B, b_0..b_B]``); batches are right-padded to their
longest row and grouped by length. Because it is a plain Trainer, ``accelerate launch`` (DDP/FSDP/DeepSpeed) runs
it unchanged.

Crash safety: resumable checkpoints go to ``<out>/checkpoints`` (see ``checkpoints``), a re-run with the same config
and data resumes from the newest complete one, and the final folder is swapped in atomically (see ``publish``).
A nan/inf loss, reward or gradient stops training with ``TrainingDiverged`` (see ``guards``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict
from transformers import Trainer
from transformers.trainer_pt_utils import LengthGroupedSampler

from constitution.data import Pair, iter_rows, split_pairs
from constitution.models import resolve_model
from constitution.reward.checkpoints import CHECKPOINTS_DIR, CheckpointEvery, prepare_resume, run_identity
from constitution.reward.config import RewardTrainingConfig
from constitution.reward.evaluate import preference_metrics
from constitution.reward.guards import FiniteGradients, check_finite
from constitution.reward.inputs import build_text, encode, input_kind, pad_batch, prepare_tokenizer
from constitution.reward.metadata import RewardMetadata, write_metadata
from constitution.devices import bf16_supported
from constitution.reward.model import RewardModel
from constitution.reward.pooling import add_mean_pooling_layer, supports_mean_pooling
from constitution.reward.publish import check_replaceable, publish, recover, staging_dir
from constitution.reward.temperature import HeldoutCalibration, apply_temperature, heldout_report


def bradley_terry_loss(
    r_a: torch.Tensor, r_b: torch.Tensor, p_a: torch.Tensor, margin: float = 0.0, center: float = 0.0
) -> torch.Tensor:
    """-(p·logσ(r_a−r_b−m) + (1−p)·logσ(r_b−r_a−m)) + center·(r_a+r_b)², averaged; computed in fp32."""
    r_a, r_b, p_a = r_a.float(), r_b.float(), p_a.float()
    d = r_a - r_b
    loss = -(p_a * F.logsigmoid(d - margin) + (1 - p_a) * F.logsigmoid(-d - margin))
    if center:
        loss = loss + center * (r_a + r_b) ** 2
    return loss.mean()


@dataclass
class PairCollator:
    """Rows {input_ids_a, input_ids_b, p} -> one right-padded batch of 2B sequences plus the labels ``p``."""

    pad_token_id: int

    def __call__(self, rows: Sequence[dict]) -> dict[str, torch.Tensor]:
        batch = pad_batch([r["input_ids_a"] for r in rows] + [r["input_ids_b"] for r in rows], self.pad_token_id)
        batch["p"] = torch.tensor([float(r["p"]) for r in rows], dtype=torch.float32)
        return batch


def tokenize_pairs(tokenizer, kind: str, pairs: Sequence[Pair], max_length: int, hard_labels: bool = False):
    """Pairs -> a ``datasets.Dataset`` (input_ids_a, input_ids_b, p, length) for the Trainer."""
    import datasets

    ids_a = encode(tokenizer, kind, [build_text(tokenizer, kind, p.prompt, p.response_a) for p in pairs], max_length)
    ids_b = encode(tokenizer, kind, [build_text(tokenizer, kind, p.prompt, p.response_b) for p in pairs], max_length)
    labels = [0.5 if p.p_a is None else p.p_a for p in pairs]
    if hard_labels:
        labels = [p if p == 0.5 else float(p > 0.5) for p in labels]
    return datasets.Dataset.from_dict(
        {
            "input_ids_a": ids_a,
            "input_ids_b": ids_b,
            "p": labels,
            "length": [max(len(a), len(b)) for a, b in zip(ids_a, ids_b)],
        }
    )


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


def _metrics(eval_pred) -> dict[str, float]:
    rewards = np.asarray(eval_pred.predictions)
    return preference_metrics(rewards[:, 0], rewards[:, 1], np.asarray(eval_pred.label_ids))


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
        p_a = inputs["p"]
        logits = model(**{k: v for k, v in inputs.items() if k != "p"}).logits
        r_a, r_b = logits[:, 0].float().chunk(2)
        loss = bradley_terry_loss(r_a, r_b, p_a, self.margin, self.center)
        if model.training:
            check_finite(loss, torch.cat([r_a, r_b]), self.state.global_step + 1, Path(self.args.output_dir))
        return (loss, {"rewards": torch.stack([r_a, r_b], dim=-1)}) if return_outputs else loss


class TrainResult(BaseModel):
    """Where the model went and what training measured."""

    model_config = ConfigDict(extra="forbid")

    out_dir: str
    train_pairs: int
    eval_pairs: int
    train_runtime_s: float
    train_samples_per_second: float
    eval_metrics: dict[str, float]
    calibration: HeldoutCalibration | None = None
    reward_mean: float
    reward_std: float
    world_size: int = 1
    process_index: int = 0
    resumed_from: str | None = None
    discarded_checkpoints: list[str] = []


def data_constitution_hashes(source: str | Path) -> list[str]:
    """Distinct ``constitution_hash`` values in a data source (empty for human-labelled data)."""
    seen: list[str] = []
    for _, row in iter_rows(source):
        value = row.get("constitution_hash")
        if value and value not in seen:
            seen.append(str(value))
    return seen


def load_backbone(config: RewardTrainingConfig):
    """(model, tokenizer, input kind, pooling used) for a backbone with a fresh scalar head."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = resolve_model(config.base_model)
    tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(folder), config.max_length)
    model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=1, dtype=torch.float32)
    model.config.pad_token_id = tokenizer.pad_token_id
    pooling = config.pooling
    if pooling == "auto":
        pooling = "mean" if supports_mean_pooling(model) else "native"
    if pooling == "mean":
        add_mean_pooling_layer(model)
    _freeze(model, config)
    if config.disable_dropout:
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
    return model, tokenizer, input_kind(tokenizer, model.config), pooling


def _freeze(model, config: RewardTrainingConfig) -> None:
    if config.freeze_embeddings:
        embeddings = getattr(model.base_model, "embeddings", None) or model.get_input_embeddings()
        embeddings.requires_grad_(False)
    if config.freeze_layers:
        n = model.config.num_hidden_layers
        stacks = [m for m in model.base_model.modules() if isinstance(m, torch.nn.ModuleList) and len(m) == n]
        if not stacks:
            raise ValueError("freeze_layers: cannot find the transformer layer list")
        for layer in stacks[0][: config.freeze_layers]:
            layer.requires_grad_(False)


def _with_lora(model, lora):
    from peft import LoraConfig, TaskType, get_peft_model

    return get_peft_model(
        model,
        LoraConfig(
            task_type=TaskType.SEQ_CLS,
            r=lora.r,
            lora_alpha=lora.alpha,
            lora_dropout=lora.dropout,
            target_modules=lora.target_modules,
        ),
    )


def training_arguments(config: RewardTrainingConfig, out_dir: Path, has_eval: bool):
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
        label_names=["p"],
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


def train_reward_model(
    config: RewardTrainingConfig,
    train_pairs: Sequence[Pair],
    out_dir: str | Path,
    *,
    eval_pairs: Sequence[Pair] | None = None,
    train_data: str = "",
    constitution_hash: Sequence[str] = (),
) -> TrainResult:
    """Train, keep the best epoch (by held-out accuracy), save a transformers folder + ``constitution_reward.json``.

    Resumes from the newest complete checkpoint in ``<out_dir>/checkpoints`` left by an interrupted run with the same
    config and pairs; the folder at ``out_dir`` is replaced in one rename when the new model is fully written.
    """
    from transformers import set_seed

    out = Path(out_dir).resolve()
    set_seed(config.seed)
    pairs = [p for p in train_pairs if p.p_a is not None]
    if eval_pairs is None and config.eval_fraction > 0 and len(pairs) >= 10:
        pairs, eval_pairs = split_pairs(pairs, len(pairs) - max(1, round(config.eval_fraction * len(pairs))), config.seed)
    if not pairs:
        raise ValueError("no labelled training pairs")
    check_replaceable(out, [CHECKPOINTS_DIR])
    model, tokenizer, kind, pooling = load_backbone(config)
    train_ds = tokenize_pairs(tokenizer, kind, pairs, config.max_length, config.hard_labels)
    eval_ds = None
    if eval_pairs:
        eval_ds = tokenize_pairs(tokenizer, kind, eval_pairs, config.max_length).sort("length", reverse=True)
    args = training_arguments(config, out, eval_ds is not None)
    with args.main_process_first(desc="checkpoints"):
        if args.should_save:
            recover(out)
        identity = run_identity(config, pairs, eval_pairs or [])
        resume, discarded = prepare_resume(out / CHECKPOINTS_DIR, identity, clean=args.should_save)
    trainer = RewardTrainer(
        model=_with_lora(model, config.lora) if config.lora else model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        data_collator=PairCollator(tokenizer.pad_token_id),
        compute_metrics=_metrics,
        callbacks=[CheckpointEvery(config.checkpoint_steps), FiniteGradients()],
        margin=config.margin,
        center_rewards_coefficient=config.center_rewards_coefficient,
    )
    stats = trainer.train(resume_from_checkpoint=str(resume) if resume else None).metrics
    eval_metrics, calibration = _heldout_metrics(trainer, eval_ds, config)
    temperature = calibration.temperature if calibration else 1.0
    trainer.accelerator.wait_for_everyone()
    mean = std = 0.0
    if trainer.is_world_process_zero():
        final = trainer.accelerator.unwrap_model(trainer.model)
        if config.lora:
            final = final.merge_and_unload()
        if temperature != 1.0:
            apply_temperature(final, temperature)
        meta = RewardMetadata(
            base_model=config.base_model,
            architecture=type(final).__name__,
            input_format=kind,
            chat_template=tokenizer.chat_template if kind == "chat_template" else None,
            max_length=config.max_length,
            pooling=pooling,
            constitution_hash=list(constitution_hash),
            train_data=train_data,
            train_pairs=len(pairs),
            eval_metrics=eval_metrics,
            calibration=calibration,
            temperature=temperature,
            training_config=config.model_dump(),
        )
        mean, std = save_reward_model(final, tokenizer, meta, staging_dir(out), pairs[: config.norm_stats_pairs])
        publish(out, carry=[CHECKPOINTS_DIR] if config.keep_checkpoints else [])
    trainer.accelerator.wait_for_everyone()
    return TrainResult(
        out_dir=str(out_dir),
        train_pairs=len(pairs),
        eval_pairs=len(eval_pairs or []),
        train_runtime_s=float(stats.get("train_runtime", 0.0)),
        train_samples_per_second=float(stats.get("train_samples_per_second", 0.0)),
        eval_metrics=eval_metrics,
        calibration=calibration,
        reward_mean=mean,
        reward_std=std,
        world_size=trainer.args.world_size,
        process_index=trainer.args.process_index,
        resumed_from=str(resume) if resume else None,
        discarded_checkpoints=discarded,
    )


def _heldout_metrics(trainer: RewardTrainer, eval_ds, config: RewardTrainingConfig) -> tuple[dict[str, float], HeldoutCalibration | None]:
    """Held-out metrics of the best model and how its temperature was fitted (None without held-out pairs)."""
    if eval_ds is None:
        return {}, None
    out = trainer.predict(eval_ds)
    r_a, r_b = np.asarray(out.predictions, dtype=np.float64).T
    p_a = np.asarray(out.label_ids, dtype=np.float64)
    return heldout_report(r_a, r_b, p_a, calibrate=config.calibrate_temperature, seed=config.seed)


def save_reward_model(model, tokenizer, meta: RewardMetadata, out_dir: Path, stat_pairs: Sequence[Pair]):
    """Score ``stat_pairs`` for the reward mean/std, then write model, tokenizer and metadata; returns (mean, std)."""
    scorer = RewardModel(model, tokenizer, meta)
    r_a, r_b = scorer.score_pairs(stat_pairs)
    rewards = np.asarray(r_a + r_b, dtype=np.float64)
    meta.reward_mean, meta.reward_std = float(rewards.mean()), float(rewards.std() or 1.0)
    # OpenRLHF reads these config fields when asked to normalise rewards.
    model.config.update({"normalize_reward": False, "mean": meta.reward_mean, "std": meta.reward_std})
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    write_metadata(out_dir, meta)
    (out_dir / "README.md").write_text(
        f"# Reward model\n\nBase: `{meta.base_model}`; trained with `constitution train` on {meta.train_pairs} pairs.\n"
        f"Load with `AutoModelForSequenceClassification.from_pretrained(folder)`; metadata in "
        f"`constitution_reward.json`:\n\n```json\n{json.dumps(meta.eval_metrics, indent=2)}\n```\n"
    )
    return meta.reward_mean, meta.reward_std
