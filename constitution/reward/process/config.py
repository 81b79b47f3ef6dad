"""Process reward model settings: how it is trained on soft step labels and how its step scores are used."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from constitution.reward.config import LoraSettings

Aggregate = Literal["min", "product", "last"]


class ProcessTrainingConfig(BaseModel):
    """A token-classification head read at each step's last token, trained with BCE on soft step labels."""

    model_config = ConfigDict(extra="forbid")

    base_model: str = Field(
        "smollm2-135m-instruct",
        description="Backbone: an embedded alias, a local transformers folder or a hub id. Causal by default (a step's "
        "score then depends on its prefix alone, as step-level search and RL need); a bidirectional encoder (MiniLM) "
        "lets later steps move an earlier step's score.",
    )  # fmt: skip
    max_length: int = Field(256, ge=16, description="Tokens per window; a longer trace is read in left-truncated windows (every step scored, the truncated ones counted).")
    epochs: float = Field(3.0, gt=0, description="Passes over the training traces.")
    learning_rate: float = Field(1e-4, gt=0, description="Peak AdamW learning rate.")
    batch_size: int = Field(16, ge=1, description="Traces per device per step.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    warmup_ratio: float = Field(0.1, ge=0, lt=1, description="Fraction of the updates with linear LR warm-up.")
    lr_scheduler: str = Field("linear", description="transformers LR schedule name.")
    hard_labels: bool = Field(False, description="Round soft step labels to 0/1 (0.5 stays).")
    freeze_embeddings: bool = Field(True, description="Keep the token/position embeddings fixed.")
    freeze_layers: int = Field(0, ge=0, description="Keep the first N transformer layers fixed.")
    bf16: bool | None = Field(None, description="bf16 autocast; None = where the hardware has it.")
    lora: LoraSettings | None = Field(None, description="Train LoRA adapters (peft, TOKEN_CLS) instead of all weights; merged on save.")
    eval_fraction: float = Field(0.1, ge=0, lt=1, description="Share of the traces held out for the saved metrics.")
    separator: str = Field("\n\n", description="How a plain response is split into steps when it is scored.")
    aggregate: Aggregate = Field("min", description="A trace's score from its step scores: the lowest, their product, or the last.")
    threshold: float = Field(0.5, gt=0, lt=1, description="A step scored below this is an error (first-error prediction).")
    seed: int = Field(0, description="Seed for the hold-out split, the head and the data order.")
    logging_steps: int = Field(10, ge=1, description="Log the loss every N updates.")
