"""The best-of-n estimator against brute force over every subset, and KL_bon against the KL of best-of-n."""

import itertools
import math

import numpy as np
import pytest

from constitution.errors import InputError
from constitution.overoptimization import bon_curve, bon_weights, kl_bon, pick_scores


def brute_force(proxy: list[float], gold: list[float], n: int) -> tuple[float, float]:
    """Mean proxy and gold score of the proxy's pick over every n-subset (``max`` keeps the first of equals)."""
    picks = [max(subset, key=lambda i: proxy[i]) for subset in itertools.combinations(range(len(proxy)), n)]
    return float(np.mean([proxy[i] for i in picks])), float(np.mean([gold[i] for i in picks]))


def test_estimator_equals_the_mean_over_every_subset():
    rng = np.random.default_rng(0)
    proxy = rng.normal(size=(3, 8))
    proxy[1, :4] = proxy[1, 4:]  # ties: the earlier sample of equals is the pick, as max() over a subset keeps it
    gold = rng.normal(size=(3, 8))
    ns = list(range(1, 9))
    est_proxy, est_gold = pick_scores(proxy, gold, ns)
    for row in range(3):
        for k, n in enumerate(ns):
            want_proxy, want_gold = brute_force(proxy[row].tolist(), gold[row].tolist(), n)
            assert est_proxy[row, k] == pytest.approx(want_proxy, abs=1e-12)
            assert est_gold[row, k] == pytest.approx(want_gold, abs=1e-12)


def test_weights_are_the_binomial_ratios_even_for_large_pools():
    w = bon_weights(10, 3)
    assert w.tolist() == pytest.approx([math.comb(i - 1, 2) / math.comb(10, 3) for i in range(1, 11)], abs=1e-15)
    big = bon_weights(4096, 700)  # C(4096, 700) overflows floats: computed in log space
    assert np.isfinite(big).all() and big.sum() == pytest.approx(1.0)
    assert bon_weights(64, 64)[-1] == pytest.approx(1.0) and bon_weights(64, 1) == pytest.approx(np.full(64, 1 / 64))


def kl_of_best_of_n(n: int, outcomes: int) -> float:
    """Exact KL(best-of-n ‖ uniform policy) over ``outcomes`` equally likely outcomes of distinct rewards."""
    cdf = np.arange(outcomes + 1) / outcomes
    p = cdf[1:] ** n - cdf[:-1] ** n  # P(the best of n is the i-th outcome)
    return float(np.sum(p[p > 0] * np.log(p[p > 0] * outcomes)))


@pytest.mark.parametrize("n", [1, 2, 4, 16, 64, 256])
def test_kl_bon_is_the_kl_of_best_of_n_over_a_continuous_policy(n):
    assert kl_bon(n) == pytest.approx(kl_of_best_of_n(n, 200_000), abs=2e-3)


def test_curve_is_n_one_to_pool_and_bad_input_is_named():
    curve = bon_curve(np.arange(12.0).reshape(2, 6), np.zeros((2, 6)))
    assert curve.n == [1, 2, 3, 4, 5, 6] and curve.kl_bon[0] == 0.0 and curve.sqrt_kl_bon[1] == pytest.approx(math.sqrt(kl_bon(2)))
    with pytest.raises(InputError, match="same pool"):
        pick_scores(np.zeros((2, 6)), np.zeros((2, 5)), [1])
    with pytest.raises(InputError, match="NaN"):
        pick_scores(np.full((2, 6), np.nan), np.zeros((2, 6)), [1])
    with pytest.raises(InputError, match="1 <= n <= pool"):
        bon_weights(6, 7)
