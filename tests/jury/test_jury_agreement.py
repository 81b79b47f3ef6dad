"""Cohen's kappa and Krippendorff's alpha against values computed by hand (and a published one) on fixed sets."""

from __future__ import annotations

import pytest

from constitution.labeling.jury.inter_judge import CohenKappa, KrippendorffAlpha, hard_label


def _kappa(pairs: list[tuple[str, str]]) -> CohenKappa:
    k = CohenKappa()
    for x, y in pairs:
        k.add(x, y)
    return k


def _alpha(units: list[list[object]]) -> KrippendorffAlpha:
    a = KrippendorffAlpha()
    for values in units:
        a.add(values)
    return a


def test_hard_labels():
    assert [hard_label(p) for p in (0.9, 0.5000001, 0.5, 0.2)] == ["a", "a", "tie", "b"]


def test_cohen_kappa_by_hand():
    # Three pairs, two judges: (a, a), (a, b), (b, b).
    # p_o = 2/3; judge 1 says a 2/3, b 1/3; judge 2 says a 1/3, b 2/3; p_e = 2/3·1/3 + 1/3·2/3 = 4/9;
    # kappa = (2/3 - 4/9) / (1 - 4/9) = (2/9) / (5/9) = 0.4.
    k = _kappa([("a", "a"), ("a", "b"), ("b", "b")])
    assert k.n == 3 and k.observed == pytest.approx(2 / 3) and k.kappa == pytest.approx(0.4)
    # 50 items: yes/yes 20, yes/no 5, no/yes 10, no/no 15: p_o = 0.7, p_e = 0.5·0.6 + 0.5·0.4 = 0.5, kappa = 0.4.
    k = _kappa([("y", "y")] * 20 + [("y", "n")] * 5 + [("n", "y")] * 10 + [("n", "n")] * 15)
    assert k.observed == pytest.approx(0.7) and k.kappa == pytest.approx(0.4)
    # Three categories, with ties: (a,a) (b,b) (tie,tie) (a,b): p_o = 3/4;
    # judge 1: a 2, b 1, tie 1; judge 2: a 1, b 2, tie 1; p_e = (2·1 + 1·2 + 1·1)/16 = 5/16;
    # kappa = (12/16 - 5/16) / (11/16) = 7/11.
    assert _kappa([("a", "a"), ("b", "b"), ("tie", "tie"), ("a", "b")]).kappa == pytest.approx(7 / 11)
    # Perfect disagreement on two balanced categories: p_o = 0, p_e = 1/2, kappa = -1.
    assert _kappa([("a", "b"), ("b", "a")]).kappa == pytest.approx(-1.0)


def test_cohen_kappa_is_undefined_without_variation_or_pairs():
    assert _kappa([("a", "a")] * 4).kappa is None  # p_o = p_e = 1: 0/0
    assert CohenKappa().kappa is None and CohenKappa().observed is None


def test_cohen_kappa_matches_scikit_learn():
    from sklearn.metrics import cohen_kappa_score

    first = list("aabbbtabab")
    second = list("abbbatabba")
    assert _kappa(list(zip(first, second))).kappa == pytest.approx(cohen_kappa_score(first, second))


def test_krippendorff_alpha_by_hand():
    # Two judges, three pairs: (a, a), (a, b), (b, b). Coincidences: o_aa = 2, o_ab = o_ba = 1, o_bb = 2;
    # n_a = n_b = 3, n = 6; alpha = 1 - (n - 1)·(o_ab + o_ba) / (n_a·n_b + n_b·n_a) = 1 - 5·2/18 = 4/9.
    a = _alpha([["a", "a"], ["a", "b"], ["b", "b"]])
    assert a.units == 3 and a.alpha == pytest.approx(4 / 9)
    # Three judges, one pair each way and a pair only one judge labelled (left out):
    # (a, a, b): pairs of values within the unit, each weighted 1/(m - 1) = 1/2: o_aa += 2·1/2 = 1, o_ab += 2·1/2 = 1,
    # o_ba += 1; (b, b, b): o_bb += 6·1/2 = 3. n_a = 2, n_b = 4, n = 6;
    # alpha = 1 - 5·2/(2·4 + 4·2) = 1 - 10/16 = 3/8.
    a = _alpha([["a", "a", "b"], ["b", "b", "b"], ["a"]])
    assert a.units == 2 and a.alpha == pytest.approx(3 / 8)


def test_krippendorff_alpha_published_example():
    """Krippendorff (2011), "Computing Krippendorff's alpha-reliability": 4 observers, 12 units, missing values;
    nominal alpha = 0.743."""
    n = None
    observers = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, n, n, n],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, n, 3],
        [n, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, n],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, n],
    ]
    units = [[o[u] for o in observers if o[u] is not None] for u in range(12)]
    a = _alpha(units)
    assert a.units == 11 and round(a.alpha, 3) == 0.743


def test_krippendorff_alpha_is_undefined_without_variation():
    assert _alpha([["a", "a"], ["a", "a", "a"]]).alpha is None
    assert _alpha([["a"], ["b"]]).alpha is None and KrippendorffAlpha().alpha is None
