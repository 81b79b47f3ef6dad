"""benchmarks/bench_overoptimization_bon.py (issue 35 item 4): the gold monitor's alarm chance per check along
best-of-n, and where it warns against the gold's highest point, on pools of known structure."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.bench_overoptimization_bon import check_alarm_chance, monitor_view, unit_label
from constitution.overoptimization import bon_curve
from constitution.rl.alarm import false_alarm_rate
from constitution.rl.config import MonitorConfig


def test_the_alarm_chance_is_the_binomial_mix_over_decisive_pairs():
    config = MonitorConfig(threshold=0.6)
    assert check_alarm_chance(0.6, 1.0, 0.6) == pytest.approx(false_alarm_rate(0.6, config.pairs, config))  # every pair decisive
    assert check_alarm_chance(0.2, 0.5, 0.6) < 0.2 < check_alarm_chance(0.2, 1.0, 0.6)  # half decisive: 20 of 32 is rare
    share = 0.7
    want = sum(math.comb(32, m) * share**m * (1 - share) ** (32 - m) * false_alarm_rate(0.3, m, config) for m in range(20, 33))
    assert check_alarm_chance(0.3, share, 0.6) == pytest.approx(want)
    assert check_alarm_chance(None, 0.0, 0.6) == 0.0


def planted(rng, exploit_weight: float):
    """Gold = quality; the proxy = quality + a bonus for a feature the gold penalises (exploit_weight 0: the control)."""
    quality = rng.normal(size=(300, 64))
    feature = rng.exponential(size=quality.shape)
    return quality + exploit_weight * 3 * feature, quality - exploit_weight * feature


def test_a_proxy_with_a_planted_exploit_is_warned_of_and_its_control_is_not():
    rng = np.random.default_rng(0)
    for weight, warns in ((1.0, True), (0.0, False)):
        proxy, gold = planted(rng, weight)
        c = bon_curve(proxy, gold)
        gain = [g - c.gold[0] for g in c.gold]
        view = monitor_view(proxy, gold, gain, c.sqrt_kl_bon)
        at = view["by_threshold"]["0.6"]
        assert view["gold_peak_n"] == int(np.argmax(gain)) + 1  # the highest point over every n, not n ≤ N/2 only
        if warns:
            assert view["agreement"][-1] < 0.5 and at["warning_n"] is not None and at["warning_n"] <= 4
        else:  # the proxy is the gold: agreement 1, never an alarm, and the gold rises to n = N
            assert view["agreement"] == pytest.approx([1.0] * 32) and at["warning_n"] is None
            assert view["gold_peak_n"] == 64 and not view["gold_peak_inside"] and at["lead_sqrt_kl"] is None
            assert at["false_alarm_chance_while_rising"] == pytest.approx(0.0, abs=1e-12)


def test_a_peak_inside_the_checked_range_gives_a_lead_in_sqrt_kl():
    """Gold rising to n = 3 then falling; the warning at n = 1 leads it by √KL_bon(3) − √KL_bon(1)."""
    proxy = np.array([[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]])
    gold = -proxy  # every proxy pair disagrees: the check alarms at once
    gain = [0.0, 0.2, 0.3, 0.1, 0.0, -0.1, -0.2, -0.3]
    sqrt_kl = [math.sqrt(math.log(n) - (n - 1) / n) for n in range(1, 9)]
    view = monitor_view(proxy, gold, gain, sqrt_kl)
    at = view["by_threshold"]["0.6"]
    assert view["gold_peak_n"] == 3 and view["gold_peak_inside"] and at["warning_n"] == 1
    assert at["lead_sqrt_kl"] == pytest.approx(sqrt_kl[2] - sqrt_kl[0])


def test_unit_labels_are_file_safe_and_tell_same_named_folders_apart():
    assert "/" not in unit_label("HuggingFaceTB/SmolLM2-135M-Instruct")
    assert unit_label("a/checkpoint-500") != unit_label("b/checkpoint-500")
