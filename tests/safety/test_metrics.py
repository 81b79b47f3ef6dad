"""Safety metrics against hand-computed values and brute-force references written independently of scikit-learn."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from constitution.safety.metrics import at_threshold, auprc, auroc, threshold_for_fpr, threshold_for_precision


def _brute_auroc(scores, labels):
    pairs = [(p, n) for p, n in itertools.product(scores[labels == 1], scores[labels == 0])]
    return sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs) / len(pairs)


def _counts_at(scores, labels, thresholds):
    """(true positives, false positives) at each threshold, decisions ``score >= t``."""
    pos, neg = np.sort(scores[labels == 1]), np.sort(scores[labels == 0])
    return len(pos) - np.searchsorted(pos, thresholds), len(neg) - np.searchsorted(neg, thresholds)


def _brute_auprc(scores, labels):
    """Σ (R_k − R_{k−1}) P_k over the distinct scores, highest first: tied rows enter together."""
    thresholds = np.unique(scores)[::-1]
    tp, fp = _counts_at(scores, labels, thresholds)
    recall = np.concatenate([[0.0], tp / (labels == 1).sum()])
    return float(np.sum(np.diff(recall) * tp / (tp + fp)))


def _brute_threshold_for_precision(scores, labels, target):
    """The lowest distinct score whose decisions reach ``target`` precision with recall > 0, or None."""
    thresholds = np.unique(scores)
    tp, fp = _counts_at(scores, labels, thresholds)
    ok = (tp / (tp + fp) >= target) & (tp > 0)
    return float(thresholds[ok][0]) if ok.any() else None


def _tied_data(n, seed, levels=6):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, levels, size=n) / levels  # many rows share each score
    labels = (rng.random(n) < 0.2 + 0.6 * scores).astype(int)
    return scores, labels


def _all_metrics(scores, labels):
    return {
        "auroc": auroc(scores, labels),
        "auprc": auprc(scores, labels),
        "at_thresholds": [at_threshold(scores, labels, t).model_dump() for t in (0.0, 0.34, 0.5, 0.84)],
        "fpr_thresholds": [threshold_for_fpr(scores, labels, t) for t in (0.0, 0.05, 0.3)],
        "precision_thresholds": [threshold_for_precision(scores, labels, t) for t in (0.5, 0.7)],
    }


def test_every_metric_is_unchanged_by_row_order_with_tied_scores():
    scores, labels = _tied_data(400, seed=3)
    reference = _all_metrics(scores, labels)
    rng = np.random.default_rng(0)
    for _ in range(20):
        order = rng.permutation(len(scores))
        assert _all_metrics(scores[order], labels[order]) == reference


@pytest.mark.parametrize("seed, levels", [(0, 5), (1, 3), (2, 10_000)], ids=["ties", "heavy ties", "no ties"])
def test_ranking_metrics_match_brute_force(seed, levels):
    scores, labels = _tied_data(300, seed, levels)
    assert auroc(scores, labels) == pytest.approx(_brute_auroc(scores, labels), abs=1e-12)
    assert auprc(scores, labels) == pytest.approx(_brute_auprc(scores, labels), abs=1e-12)


def test_auprc_hand_computed():
    scores = np.array([0.9, 0.8, 0.7, 0.1])
    labels = np.array([1, 0, 1, 0])
    # precision at hits: 1/1, 2/3 -> mean 5/6
    assert auprc(scores, labels) == pytest.approx(5 / 6)
    # a tie between a hit and a miss is one threshold: precision 1/2 there, whatever the row order
    assert auprc(np.array([0.5, 0.5]), np.array([1, 0])) == pytest.approx(0.5)
    assert auprc(np.array([0.5, 0.5]), np.array([0, 1])) == pytest.approx(0.5)
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
    with pytest.raises(ValueError, match="no threshold reaches"):
        threshold_for_precision(scores, np.array([0, 0, 1, 0, 0]), 0.9)
    with pytest.raises(ValueError, match="no unsafe"):
        threshold_for_precision(scores, np.zeros(5, dtype=int), 0.5)


def test_threshold_for_precision_is_the_lowest_qualifying_score():
    for seed in range(6):
        scores, labels = _tied_data(60, seed, levels=8 + seed)
        for target in (0.4, 0.6, 0.8, 0.95):
            want = _brute_threshold_for_precision(scores, labels, target)
            # literally: the first distinct score, lowest first, whose decisions qualify
            loop = next((float(t) for t in np.unique(scores) if (m := at_threshold(scores, labels, t)).precision >= target and m.recall > 0), None)
            assert want == loop
            if want is None:
                with pytest.raises(ValueError):
                    threshold_for_precision(scores, labels, target)
            else:
                assert threshold_for_precision(scores, labels, target) == want


def test_threshold_for_precision_on_20k_rows():
    rng = np.random.default_rng(5)
    scores = np.round(rng.random(20_000), 3)  # ties, and many distinct thresholds
    labels = (rng.random(20_000) < scores).astype(int)
    for target in (0.7, 0.9):
        assert threshold_for_precision(scores, labels, target) == _brute_threshold_for_precision(scores, labels, target)
