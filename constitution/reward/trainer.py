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
from functools import partial
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict
from transformers import Trainer
from transformers.trainer_pt_utils import LengthGroupedSampler

from constitution.data import Pair, iter_rows, split_pairs
from constitution.embedded_models import resolve_model
from constitution.reward.checkpoints import CHECKPOINTS_DIR, CheckpointEvery, prepare_resume, run_identity
from constitution.reward.config import RewardTrainingConfig
from constitution.reward.evaluate import preference_metrics
from constitution.reward.guards import FiniteGradients, check_finite
from constitution.reward.inputs import build_text, encode, input_kind, pad_batch, prepare_tokenizer
from constitution.devices import bf16_supported
from constitution.principles import Constitution, ResolvedPrinciple
from constitution.reward.head_eval import HeadReport, head_metrics, heldout_heads
from constitution.reward.heads import head_stats, head_weights, reward_stats
from constitution.reward.metadata import HeadInfo, RewardMetadata, write_metadata
from constitution.reward.model import RewardModel
from constitution.reward.principle_pairs import principle_heads, require_principle_pairs
from constitution.reward.pooling import add_mean_pooling_layer, supports_mean_pooling
from constitution.reward.publish import check_replaceable, publish, recover, staging_dir
from constitution.reward.temperature import HeldoutCalibration, apply_temperature, heldout_report


def bradley_terry_loss(
    r_a: torch.Tensor,
    r_b: torch.Tensor,
    p_a: torch.Tensor,
    margin: float = 0.0,
    center: float = 0.0,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """-(p·logσ(r_a−r_b−m) + (1−p)·logσ(r_b−r_a−m)) + center·(r_a+r_b)², averaged; computed in fp32.

    Elementwise over any shape (pairs, or pairs × heads); with ``mask`` the average is over the entries where it is
    1 (a head is trained only by the pairs its principle judged).
    """
    r_a, r_b, p_a = r_a.float(), r_b.float(), p_a.float()
    d = r_a - r_b
    loss = -(p_a * F.logsigmoid(d - margin) + (1 - p_a) * F.logsigmoid(-d - margin))
    if center:
        loss = loss + center * (r_a + r_b) ** 2
    if mask is None:
        return loss.mean()
    return (loss * mask).sum() / mask.sum().clamp_min(1.0)


LABELS = ("p", "mask", "p_a")  # label columns: per-principle heads have all three, a scalar model only ``p``


@dataclass
class PairCollator:
    """Rows {input_ids_a, input_ids_b, p[, mask, p_a]} -> one right-padded batch of 2B sequences plus the labels:
    ``p`` (B, or B × K per-principle labels), ``mask`` (B × K: which principles judged the pair) and ``p_a``."""

    pad_token_id: int

    def __call__(self, rows: Sequence[dict]) -> dict[str, torch.Tensor]:
        batch = pad_batch([r["input_ids_a"] for r in rows] + [r["input_ids_b"] for r in rows], self.pad_token_id)
        for key in LABELS:
            if key in rows[0]:
                batch[key] = torch.tensor([r[key] for r in rows], dtype=torch.float32)
        return batch


def _hard(p: float) -> float:
    return p if p == 0.5 else float(p > 0.5)


def tokenize_pairs(
    tokenizer, kind: str, pairs: Sequence[Pair], max_length: int, hard_labels: bool = False, heads: Sequence[str] = ()
):
    """Pairs -> a ``datasets.Dataset`` (input_ids_a, input_ids_b, p, length) for the Trainer.

    With ``heads`` (per-principle pairs): ``p`` holds one label per head (0.5 where the principle did not judge the
    pair), ``mask`` marks the heads that did, and ``p_a`` keeps the ensembled label.
    """
    import datasets

    ids_a = encode(tokenizer, kind, [build_text(tokenizer, kind, p.prompt, p.response_a) for p in pairs], max_length)
    ids_b = encode(tokenizer, kind, [build_text(tokenizer, kind, p.prompt, p.response_b) for p in pairs], max_length)
    labels = [0.5 if p.p_a is None else p.p_a for p in pairs]
    if hard_labels:
        labels = [_hard(p) for p in labels]
    columns: dict[str, list] = {"input_ids_a": ids_a, "input_ids_b": ids_b, "p": labels}
    if heads:
        judged = [p.per_principle for p in pairs]  # type: ignore[attr-defined]
        per_head = [[j.get(h, 0.5) for h in heads] for j in judged]
        columns["p"] = [[_hard(x) for x in row] for row in per_head] if hard_labels else per_head
        columns["mask"] = [[float(h in j) for h in heads] for j in judged]
        columns["p_a"] = labels
    columns["length"] = [max(len(a), len(b)) for a, b in zip(ids_a, ids_b)]
    return datasets.Dataset.from_dict(columns)


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


def _metrics(eval_pred, weights: np.ndarray | None = None) -> dict[str, float]:
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


def load_backbone(config: RewardTrainingConfig, heads: Sequence[str] = ()):
    """(model, tokenizer, input kind, pooling used) for a backbone with a fresh scalar head, or with one head per
    entry of ``heads`` (named in the config's ``id2label``)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = resolve_model(config.base_model)
    tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(folder), config.max_length)
    labels = {"id2label": dict(enumerate(heads)), "label2id": {h: i for i, h in enumerate(heads)}} if heads else {"num_labels": 1}
    model = AutoModelForSequenceClassification.from_pretrained(folder, dtype=torch.float32, **labels)
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


def train_reward_model(
    config: RewardTrainingConfig,
    train_pairs: Sequence[Pair],
    out_dir: str | Path,
    *,
    eval_pairs: Sequence[Pair] | None = None,
    train_data: str = "",
    constitution_hash: Sequence[str] = (),
    constitution: Constitution | None = None,
) -> TrainResult:
    """Train, keep the best epoch (by held-out accuracy), save a transformers folder + ``constitution_reward.json``.

    With ``config.heads == "per_principle"`` the pairs must be :class:`PrinciplePair` s and ``constitution`` given:
    one head per principle that judged the pairs (:func:`principle_heads`), each trained only on those pairs, the
    best epoch chosen by the accuracy of the constitution-weighted reward against ``p_a``, one temperature per head.

    Resumes from the newest complete checkpoint in ``<out_dir>/checkpoints`` left by an interrupted run with the same
    config and pairs; the folder at ``out_dir`` is replaced in one rename when the new model is fully written.
    """
    from transformers import set_seed

    out = Path(out_dir).resolve()
    set_seed(config.seed)
    pairs = [p for p in train_pairs if p.p_a is not None]
    heads = principle_heads(pairs, constitution) if config.heads == "per_principle" else []
    if heads and eval_pairs:
        require_principle_pairs(eval_pairs)
    head_ids = [h.id for h in heads]
    weights = np.asarray([h.weight for h in heads], dtype=np.float64) if heads else None
    if eval_pairs is None and config.eval_fraction > 0 and len(pairs) >= 10:
        pairs, eval_pairs = split_pairs(pairs, len(pairs) - max(1, round(config.eval_fraction * len(pairs))), config.seed)
    if not pairs:
        raise ValueError("no labelled training pairs")
    check_replaceable(out, [CHECKPOINTS_DIR])
    model, tokenizer, kind, pooling = load_backbone(config, head_ids)
    train_ds = tokenize_pairs(tokenizer, kind, pairs, config.max_length, config.hard_labels, head_ids)
    eval_ds = None
    if eval_pairs:
        eval_ds = tokenize_pairs(tokenizer, kind, eval_pairs, config.max_length, heads=head_ids).sort("length", reverse=True)
    args = training_arguments(config, out, eval_ds is not None, LABELS if heads else ("p",))
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
        compute_metrics=partial(_metrics, weights=weights),
        callbacks=[CheckpointEvery(config.checkpoint_steps), FiniteGradients()],
        margin=config.margin,
        center_rewards_coefficient=config.center_rewards_coefficient,
    )
    stats = trainer.train(resume_from_checkpoint=str(resume) if resume else None).metrics
    heldout = _heldout_metrics(trainer, eval_ds, config, weights, head_ids)
    eval_metrics, calibration = heldout.metrics, heldout.calibration
    trainer.accelerator.wait_for_everyone()
    mean = std = 0.0
    if trainer.is_world_process_zero():
        final = trainer.accelerator.unwrap_model(trainer.model)
        if config.lora:
            final = final.merge_and_unload()
        if any(t != 1.0 for t in heldout.temperatures):
            apply_temperature(final, heldout.temperatures if heads else heldout.temperatures[0])
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
            temperature=1.0 if heads else heldout.temperatures[0],
            training_config=config.model_dump(),
            heads=head_ids,
            head_info=_head_info(heads, pairs, heldout),
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


class Heldout(NamedTuple):
    """What the held-out pairs measured: metrics, the scalar model's calibration record, temperatures (one per
    head; one for a scalar model) and, for per-principle models, each head's report."""

    metrics: dict[str, float]
    calibration: HeldoutCalibration | None
    temperatures: list[float]
    heads: dict[str, HeadReport]


def _heldout_metrics(
    trainer: RewardTrainer, eval_ds, config: RewardTrainingConfig, weights: np.ndarray | None, heads: Sequence[str]
) -> Heldout:
    """Held-out metrics of the best model and how its temperature(s) were fitted."""
    if eval_ds is None:
        return Heldout({}, None, [1.0] * max(1, len(heads)), {})
    out = trainer.predict(eval_ds)
    rewards = np.asarray(out.predictions, dtype=np.float64)
    if weights is None:
        p_a = np.asarray(out.label_ids, dtype=np.float64)
        metrics, calibration = heldout_report(rewards[:, 0], rewards[:, 1], p_a, calibrate=config.calibrate_temperature, seed=config.seed)
        return Heldout(metrics, calibration, [calibration.temperature], {})
    p, mask, p_a = (np.asarray(x, dtype=np.float64) for x in out.label_ids)
    metrics, reports, temperatures = heldout_heads(
        rewards, p, mask, p_a, weights, heads, calibrate=config.calibrate_temperature, seed=config.seed
    )
    return Heldout(metrics, None, temperatures, reports)


def _head_info(heads: Sequence[ResolvedPrinciple], pairs: Sequence[Pair], heldout: Heldout) -> dict[str, HeadInfo]:
    """Each head's metadata: its training weight, temperature, training pairs and held-out report."""
    info = {}
    for head, temperature in zip(heads, heldout.temperatures):
        report = heldout.heads.get(head.id)
        info[head.id] = HeadInfo(
            weight=head.weight,
            temperature=temperature,
            train_pairs=sum(head.id in p.per_principle for p in pairs),  # type: ignore[attr-defined]
            eval_metrics=report.eval_metrics if report else {},
            calibration=report.calibration if report else None,
        )
    return info


def save_reward_model(model, tokenizer, meta: RewardMetadata, out_dir: Path, stat_pairs: Sequence[Pair]):
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
    (out_dir / "README.md").write_text(
        f"# Reward model\n\nBase: `{meta.base_model}`; trained with `constitution train` on {meta.train_pairs} pairs.\n"
        f"Load with `AutoModelForSequenceClassification.from_pretrained(folder)`; metadata in "
        f"`constitution_reward.json`:\n\n```json\n{json.dumps(meta.eval_metrics, indent=2)}\n```\n"
    )
    return meta.reward_mean, meta.reward_std
