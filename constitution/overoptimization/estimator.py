"""The unbiased best-of-n estimator (Nakano et al. 2021; Gao et al. 2022 §3) over a pool of N samples per prompt.

Best-of-n keeps the sample the proxy scores highest among n drawn from the policy. From one pool of N ≥ n samples
the expectation over every n-subset is exact without drawing any: sort the pool by the proxy; the i-th lowest
(1-based) is the proxy's pick in C(i−1, n−1) of the C(N, n) subsets, so its weight is C(i−1, n−1) / C(N, n).
Proxy ties are broken by sample order (as ``max`` over the subset would pick the first of equals).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel

from constitution.errors import InputError


def kl_bon(n: int) -> float:
    """KL(best-of-n ‖ policy) = log n − (n − 1)/n (the analytic bound Gao et al. plot against)."""
    if n < 1:
        raise InputError(f"best-of-n needs n >= 1, got {n}")
    return math.log(n) - (n - 1) / n


def bon_weights(pool: int, n: int) -> np.ndarray:
    """Weight of each proxy rank (ascending, lowest first) in the best-of-``n`` estimate from ``pool`` samples."""
    if not 1 <= n <= pool:
        raise InputError(f"best-of-n needs 1 <= n <= pool size ({pool}), got n = {n}")
    i = np.arange(1, pool + 1)
    log_w = np.full(pool, -np.inf)
    ok = i >= n  # C(i−1, n−1) = 0 below rank n
    lg = np.vectorize(math.lgamma)
    log_w[ok] = lg(i[ok]) - lg(n) - lg(i[ok] - n + 1) - (lg(pool + 1) - lg(n + 1) - lg(pool - n + 1))
    w = np.exp(log_w)
    return w / w.sum()  # exact up to rounding: the weights sum to 1 (hockey-stick identity)


def _matrix(scores, name: str) -> np.ndarray:
    m = np.asarray(scores, dtype=float)
    if m.ndim != 2 or m.shape[1] < 1:
        raise InputError(f"{name} scores must be a (prompts × samples) matrix, got shape {m.shape}")
    if not np.isfinite(m).all():
        raise InputError(f"{name} scores contain NaN or infinite values")
    return m


def _ranked(proxy, gold) -> tuple[np.ndarray, np.ndarray]:
    """Both score matrices of one pool, each prompt's samples sorted ascending by the proxy (among proxy equals the
    earlier sample ranks higher, as ``max`` over a subset keeps the first)."""
    p, g = _matrix(proxy, "proxy"), _matrix(gold, "gold")
    if p.shape != g.shape:
        raise InputError(f"proxy and gold must score the same pool: shapes {p.shape} and {g.shape}")
    later_first = -np.broadcast_to(np.arange(p.shape[1]), p.shape)
    order = np.lexsort((later_first, p), axis=1)
    return np.take_along_axis(p, order, axis=1), np.take_along_axis(g, order, axis=1)


def pick_scores(proxy, gold, ns: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Per prompt and n: the expected proxy and gold score of the proxy's best-of-n pick, two (prompts × len(ns))
    matrices. ``proxy`` and ``gold`` score the same pool: (prompts × N) each."""
    ranked_p, ranked_g = _ranked(proxy, gold)
    w = np.stack([bon_weights(ranked_p.shape[1], n) for n in ns], axis=1)  # (N × len(ns))
    return ranked_p @ w, ranked_g @ w


class BonCurve(BaseModel):
    """Best-of-n against √KL_bon: the proxy's and the gold's score of the proxy's pick, means over prompts."""

    n: list[int]
    kl_bon: list[float]
    sqrt_kl_bon: list[float]
    proxy: list[float]
    gold: list[float]
    prompts: int
    pool: int


def bon_curve(proxy, gold, ns: Sequence[int] | None = None) -> BonCurve:
    """The curve for every n in ``ns`` (default: 1..N) from one pool scored by the proxy and the gold."""
    pool = _matrix(proxy, "proxy").shape[1]
    ns = list(ns) if ns is not None else list(range(1, pool + 1))
    p, g = pick_scores(proxy, gold, ns)
    kls = [kl_bon(n) for n in ns]
    return BonCurve(n=ns, kl_bon=kls, sqrt_kl_bon=[math.sqrt(k) for k in kls], proxy=p.mean(axis=0).tolist(),
                    gold=g.mean(axis=0).tolist(), prompts=p.shape[0], pool=pool)  # fmt: skip


def bon_pair_weights(pool: int, n: int) -> np.ndarray:
    """Chance of each ordered pair of proxy ranks (ascending, lowest first) being the picks of two independent
    best-of-``n`` draws: two disjoint n-subsets of the pool (so ``2n <= pool``), each keeping its highest. For
    ranks i ≠ j (1-based) the subsets are counted as C(min−1, n−1) · C(max−1−n, n−1) of C(N, n) · C(N−n, n)."""
    if not 1 <= n <= pool // 2:
        raise InputError(f"two independent best-of-n picks need 1 <= n <= pool size / 2 ({pool // 2}), got n = {n}")
    lg = math.lgamma

    def log_comb(a: int, b: int) -> float:
        return lg(a + 1) - lg(b + 1) - lg(a - b + 1) if 0 <= b <= a else -math.inf

    total = log_comb(pool, n) + log_comb(pool - n, n)
    w = np.zeros((pool, pool))
    for i in range(1, pool + 1):
        for j in range(1, i):  # j < i: the lower pick's subset lies below i
            w[i - 1, j - 1] = w[j - 1, i - 1] = math.exp(log_comb(j - 1, n - 1) + log_comb(i - 1 - n, n - 1) - total)
    return w / w.sum()


class PairAgreement(BaseModel):
    """Per n: what a gold check sees of best-of-n under the proxy, with pairs of two independent picks for one
    prompt (prompts drawn alike): the share of pairs the gold finds decisive, and the proxy–gold agreement over them
    (None where no pair is decisive)."""

    n: list[int]
    decisive: list[float]
    agreement: list[float | None]


def pick_pair_agreement(proxy, gold_raw, ns: Sequence[int], *, min_gold_margin: float = 0.05) -> PairAgreement:
    """The gold monitor's view of best-of-n (the pairs of :func:`bon_pair_weights`): a pair is decisive when the
    gold's p_a = σ(g_a − g_b) of its raw scores is more than ``min_gold_margin`` from ½, and agrees when the proxy
    orders it as the gold does (a proxy tie counts ½), as the RL monitor counts its checks
    (:func:`constitution.rl.monitor.agreement`). Two picks of the same sample are a pair the gold cannot decide; the
    monitor pairs only completions of different text, so a pool with repeated texts gives a lower decisive share here
    than the monitor would see (agreement is unaffected: such pairs are never decisive). Memory: a few
    prompts × N × N arrays."""
    rp, rg = _ranked(proxy, gold_raw)
    dp = rp[:, :, None] - rp[:, None, :]
    dg = rg[:, :, None] - rg[:, None, :]
    decisive = 0.5 * np.abs(np.tanh(dg / 2)) > min_gold_margin  # |σ(dg) − ½|, without overflow
    agrees = np.where(dp == 0, 0.5, (np.sign(dp) == np.sign(dg)).astype(float)) * decisive
    shares, agreement = [], []
    for n in ns:
        w = bon_pair_weights(rp.shape[1], n)
        den = float((decisive * w).sum(axis=(1, 2)).mean())
        shares.append(den)
        agreement.append(float((agrees * w).sum(axis=(1, 2)).mean()) / den if den > 0 else None)
    return PairAgreement(n=list(ns), decisive=shares, agreement=agreement)
