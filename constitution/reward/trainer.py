"""Reward training: ``train_reward_model`` turns labelled pairs into a saved reward model (one scalar head, or one
head per principle), on ``transformers.Trainer`` (:mod:`hf_trainer`) with the soft-label Bradley–Terry loss
(:mod:`loss`); held-out pairs choose the best epoch and fit the temperature(s).

Crash safety: resumable checkpoints go to ``<out>/checkpoints`` (see ``checkpoints``), a re-run with the same config
and data resumes from the newest complete one, and the final folder is swapped in atomically (see ``publish``).
A nan/inf loss, reward or gradient stops training with ``TrainingDiverged`` (see ``guards``).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict

from constitution.data import Pair, split_pairs
from constitution.principles import Constitution, ResolvedPrinciple
from constitution.reward.backbone import load_backbone, with_lora
from constitution.reward.checkpoints import CHECKPOINTS_DIR, CheckpointEvery, prepare_resume, run_identity
from constitution.reward.config import RewardTrainingConfig
from constitution.reward.guards import FiniteGradients
from constitution.reward.head_kinds import head_kind
from constitution.reward.head_eval import HeadReport, heldout_heads
from constitution.reward.hf_trainer import RewardTrainer, pair_metrics
from constitution.reward.metadata import HeadInfo, RewardMetadata
from constitution.reward.pair_dataset import LABELS, PairCollator, tokenize_pairs
from constitution.reward.principle_pairs import require_principle_pairs
from constitution.reward.publish import check_replaceable, publish, recover, staging_dir
from constitution.reward.saving import save_reward_model
from constitution.reward.temperature import HeldoutCalibration, apply_temperature, heldout_report
from constitution.reward.training_args import training_arguments


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

    ``config.heads`` names the kind (:mod:`head_kinds`). With "per_principle" the pairs must be :class:`PrinciplePair` s and ``constitution`` given:
    one head per principle that judged the pairs (:func:`principle_heads`), each trained only on those pairs, the
    best epoch chosen by the accuracy of the constitution-weighted reward against ``p_a``, one temperature per head.

    Resumes from the newest complete checkpoint in ``<out_dir>/checkpoints`` left by an interrupted run with the same
    config and pairs; the folder at ``out_dir`` is replaced in one rename when the new model is fully written.
    """
    from transformers import set_seed

    out = Path(out_dir).resolve()
    set_seed(config.seed)
    pairs = [p for p in train_pairs if p.p_a is not None]
    heads = head_kind(config.heads).heads(pairs, constitution)
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
        model=with_lora(model, config.lora) if config.lora else model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        data_collator=PairCollator(tokenizer.pad_token_id),
        compute_metrics=partial(pair_metrics, weights=weights),
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
