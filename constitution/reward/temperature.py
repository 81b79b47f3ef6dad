"""Temperature scaling of a reward model, folded into its scalar head.

Bradley–Terry training on noisy preferences over-fits the *scale* of the reward gap before it over-fits its sign, so
σ(r_a − r_b) comes out over-confident. One scalar T fitted on held-out pairs (Guo et al. 2017) fixes most of it;
dividing the head's weight and bias by T keeps the saved folder a plain ``*ForSequenceClassification`` model whose
rankings (accuracy, best-of-n choices) are unchanged.

T is fitted on one half of the held-out pairs and the calibrated ECE/NLL are measured on the other half, so the
reported calibration is out-of-sample (:func:`heldout_report`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from pydantic import BaseModel

from constitution.reward.evaluate import preference_metrics

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


class HeldoutCalibration(BaseModel):
    """Which held-out pairs fitted the temperature and which ones the reported metrics were measured on."""

    temperature: float
    fit_pairs: int
    report_pairs: int
    ece_is: str
    accuracy_is: str = "all held-out pairs (they also chose the best epoch)"


def calibration_split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded disjoint halves of ``n`` held-out pairs: (indices that fit T, indices that report ECE/NLL)."""
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[: n // 2]), np.sort(order[n // 2 :])


def heldout_report(
    r_a: np.ndarray, r_b: np.ndarray, p_a: np.ndarray, *, calibrate: bool, seed: int
) -> tuple[dict[str, float], HeldoutCalibration]:
    """Held-out metrics and how they were obtained.

    With calibration and at least ``2 * MIN_PAIRS`` pairs, T is fitted on one half (:func:`calibration_split`) and
    ``ece``/``nll`` are those of r / T on the other half, with ``ece_uncalibrated``/``nll_uncalibrated`` on the same
    half before scaling. Otherwise T = 1 and ``ece``/``nll`` are the raw ones on all held-out pairs, and the record
    says why. ``accuracy`` is always over all held-out pairs (scaling does not change it).
    """
    n = int(p_a.size)
    metrics = preference_metrics(r_a, r_b, p_a)
    if not calibrate or n < 2 * MIN_PAIRS:
        why = "temperature scaling off" if not calibrate else f"{n} held-out pairs: fewer than {2 * MIN_PAIRS}, too few to fit on half and report on the other"
        return metrics, HeldoutCalibration(temperature=1.0, fit_pairs=0, report_pairs=n, ece_is=f"uncalibrated, on all held-out pairs ({why})")
    fit, report = calibration_split(n, seed)
    temperature = fit_temperature(r_a[fit], r_b[fit], p_a[fit])
    before = preference_metrics(r_a[report], r_b[report], p_a[report])
    after = preference_metrics(r_a[report] / temperature, r_b[report] / temperature, p_a[report])
    for key in ("ece", "nll"):
        metrics.pop(key, None)
        if key in after:
            metrics[key], metrics[f"{key}_uncalibrated"] = after[key], before[key]
    record = HeldoutCalibration(
        temperature=temperature,
        fit_pairs=len(fit),
        report_pairs=len(report),
        ece_is="out-of-sample: after temperature scaling, on report_pairs held-out pairs that did not fit the temperature",
    )
    return metrics, record


def scalar_head(model, outputs: int = 1) -> torch.nn.Linear:
    """The final ``Linear(·, outputs)`` that produces the reward (``classifier`` on BERT, ``score`` on decoders);
    ``outputs`` > 1 for a per-principle model's heads."""
    heads = [m for m in model.modules() if isinstance(m, torch.nn.Linear) and m.out_features == outputs]
    if not heads:
        raise ValueError(f"{type(model).__name__} has no Linear(·, {outputs}) reward head")
    return heads[-1]


def replace_head(model, old: torch.nn.Module, new: torch.nn.Module) -> None:
    """Put ``new`` where the reward head ``old`` sits in ``model`` (to grow or collapse a per-principle head)."""
    for name, module in model.named_modules():
        if module is old:
            parent, _, attr = name.rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, attr, new)
            return
    raise ValueError(f"{type(model).__name__}: the reward head to replace is not in the model")


@torch.no_grad()
def apply_temperature(model, temperature: float | Sequence[float]) -> None:
    """Divide the reward head's weight and bias by ``temperature`` (rewards become r / T); a sequence gives one
    temperature per output of a per-principle model's head."""
    scale = torch.as_tensor(temperature, dtype=torch.float32).reshape(-1)
    head = scalar_head(model, len(scale))
    head.weight.div_(scale.to(head.weight)[:, None])
    if head.bias is not None:
        head.bias.div_(scale.to(head.bias))
