"""KL to the initial policy per sequence, as Gao, Schulman & Hilton (2022) plot it, from TRL's per-token log.

TRL's GRPO logs ``kl``: its k3 estimate per completion token, averaged over every token of the step (a token-weighted
mean). Over-optimisation is read against the KL of whole sequences: the sum over a completion's tokens, averaged over
completions. The two differ by the mean completion length, which TRL logs as ``completions/mean_length`` over the same
completions and mask, so ``seq_kl = kl × completions/mean_length`` (the formula is :func:`constitution.overoptimization.rl_run.step_seq_kl`,
which reads RL folders too) — exact where a logged step is one loss batch, as in
``constitution rl`` (one step's completions are one batch, no gradient accumulation).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from constitution.overoptimization.rl_run import step_seq_kl as sequence_kl

__all__ = ["inexact_settings", "sequence_kl", "with_kl_names"]


def with_kl_names(row: Mapping[str, Any]) -> dict[str, Any]:
    """TRL's logged row plus ``kl_per_token`` (TRL's ``kl``, named for what it is) and ``seq_kl`` where it has a KL
    (None where TRL logged its KL as None: every value NaN)."""
    out = dict(row)
    if "kl" in row:
        out["kl_per_token"] = None if row["kl"] is None else float(row["kl"])
        out["seq_kl"] = None if row["kl"] is None else sequence_kl(row)
    return out


def inexact_settings(args: Any) -> list[str]:
    """The GRPO settings under which ``kl × completions/mean_length`` is not the mean sequence KL (TRL averages its
    metrics over several loss batches, logs the length only on generating steps, or leaves truncated completions
    out of the KL but not of the length); empty where it is exact."""
    named = {
        "gradient_accumulation_steps": getattr(args, "gradient_accumulation_steps", 1) or 1,
        "logging_steps": getattr(args, "logging_steps", 1) or 1,
        "steps_per_generation": getattr(args, "steps_per_generation", 1) or 1,
        "num_iterations": getattr(args, "num_iterations", 1) or 1,
    }
    out = [f"{name}={value}" for name, value in named.items() if value != 1]
    if getattr(args, "mask_truncated_completions", False):
        out.append("mask_truncated_completions=True")
    return out
