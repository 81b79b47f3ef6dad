"""Gao et al.'s best-of-n form R(d) = d(α − βd), d = √KL_bon, with intervals from a bootstrap over prompts.

R is the gain over n = 1 (the policy's own mean), so the form has no intercept. With β > 0 the gold peaks at
d* = α / (2β); with β ≤ 0 it does not peak. A peak beyond the largest measured d is an extrapolation and is
reported as such (``peak_in_range``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel

from constitution.errors import InputError
from constitution.overoptimization.estimator import kl_bon, pick_scores


def fit_gao(d, r) -> tuple[float, float]:
    """Least-squares (α, β) of r = α·d − β·d² (no intercept)."""
    d, r = np.asarray(d, dtype=float), np.asarray(r, dtype=float)
    if d.shape != r.shape or int((d > 0).sum()) < 2:
        raise InputError("Gao's fit needs at least two points with d > 0 (best-of-n with n >= 2, 3)")
    design = np.stack([d, -(d**2)], axis=1)
    (alpha, beta), *_ = np.linalg.lstsq(design, r, rcond=None)
    return float(alpha), float(beta)


class GaoFit(BaseModel):
    """α, β of R(d) = d(α − βd) and where it peaks (d* = α/2β), each with a bootstrap interval over prompts."""

    alpha: float
    beta: float
    alpha_ci: tuple[float, float]
    beta_ci: tuple[float, float]
    peaks: bool  # β > 0
    peak_d: float | None  # d* = α / 2β, None without a peak
    peak_kl_bon: float | None
    peak_in_range: bool  # d* inside the measured d (else the peak is an extrapolation)
    share_peaking: float  # share of bootstrap resamples with β > 0
    peak_d_ci: tuple[float, float] | None  # over the resamples that peak
    empirical_peak_n: int  # the n whose measured mean is highest
    n: list[int]
    gain: list[float]  # the measured mean gain per n (what is fitted)
    gain_ci: list[tuple[float, float]]  # per n, over the resamples
    rmse: float
    bootstrap: int
    level: float


def _interval(draws, level: float) -> tuple[float, float]:
    """The central ``level`` percentile interval of bootstrap draws."""
    tail = (1 - level) / 2 * 100
    return float(np.percentile(draws, tail)), float(np.percentile(draws, 100 - tail))


def _peak(alpha: float, beta: float) -> float | None:
    return alpha / (2 * beta) if beta > 0 else None


def gao_fit(proxy, gold, ns: Sequence[int], *, which: str = "gold", bootstrap: int = 1000, level: float = 0.95,
            seed: int = 0) -> GaoFit:  # fmt: skip
    """Fit the gain of ``which`` ("gold" or "proxy") score of the proxy's pick over n = 1, for n in ``ns``;
    intervals are percentiles of ``bootstrap`` resamples of the prompts."""
    if which not in ("gold", "proxy"):
        raise InputError(f"which must be 'gold' or 'proxy', got {which!r}")
    ns = sorted(set(ns) | {1})
    per_prompt = pick_scores(proxy, gold, ns)[0 if which == "proxy" else 1]  # (prompts × len(ns))
    gains = per_prompt - per_prompt[:, :1]
    d = np.sqrt([kl_bon(n) for n in ns])
    mean = gains.mean(axis=0)
    alpha, beta = fit_gao(d, mean)
    rng = np.random.default_rng(seed)
    rows = gains.shape[0]
    resampled = np.array([gains[rng.integers(0, rows, rows)].mean(axis=0) for _ in range(bootstrap)])
    draws = np.array([fit_gao(d, r) for r in resampled])
    ci = lambda x: _interval(x, level)  # noqa: E731
    peaking = draws[draws[:, 1] > 0]
    peak_d = _peak(alpha, beta)
    return GaoFit(
        alpha=alpha, beta=beta, alpha_ci=ci(draws[:, 0]), beta_ci=ci(draws[:, 1]), peaks=peak_d is not None,
        peak_d=peak_d, peak_kl_bon=peak_d**2 if peak_d is not None else None,
        peak_in_range=peak_d is not None and peak_d <= d.max(), share_peaking=len(peaking) / bootstrap,
        peak_d_ci=ci(peaking[:, 0] / (2 * peaking[:, 1])) if len(peaking) else None,
        empirical_peak_n=ns[int(np.argmax(mean))], n=ns, gain=mean.tolist(), gain_ci=[ci(column) for column in resampled.T],
        rmse=math.sqrt(float(np.mean((alpha * d - beta * d**2 - mean) ** 2))),
        bootstrap=bootstrap, level=level,
    )  # fmt: skip


class Difference(BaseModel):
    """Gold of proxy A's best-of-n pick minus proxy B's on the same pool, mean over prompts with a paired bootstrap."""

    n: int
    mean: float
    ci: tuple[float, float]
    level: float


def paired_difference(proxy_a, proxy_b, gold, n: int, *, bootstrap: int = 1000, level: float = 0.95, seed: int = 0) -> Difference:
    """How much more gold best-of-``n`` by ``proxy_a`` keeps than by ``proxy_b`` (both pick from one pool, so each
    prompt's difference is paired and the prompts are resampled together)."""
    diff = pick_scores(proxy_a, gold, [n])[1][:, 0] - pick_scores(proxy_b, gold, [n])[1][:, 0]
    rng = np.random.default_rng(seed)
    means = [diff[rng.integers(0, len(diff), len(diff))].mean() for _ in range(bootstrap)]
    return Difference(n=n, mean=float(diff.mean()), ci=_interval(means, level), level=level)
