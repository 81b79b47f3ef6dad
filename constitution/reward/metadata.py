"""``constitution_reward.json``: what a saved reward model needs besides its transformers folder."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from constitution.atomic import atomic_write_text
from constitution.reward.inputs import InputKind
from constitution.reward.temperature import HeldoutCalibration

METADATA_FILE = "constitution_reward.json"
CATEGORY_FILE = "category_heads.safetensors"  # the safety-category heads (reward.category_heads)
MODEL_CARD = "README.md"


class HeadInfo(BaseModel):
    """One per-principle head: its weight in the training constitution, how it was fitted and how well it agrees
    with its principle's labels on held-out pairs."""

    model_config = ConfigDict(extra="forbid")

    weight: float = Field(description="The principle's effective weight in the constitution the head was trained with.")
    temperature: float = Field(1.0, description="Held-out temperature folded into this head's row (its rewards are r/T).")
    train_pairs: int = Field(0, description="Pairs whose labels judged this principle (the only ones that trained it).")
    fitted: Literal["jointly", "frozen_features"] = Field(
        "jointly", description="'jointly': trained with the backbone; 'frozen_features': added later on a frozen backbone."
    )
    eval_metrics: dict[str, float] = Field(
        default_factory=dict, description="Held-out accuracy/ECE/NLL of this head against its principle's own labels."
    )
    calibration: HeldoutCalibration | None = None


class RewardMetadata(BaseModel):
    """Base model, input format, normalisation statistics and provenance of a trained reward model.

    A per-principle model (``heads`` non-empty) has one output per principle; its reward is the constitution's
    weighted mean of the heads (:mod:`constitution.reward.heads`), and ``head_mean``/``head_cov`` give the reward
    mean/std under any weights exactly.
    """

    model_config = ConfigDict(extra="allow")

    format_version: int = 1
    base_model: str = Field(description="The backbone it was trained from (alias, folder or hub id).")
    architecture: str = Field("", description="transformers class of the saved model.")
    input_format: InputKind = Field("hh", description="'hh': HH dialogue text; 'chat_template': the tokenizer's.")
    chat_template: str | None = Field(None, description="The chat template used when input_format='chat_template'.")
    max_length: int = Field(512, description="Tokens per sequence; longer inputs are truncated from the left.")
    truncation_side: str = "left"
    padding_side: str = "right"
    pooling: str = "native"
    reward_mean: float = Field(0.0, description="Mean raw reward over training responses (for normalisation).")
    reward_std: float = Field(1.0, description="Std of the raw rewards over training responses.")
    temperature: float = Field(1.0, description="Held-out temperature already folded into the head (rewards are r/T).")
    calibration: HeldoutCalibration | None = Field(
        None, description="Which held-out pairs fitted the temperature and which ones eval_metrics' ECE/NLL come from."
    )
    safety_threshold: float | None = Field(None, description="Unsafe-score threshold chosen on validation data.")
    safety_calibration: dict[str, Any] | None = Field(None, description="How safety_threshold was chosen.")
    constitution_hash: list[str] = Field(default_factory=list, description="constitution_hash values of its data.")
    train_data: str = ""
    train_pairs: int = 0
    eval_metrics: dict[str, float] = Field(default_factory=dict)
    training_config: dict[str, Any] = Field(default_factory=dict)
    heads: list[str] = Field(
        default_factory=list, description="Principle ids of the per-principle heads, in output order; empty: one scalar head."
    )
    head_info: dict[str, HeadInfo] = Field(default_factory=dict, description="Per head: weight, temperature, metrics.")
    head_mean: list[float] = Field(default_factory=list, description="Mean raw output of each head over training responses.")
    head_cov: list[list[float]] = Field(
        default_factory=list, description="Covariance of the heads' raw outputs over the same responses (K x K)."
    )
    category_heads: list[str] = Field(
        default_factory=list, description="Safety categories with a head in category_heads.safetensors (reward.category_heads)."
    )
    exported_from: dict[str, Any] | None = Field(
        None, description="A scalar model exported from a per-principle one: the source folder, heads and weights."
    )
    created: str = Field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))


def write_metadata(folder: str | Path, meta: RewardMetadata) -> Path:
    """Write the metadata file beside the model."""
    return atomic_write_text(Path(folder) / METADATA_FILE, json.dumps(meta.model_dump(), indent=2) + "\n")


def read_metadata(folder: str | Path) -> RewardMetadata | None:
    """The metadata of a saved reward model, or None for a plain transformers folder."""
    path = Path(folder) / METADATA_FILE
    if not path.exists():
        return None
    return RewardMetadata.model_validate_json(path.read_text())
