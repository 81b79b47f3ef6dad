"""Stop reward training at the first nan/inf, before it can reach the weights or a checkpoint.

Two checks: the loss and rewards of every training batch, and the gradients before every optimizer step (a finite
loss can still back-propagate inf). Training runs in fp32 or bf16 without loss scaling, so a non-finite value is
always a fault, never an overflow to be skipped.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from constitution.reward.checkpoints import last_complete


class TrainingDiverged(RuntimeError):
    """The loss, rewards or gradients became nan/inf; the message names the step and the last good checkpoint."""

    def __init__(self, step: int, what: str, checkpoints: Path) -> None:
        good = last_complete(checkpoints)
        where = f"last good checkpoint: {good}" if good else "no checkpoint had been saved yet"
        super().__init__(f"training stopped at update step {step}: {what}; {where}")


def _kind(values: torch.Tensor) -> str:
    return "nan" if bool(torch.isnan(values).any()) else "inf"


def check_finite(loss: torch.Tensor, rewards: torch.Tensor, step: int, checkpoints: Path) -> None:
    """Raise TrainingDiverged unless the loss and every reward are finite (one device sync when they are)."""
    if bool(torch.isfinite(loss).all() & torch.isfinite(rewards).all()):
        return
    bad, what = (rewards, "rewards are") if bool(torch.isfinite(loss).all()) else (loss, "loss is")
    raise TrainingDiverged(step, f"the {what} {_kind(bad)}", checkpoints)


class FiniteGradients(TrainerCallback):
    """Raise TrainingDiverged before an optimizer step would write nan/inf gradients into the weights."""

    def on_pre_optimizer_step(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, model: torch.nn.Module, **kwargs
    ) -> TrainerControl:
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        if grads and not bool(torch.stack([g.isfinite().all() for g in grads]).all()):
            bad = torch.cat([g.flatten() for g in grads if not bool(g.isfinite().all())])
            raise TrainingDiverged(state.global_step + 1, f"the gradients are {_kind(bad)}", Path(args.output_dir))
        return control
