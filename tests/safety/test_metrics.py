"""Safety metrics against hand-computed values and a brute-force AUROC."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from constitution.safety.metrics import at_threshold, auprc, auroc, threshold_for_fpr, threshold_for_precision


def _brute_auroc(scores, labels):
    pairs = [(p, n) for p, n in itertools.product(scores[labels == 1], scores[labels == 0])]
    return sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs) / len(pairs)


def test_auroc_matches_brute_force_with_ties():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, size=60).astype(float)
    labels = rng.integers(0, 2, size=60)
    assert auroc(scores, labels) == pytest.approx(_brute_auroc(scores, labels))


def test_auprc_hand_computed():
    scores = np.array([0.9, 0.8, 0.7, 0.1])
    labels = np.array([1, 0, 1, 0])
    # precision at hits: 1/1, 2/3 -> mean 5/6
    assert auprc(scores, labels) == pytest.approx(5 / 6)
    assert auprc(scores, np.zeros(4, dtype=int)) is None and auroc(scores, np.ones(4, dtype=int)) is None


def test_threshold_metrics():
    m = at_threshold(np.array([0.9, 0.8, 0.7, 0.1]), np.array([1, 0, 1, 0]), 0.75)
    assert (m.precision, m.recall, m.fpr) == (0.5, 0.5, 0.5) and m.f1 == pytest.approx(0.5)


def test_threshold_for_fpr_keeps_fpr_under_target():
    rng = np.random.default_rng(1)
    scores = rng.random(400)
    labels = (rng.random(400) < 0.3).astype(int)
    for target in (0.0, 0.05, 0.2):
        t = threshold_for_fpr(scores, labels, target)
        assert at_threshold(scores, labels, t).fpr <= target
        # and it is the lowest such threshold: one notch lower breaks the target (unless nothing is flagged wrongly)
        lower = np.sort(scores[labels == 0])[::-1][int(np.floor(target * (labels == 0).sum()))]
        assert at_threshold(scores, labels, lower).fpr > target


def test_threshold_for_precision():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.1])
    labels = np.array([1, 1, 0, 1, 0])
    assert threshold_for_precision(scores, labels, 1.0) == 0.8
    assert threshold_for_precision(scores, labels, 0.75) == 0.6
