"""Remedies with known answers on synthetic pools.

Ensembles: three proxies, each with its own independent exploit (proxy_k = q + b·e_k, gold = q − c·Σe_k). The worst
case rewards an exploit only when all three members have it (ρ³), so it nearly follows the control's n/(n+1) − 3cρ; mean −
λ·std discounts a lone member's exploit; the plain mean hands every member's exploit a bonus b/K and, three exploits
being three times as frequent, is overrun at least as badly as one member.

Refresh: a linear proxy w·(q, e) with w = (1, b) refreshed (logistic regression on its own top picks against lower
samples, gold-labelled) learns the gold's weights (1, −c) and is no longer overrun; cross-fitting keeps each fold's
labels out of its own scores.
"""

import math

import numpy as np
import pytest

from constitution.errors import InputError
from constitution.overoptimization import ENSEMBLES, bon_curve, ensemble, folds, paired_difference, refresh_pairs

PROMPTS, POOL, RHO, BONUS, PENALTY, MEMBERS = 4000, 64, 0.05, 2.0, 1.0, 3
NS = list(range(1, POOL + 1))


@pytest.fixture(scope="module")
def members():
    rng = np.random.default_rng(0)
    quality = rng.random((PROMPTS, POOL))
    exploits = (rng.random((MEMBERS, PROMPTS, POOL)) < RHO).astype(float)
    return quality[None] + BONUS * exploits, quality - PENALTY * exploits.sum(axis=0)


def test_ensembles_of_proxies_with_independent_exploits(members):
    proxies, gold = members
    single = [bon_curve(p, gold).gold for p in proxies]
    for curve in single:  # each member alone is overrun
        assert curve[-1] < max(curve) - 0.5
    combined = {kind: bon_curve(ensemble(proxies, kind, lam=1.0), gold).gold for kind in ENSEMBLES}
    worst = combined["worst"]
    control = [n / (n + 1) - MEMBERS * PENALTY * RHO for n in NS]  # as if no member could be exploited
    assert worst == pytest.approx(control, abs=0.03)  # up to the rare samples that carry all three exploits (ρ³)
    assert worst[-1] >= max(worst) - 0.03 and worst[-1] > max(c[-1] for c in single) + 1.0
    assert combined["mean_minus_std"][-1] > max(c[-1] for c in single) + 0.5
    assert combined["mean"][-1] <= max(c[-1] for c in single)  # averaging spreads the exploits, it does not cancel them
    gained = paired_difference(ensemble(proxies, "worst"), proxies[0], gold, POOL, bootstrap=200)
    assert gained.mean == pytest.approx(worst[-1] - single[0][-1]) and gained.ci[0] > 1.0
    same = paired_difference(proxies[0], proxies[0], gold, POOL, bootstrap=50)
    assert same.mean == 0.0 and same.ci == (0.0, 0.0)


def test_ensemble_arithmetic_and_errors():
    s = np.array([[[1.0, 4.0]], [[3.0, 0.0]]])
    assert ensemble(s, "mean").tolist() == [[2.0, 2.0]]
    assert ensemble(s, "worst").tolist() == [[1.0, 0.0]]
    assert ensemble(s, "mean_minus_std", lam=0.5).tolist() == [[1.5, 1.0]]
    with pytest.raises(InputError, match=">= 2 members"):
        ensemble(s[:1], "mean")
    with pytest.raises(InputError, match="unknown ensemble"):
        ensemble(s, "median")


def refit(features: np.ndarray, picks, weights: np.ndarray, steps: int = 2000) -> np.ndarray:
    """The synthetic proxy's refresh: logistic regression of the gold labels on feature differences, warm-started."""
    diff = np.array([features[p.row, p.pick] - features[p.row, p.other] for p in picks])
    label = np.array([p.p_pick for p in picks])
    for _ in range(steps):
        weights = weights - 0.5 * diff.T @ (1 / (1 + np.exp(-diff @ weights)) - label) / len(label)
    return weights


def test_proxy_refreshed_on_its_own_picks_is_no_longer_overrun():
    rng = np.random.default_rng(1)
    prompts = 400
    quality, exploit = rng.random((prompts, POOL)), (rng.random((prompts, POOL)) < RHO).astype(float)
    features, start = np.stack([quality, exploit], axis=-1), np.array([1.0, BONUS])
    proxy, gold = features @ start, quality - PENALTY * exploit
    refreshed = np.zeros_like(proxy)
    parts = folds(prompts, 2, seed=0)
    for k, fold in enumerate(parts):
        others = np.concatenate([f for j, f in enumerate(parts) if j != k])
        picks = refresh_pairs(proxy, gold, others, top=4, seed=k)
        assert {p.row for p in picks} == set(others.tolist()) and len(picks) == 4 * len(others)
        assert all(proxy[p.row, p.pick] > proxy[p.row, p.other] for p in picks)
        weights = refit(features, picks, start)
        assert weights == pytest.approx([1.0, -PENALTY], abs=0.05)  # the gold's own weights
        refreshed[fold] = (features @ weights)[fold]
    plain, fresh = bon_curve(proxy, gold).gold, bon_curve(refreshed, gold).gold
    assert plain[-1] < max(plain) - 0.5
    assert fresh[-1] >= max(fresh) - 0.01 and fresh[-1] > 0.9


def test_folds_partition_the_prompts_and_labels_are_the_gold_preference():
    parts = folds(10, 3, seed=4)
    assert sorted(np.concatenate(parts).tolist()) == list(range(10)) and [len(p) for p in parts] == [4, 3, 3]
    picks = refresh_pairs(np.array([[0.0, 1.0, 2.0]]), np.array([[0.0, 0.0, -1.0]]), [0], top=1)
    assert picks[0].pick == 2 and picks[0].p_pick == pytest.approx(1 / (1 + math.e))
    with pytest.raises(InputError, match="folds"):
        folds(3, 5)
