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

__all__ = ["sequence_kl", "with_kl_names"]


def with_kl_names(row: Mapping[str, Any]) -> dict[str, Any]:
    """TRL's logged row plus ``kl_per_token`` (TRL's ``kl``, named for what it is) and ``seq_kl`` where it has a KL."""
    out = dict(row)
    if "kl" in row:
        out["kl_per_token"] = float(row["kl"])
        out["seq_kl"] = sequence_kl(row)
    return out
