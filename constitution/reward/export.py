"""Export a per-principle reward model as a plain scalar one, exactly.

The heads are rows of one linear layer (``W``, ``b``) over a shared feature vector h, and the reward is
``Σ_k w_k (W_k·h + b_k) = (Σ_k w_k W_k)·h + Σ_k w_k b_k`` (``w`` the weights divided by their sum,
:func:`heads.head_weights`): itself one linear head. Replacing the K-output layer by
that single row gives a standard ``*ForSequenceClassification`` folder with ``num_labels=1`` whose score is the
weighted reward (equal up to float rounding), loadable by TRL and OpenRLHF as is. The weights are those of the
constitution given (or the training weights), frozen into the folder; its metadata records where it came from.
"""

from __future__ import annotations

from pathlib import Path

import torch
from pydantic import BaseModel

from constitution.errors import InputError
from constitution.principles import Constitution
from constitution.reward.metadata import RewardMetadata
from constitution.reward.model import RewardModel
from constitution.reward.publish import write_folder
from constitution.reward.temperature import replace_head, scalar_head


class ExportResult(BaseModel):
    """Where the scalar model went and the weights frozen into it (divided by their sum)."""

    out_dir: str
    weights: dict[str, float]
    reward_mean: float
    reward_std: float


@torch.no_grad()
def export_scalar(source: str | Path, out_dir: str | Path, constitution: Constitution | None = None) -> ExportResult:
    """Write ``out_dir``: the per-principle model at ``source`` collapsed into one scalar head under the
    constitution's weights (InputError for a scalar model, or a constitution naming a principle without a head)."""
    rm = RewardModel.load(source, device="cpu", bf16=False, constitution=constitution)
    meta = rm.metadata
    if not meta.heads:
        raise InputError("already a scalar reward model (no per-principle heads) — nothing to export", where=str(source))
    out = Path(out_dir).resolve()
    model = rm.model
    heads = scalar_head(model, len(meta.heads))
    w = torch.as_tensor(rm.weights, dtype=torch.float64)
    single = torch.nn.Linear(heads.in_features, 1, bias=heads.bias is not None)
    single.weight.copy_((w @ heads.weight.double())[None, :])
    if heads.bias is not None:
        single.bias.copy_((w @ heads.bias.double()).reshape(1))
    replace_head(model, heads, single)
    model.config.id2label, model.config.label2id = {0: "reward"}, {"reward": 0}
    model.config.update({"normalize_reward": False, "mean": rm.reward_mean, "std": rm.reward_std})
    weights = {h: float(x) for h, x in zip(meta.heads, rm.weights)}
    scalar = RewardMetadata(
        **meta.model_dump(exclude={"heads", "head_info", "head_mean", "head_cov", "exported_from", "created", "reward_mean", "reward_std"}),
        reward_mean=rm.reward_mean,
        reward_std=rm.reward_std,
        exported_from={
            "model": str(source),
            "constitution": constitution.id if constitution else "(training weights)",
            "constitution_hash": constitution.hash if constitution else None,
            "weights": weights,
            "heads": {h: info.model_dump() for h, info in meta.head_info.items()},
        },
    )
    write_folder(out, model, rm.tokenizer, scalar, source=Path(source).resolve())
    return ExportResult(out_dir=str(out), weights=weights, reward_mean=rm.reward_mean, reward_std=rm.reward_std)
