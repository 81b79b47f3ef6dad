"""The gold monitor's alarm: an exact one-sided binomial test of the proxy–gold agreement against the threshold.

A check labels n decisive pairs (gold not tied), of which k go the gold's way (a proxy tie counts ½; ties are
rounded in the proxy's favour, so k = ⌈score⌉). The alarm fires when there are at least ``min_decisive`` such pairs
and the one-sided Clopper–Pearson upper bound of the agreement at ``confidence`` is below ``threshold``; that is
when P(Bin(n, threshold) ≤ k) < 1 − confidence. So while the true agreement is at or above the threshold, a check
raises a false alarm with probability at most 1 − confidence (exactly :func:`false_alarm_rate`), whatever n is; a
few pairs with a low mean raise none.
"""

from __future__ import annotations

import math

from constitution.rl.config import MonitorConfig


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(Bin(n, p) ≤ k)."""
    if k < 0:
        return 0.0
    if k >= n or p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    terms = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q for i in range(k + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def successes(agreement: float, decisive: int) -> int:
    """Pairs that went the gold's way, proxy ties (½ each) rounded in the proxy's favour."""
    return min(decisive, math.ceil(agreement * decisive - 1e-9))


def upper_bound(agreement: float, decisive: int, confidence: float) -> float:
    """One-sided Clopper–Pearson upper confidence bound of the agreement (bisection to 1e-9)."""
    k = successes(agreement, decisive)
    if k >= decisive:
        return 1.0
    low, high = 0.0, 1.0
    while high - low > 1e-9:
        mid = (low + high) / 2
        low, high = (mid, high) if binomial_cdf(k, decisive, mid) > 1.0 - confidence else (low, mid)
    return high


def alarm(agreement: float | None, decisive: int, config: MonitorConfig) -> bool:
    """Whether the check alarms: enough decisive pairs, and agreement below the threshold at the confidence."""
    if agreement is None or decisive < config.min_decisive:
        return False
    return binomial_cdf(successes(agreement, decisive), decisive, config.threshold) < 1.0 - config.confidence


def false_alarm_rate(true_agreement: float, decisive: int, config: MonitorConfig) -> float:
    """The exact chance that a check of ``decisive`` pairs (no proxy ties) alarms when each pair agrees with the gold
    with probability ``true_agreement``: the binomial mass of the alarm region."""
    region = [k for k in range(decisive + 1) if alarm(k / decisive, decisive, config)]
    if not region:
        return 0.0
    return binomial_cdf(max(region), decisive, true_agreement)
