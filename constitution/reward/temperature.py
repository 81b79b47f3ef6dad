"""Temperature scaling of a reward model, folded into its scalar head.

Bradley–Terry training on noisy preferences over-fits the *scale* of the reward gap before it over-fits its sign, so
σ(r_a − r_b) comes out over-confident. One scalar T fitted on held-out pairs (Guo et al. 2017) fixes most of it;
dividing the head's weight and bias by T keeps the saved folder a plain ``*ForSequenceClassification`` model whose
rankings (accuracy, best-of-n choices) are unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

MIN_PAIRS = 50  # fewer held-out pairs give a temperature that mostly fits their noise


def pair_nll(d: np.ndarray, p: np.ndarray) -> float:
    """Mean soft-label Bradley–Terry NLL of reward gaps ``d`` against labels ``p``."""
    return float(np.mean(p * np.logaddexp(0.0, -d) + (1.0 - p) * np.logaddexp(0.0, d)))


def fit_temperature(
    r_a: Sequence[float], r_b: Sequence[float], p_a: Sequence[float], low: float = 0.1, high: float = 10.0
) -> float:
    """T in [low, high] that minimises the held-out NLL of (r_a − r_b) / T (golden-section search on log T).

    Returns 1.0 (no scaling) for fewer than ``MIN_PAIRS`` pairs or degenerate gaps.
    """
    d = np.asarray(r_a, dtype=np.float64) - np.asarray(r_b, dtype=np.float64)
    p = np.asarray(p_a, dtype=np.float64)
    if d.size < MIN_PAIRS or not np.isfinite(d).all() or not np.any(d):
        return 1.0
    a, b = np.log(low), np.log(high)
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    for _ in range(60):
        c, e = b - ratio * (b - a), a + ratio * (b - a)
        if pair_nll(d / np.exp(c), p) <= pair_nll(d / np.exp(e), p):
            b = e
        else:
            a = c
    return float(np.exp((a + b) / 2.0))


def scalar_head(model) -> torch.nn.Linear:
    """The final ``Linear(·, 1)`` that produces the reward (``classifier`` on BERT, ``score`` on decoders)."""
    heads = [m for m in model.modules() if isinstance(m, torch.nn.Linear) and m.out_features == 1]
    if not heads:
        raise ValueError(f"{type(model).__name__} has no Linear(·, 1) reward head")
    return heads[-1]


@torch.no_grad()
def apply_temperature(model, temperature: float) -> None:
    """Divide the reward head's weight and bias by ``temperature`` (rewards become r / T)."""
    head = scalar_head(model)
    head.weight.div_(temperature)
    if head.bias is not None:
        head.bias.div_(temperature)
