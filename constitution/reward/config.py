"""Reward-training settings (pydantic): one documented field per knob, shared by the library, CLI and benchmarks."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class LoraSettings(BaseModel):
    """LoRA adapters (peft) instead of full fine-tuning; merged into the weights when the model is saved."""

    model_config = ConfigDict(extra="forbid")

    r: int = Field(16, ge=1, description="Adapter rank.")
    alpha: int = Field(32, ge=1, description="LoRA scaling numerator (scale = alpha / r).")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="Dropout on the adapter input.")
    target_modules: list[str] | str = Field(
        "all-linear", description="Modules that get adapters: peft names, or 'all-linear' for every linear layer."
    )


class RewardTrainingConfig(BaseModel):
    """Everything that decides how a scalar reward model is trained (Bradley–Terry on soft labels)."""

    model_config = ConfigDict(extra="forbid")

    base_model: str = Field(
        "all-minilm-l6-v2", description="Backbone: an embedded alias, a local transformers folder or a hub id."
    )
    max_length: int = Field(
        256, ge=8, description="Tokens per (prompt, response) sequence; longer ones lose their START (left truncation)."
    )
    epochs: float = Field(2.0, gt=0, description="Passes over the training pairs.")
    learning_rate: float = Field(1e-4, gt=0, description="Peak AdamW learning rate.")
    batch_size: int = Field(16, ge=1, description="Pairs per device per step (each pair = 2 sequences in one forward).")
    eval_batch_size: int = Field(16, ge=1, description="Pairs per device per evaluation step (activation memory).")
    gradient_accumulation_steps: int = Field(1, ge=1, description="Steps whose gradients are summed per update.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    warmup_ratio: float = Field(0.1, ge=0, lt=1, description="Fraction of the updates with linear LR warm-up.")
    lr_scheduler: str = Field("linear", description="transformers LR schedule name (linear, cosine, constant, ...).")
    margin: float = Field(
        0.0, ge=0, description="Required reward gap: loss = -(p*logσ(d-m) + (1-p)*logσ(-d-m)), d = r_a - r_b."
    )
    center_rewards_coefficient: float = Field(
        0.0, ge=0, description="Weight of the centering term mean((r_a + r_b)^2) that keeps rewards near zero."
    )
    heads: str = Field(
        "scalar",
        description=(
            "Reward-head kind (reward.head_kinds). 'scalar': one reward head trained on the ensembled label p_a. 'per_principle': one head per principle "
            "of the constitution, each trained only on the pairs its principle judged (the labels' per_principle), "
            "one temperature per head; the reward is the constitution-weighted mean of the heads, read at load "
            "time, so editing a weight needs no relabeling and no retraining."
        ),
    )
    frozen_head_l2: float = Field(
        1e-3,
        ge=0,
        description="L2 penalty on a head fitted on frozen features (`train --add-principle`): loss + l2·|w|².",
    )
    hard_labels: bool = Field(False, description="Round soft labels p_a to 0/1 (ties at 0.5 stay soft).")
    pooling: Literal["auto", "native", "mean"] = Field(
        "auto",
        description=(
            "'native': the architecture's own head (BERT: [CLS] pooler; decoders: last non-pad token). "
            "'mean' (BERT-like encoders): one extra encoder layer initialised to mean-pool all tokens into [CLS], "
            "so the saved folder stays a standard *ForSequenceClassification model. "
            "'auto': 'mean' for BERT-like encoders, 'native' otherwise."
        ),
    )
    freeze_embeddings: bool = Field(True, description="Keep the token/position embeddings fixed (half of MiniLM's weights).")
    freeze_layers: int = Field(
        3, ge=0, description="Keep the first N transformer layers fixed: no backward through them (~1.5x faster on MiniLM)."
    )
    disable_dropout: bool = Field(True, description="Set every dropout to 0 while training (as TRL does).")
    bf16: bool | None = Field(
        None,
        description="bf16 autocast (loss stays fp32). None = auto: on for CUDA with bf16, or CPUs with AMX/AVX512-bf16.",
    )
    lora: LoraSettings | None = Field(None, description="Train LoRA adapters instead of all weights.")
    eval_fraction: float = Field(
        0.1, ge=0, lt=1, description="Share of the training pairs held out for per-epoch eval and best-checkpoint choice."
    )
    calibrate_temperature: bool = Field(
        True,
        description="Fit one temperature on half the held-out pairs and fold it into the head (better ECE, same "
        "ranking); ECE is reported on the other half.",
    )
    seed: int = Field(0, description="Seed for the hold-out split, initialisation of the head and data order.")
    logging_steps: int = Field(10, ge=1, description="Log the loss every N updates.")
    norm_stats_pairs: int = Field(
        512, ge=1, description="At most this many training pairs (both responses) are scored for the saved reward mean/std."
    )
    checkpoint_steps: int = Field(
        500,
        ge=0,
        description=(
            "Save a resumable checkpoint (weights, optimizer, scheduler, RNG) to <out>/checkpoints every N updates, "
            "besides the per-epoch ones written with held-out pairs; re-running the same command resumes from the "
            "newest complete one. 0 = only the per-epoch checkpoints."
        ),
    )
    keep_checkpoints: bool = Field(False, description="Keep <out>/checkpoints after training (deleted otherwise).")

    @field_validator("heads")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        from constitution.reward.head_kinds import KINDS

        if value not in KINDS:
            raise ValueError(f"unknown reward-head kind {value!r} (known: {', '.join(KINDS)})")
        return value
