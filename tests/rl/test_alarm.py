"""The gold monitor's alarm: a minimum of decisive pairs and a confidence bound, so that its false-alarm rate while
the true agreement stays at the threshold is the binomial bound (synthetic streams; no model)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from constitution.rl.alarm import alarm, binomial_cdf, false_alarm_rate, upper_bound
from constitution.rl.config import MonitorConfig
from tests.diff.helpers import write_principles
from tests.rl.drift import ProgramGold, batch

CONFIG = MonitorConfig(threshold=0.6, min_decisive=20, confidence=0.95)


def test_binomial_cdf_and_the_upper_bound_against_brute_force():
    from math import comb

    assert binomial_cdf(7, 20, 0.3) == pytest.approx(sum(comb(20, i) * 0.3**i * 0.7 ** (20 - i) for i in range(8)), rel=1e-12)
    upper = upper_bound(10 / 30, 30, 0.95)
    assert binomial_cdf(10, 30, upper) == pytest.approx(0.05, abs=1e-6) and upper > 10 / 30
    assert upper_bound(1.0, 30, 0.95) == 1.0


@pytest.mark.parametrize(("true_agreement", "decisive"), [(0.6, 20), (0.6, 32), (0.6, 61), (0.8, 32)])
def test_false_alarm_rate_on_a_constant_agreement_stream_is_the_binomial_bound(true_agreement, decisive):
    """Many checks of a stream whose pairs agree with the gold with a constant probability at or above the
    threshold: the share that alarms matches the binomial mass of the alarm region (within 4 standard errors), which
    is at most 1 − confidence."""
    rng = np.random.default_rng(0)
    checks = 20_000
    agreed = (rng.random((checks, decisive)) < true_agreement).sum(axis=1)
    rate = np.mean([alarm(k / decisive, decisive, CONFIG) for k in agreed])
    exact = false_alarm_rate(true_agreement, decisive, CONFIG)
    assert exact <= 1 - CONFIG.confidence
    assert abs(rate - exact) <= 4 * np.sqrt(max(exact * (1 - exact), 1e-4) / checks) + 1e-9
    if true_agreement == 0.6:
        assert exact > 0.01  # the alarm does fire on a real fall: the bound is tight, not never


def test_no_alarm_below_the_minimum_of_decisive_pairs():
    assert not alarm(0.0, 19, CONFIG) and alarm(0.0, 20, CONFIG)
    assert not alarm(0.5, 20, CONFIG)  # 10 of 20 cannot rule out 0.6 at 95%
    assert alarm(0.3, 40, CONFIG)


def test_the_monitor_alarms_only_on_enough_decisive_pairs(tmp_path):
    """The real monitor and labeler with the program gold; the proxy is a plain function that prefers the dodges
    (every decisive pair disagrees)."""
    from constitution.labeling import JudgmentCache, Labeler
    from constitution.loader import load_constitution
    from constitution.rl import GoldMonitor

    def dodges(prompts, completions, **_):
        return [-float(any(ch.isdigit() for ch in c)) for c in completions]

    constitution = load_constitution(write_principles(tmp_path / "c", [("right", "Which response is more correct?", 1.0)]))
    labeler = Labeler(constitution, ProgramGold(), JudgmentCache(tmp_path / "gold.sqlite"))
    few = GoldMonitor(dodges, labeler, MonitorConfig(every=1, pairs=4, min_decisive=12))
    prompts, completions = batch(random.Random(0), 8, drifted=False)
    few(prompts, completions)
    assert few.records[0].agreement == 0.0 and not few.records[0].alarm and not few.alarm
    many = GoldMonitor(dodges, labeler, MonitorConfig(every=1, pairs=32, pairs_per_group=4, min_decisive=12))
    many(prompts, completions)
    (record,) = many.records
    assert record.decisive >= 12 and record.agreement == 0.0 and record.alarm and record.agreement_upper < 0.6
