"""What a gold check sees of best-of-n: pairs of two independent picks (disjoint n-subsets of the pool) against brute
force over every such pair of subsets, with ties in the proxy and gold margins as the RL monitor counts them."""

import itertools
import math

import numpy as np
import pytest

from constitution.errors import InputError
from constitution.overoptimization import bon_pair_weights, pick_pair_agreement


def disjoint_picks(proxy: list[float], n: int):
    """Every ordered pair of disjoint n-subsets, as the two samples ``max`` keeps (the first of proxy equals)."""
    pool = range(len(proxy))
    for first in itertools.combinations(pool, n):
        for second in itertools.combinations([i for i in pool if i not in first], n):
            yield max(first, key=lambda i: proxy[i]), max(second, key=lambda i: proxy[i])


@pytest.mark.parametrize("pool,n", [(6, 1), (6, 3), (7, 2), (8, 4), (9, 3)])
def test_pair_weights_are_the_share_of_disjoint_subset_pairs(pool, n):
    picks = list(disjoint_picks(list(range(pool)), n))  # proxy = rank: sample i is rank i
    counts = np.zeros((pool, pool))
    for a, b in picks:
        counts[a, b] += 1
    assert np.abs(bon_pair_weights(pool, n) - counts / len(picks)).max() < 1e-12


def test_agreement_equals_brute_force_with_ties_and_gold_margins():
    rng = np.random.default_rng(3)
    proxy = rng.normal(size=(3, 8)).round(1)  # rounding makes proxy ties
    proxy[0, 5] = proxy[0, 2]
    gold = rng.normal(size=(3, 8))
    gold[1, 3] = gold[1, 6] + 0.1  # within the 0.05 margin of p = ½: not decisive
    ns = [1, 2, 3, 4]
    got = pick_pair_agreement(proxy, gold, ns, min_gold_margin=0.05)
    for k, n in enumerate(ns):
        decisive = agree = 0.0
        for row in range(3):
            pairs = list(disjoint_picks(proxy[row].tolist(), n))
            for a, b in pairs:
                gold_p = 1 / (1 + math.exp(-(gold[row, a] - gold[row, b])))
                if abs(gold_p - 0.5) <= 0.05:  # as constitution.rl.monitor.agreement skips them
                    continue
                decisive += 1 / len(pairs) / 3
                dp, dg = proxy[row, a] - proxy[row, b], gold[row, a] - gold[row, b]
                agree += (0.5 if dp == 0 else float(np.sign(dp) == np.sign(dg))) / len(pairs) / 3
        assert got.decisive[k] == pytest.approx(decisive, abs=1e-12)
        assert got.agreement[k] == pytest.approx(agree / decisive, abs=1e-12)


def test_a_proxy_that_is_the_gold_always_agrees_and_its_reverse_never():
    gold = np.random.default_rng(1).normal(size=(4, 10))
    assert pick_pair_agreement(gold, gold, [1, 3, 5]).agreement == pytest.approx([1.0, 1.0, 1.0])
    assert pick_pair_agreement(-gold, gold, [1, 3, 5]).agreement == pytest.approx([0.0, 0.0, 0.0])


def test_a_noisy_proxy_agrees_less_as_its_picks_crowd_its_top():
    """Among the proxy's top samples its ordering is mostly its own noise: the agreement falls with n even though
    the proxy is the gold plus independent noise (no exploit)."""
    rng = np.random.default_rng(0)
    gold = rng.normal(size=(400, 32))
    agreement = pick_pair_agreement(gold + rng.normal(size=gold.shape), gold, [1, 4, 16]).agreement
    assert agreement[0] > agreement[1] > agreement[2]


def test_two_picks_need_two_disjoint_subsets():
    with pytest.raises(InputError, match="pool size / 2"):
        bon_pair_weights(8, 5)


def test_gold_ties_are_never_decisive_even_at_margin_0():
    """As the RL monitor counts (|p_a − ½| <= margin is skipped): equal gold scores are no evidence either way."""
    got = pick_pair_agreement([[0.0, 1.0, 2.0, 3.0]], [[0.0, 0.0, 1.0, 1.0]], [1], min_gold_margin=0.0)
    assert got.decisive[0] == pytest.approx(4 / 6) and got.agreement[0] == 1.0
