"""The early-warning scores on synthetic runs with known answers (40 steps, the length of a users' trace).

A gold that rises 0.05 a step to step 25 and falls after it peaks at 25; an alarm from step 20 on warns 5 steps
ahead, and its firings in the 10 steps before the peak are the warning, not false alarms. A gold still rising has no
peak. On gold that rises throughout, an alarm stream that fires with probability 0.1 at each check has a pooled
false-alarm rate whose Wilson interval covers 0.1. Planted drifts fire the naive signals where computed by hand.
"""

import numpy as np
import pytest

from constitution.errors import InputError
from constitution.overoptimization.early_warning import (
    RunSeries,
    WarningRules,
    early_warning,
    gold_peak,
    summarize,
    wilson,
)

STEPS = list(range(1, 41))


def run(gold, *, checks=(), proxy=None, length=None, seq_kl=None) -> RunSeries:
    n = len(STEPS)
    return RunSeries(
        steps=STEPS, gold=list(gold), proxy=list(proxy if proxy is not None else [0.0] * n),
        length=list(length if length is not None else [20.0, 21.0] * (n // 2)),
        seq_kl=list(seq_kl if seq_kl is not None else [None] * n), checks=list(checks),
    )  # fmt: skip


def tent(peak: int = 25, noise: float = 0.002, seed: int = 0) -> np.ndarray:
    steps = np.array(STEPS)
    return 0.05 * (peak - np.abs(steps - peak)) + np.random.default_rng(seed).normal(0, noise, len(steps))


def test_an_alarm_k_steps_before_the_peak_has_lead_time_k_and_no_false_alarm_inside_the_horizon():
    checks = [(s, s >= 20) for s in STEPS]
    result = early_warning(run(tent(), checks=checks))
    assert result.peak.step == 25 and result.peak.drop > 3 * result.peak.noise
    alarm = result.signals["alarm"]
    assert (alarm.first_step, alarm.lead_time) == (20, 5)
    # scored rising steps 5..24; 15..24 lie within the 10-step horizon before the peak: 5..14 are the checks
    assert (alarm.false_alarms, alarm.rising_checks) == (0, 10)
    early = early_warning(run(tent(), checks=[(s, s >= 12) for s in STEPS])).signals["alarm"]
    assert (early.lead_time, early.false_alarms, early.rising_checks) == (13, 3, 10)  # 12, 13, 14 are false


def test_a_gold_still_rising_or_flat_has_no_peak_and_no_lead_time():
    rng = np.random.default_rng(1)
    rising = 0.05 * np.array(STEPS) + rng.normal(0, 0.01, 40)
    plateau = np.minimum(0.05 * np.array(STEPS), 1.0) + rng.normal(0, 0.01, 40)
    flat = rng.normal(0, 0.1, 40)
    for gold in (rising, plateau, flat):
        result = early_warning(run(gold, checks=[(10, True)]))
        assert result.peak.step is None and result.signals["alarm"].lead_time is None
        assert result.signals["alarm"].first_step == 10


def test_on_rising_gold_a_noisy_alarm_stream_has_the_false_alarm_rate_it_was_drawn_with():
    rng = np.random.default_rng(2)
    runs = []
    for _ in range(200):
        gold = 0.05 * np.array(STEPS) + rng.normal(0, 0.01, 40)
        checks = [(s, bool(rng.random() < 0.1)) for s in STEPS]
        one = early_warning(run(gold, checks=checks))
        scored = [a for s, a in checks if 5 <= s <= 35]  # W points before and after: indices 4..34
        assert (one.signals["alarm"].false_alarms, one.signals["alarm"].rising_checks) == (sum(scored), 31)
        runs.append(one)
    summary = summarize(runs)["alarm"]
    assert summary.rising_checks == 200 * 31 and summary.runs_with_peak == 0 and summary.lead_median is None
    low, high = summary.false_alarm_ci
    assert low < 0.1 < high and high - low < 0.03


def test_the_summary_gives_the_median_and_quartiles_of_lead_times_over_seeds():
    runs = [early_warning(run(tent(seed=seed), checks=[(s, s >= 25 - k) for s in STEPS])) for seed, k in enumerate((2, 4, 6, 8, 9))]
    summary = summarize(runs)["alarm"]
    assert summary.lead_times == [2, 4, 6, 8, 9] and summary.lead_median == 6.0 and summary.lead_quartiles == (4.0, 8.0)
    assert summary.false_alarms == 0 and summary.runs_with_peak == 5


def test_naive_signals_fire_on_a_planted_length_jump_and_a_proxy_flattening_against_kl():
    length = [19.0, 21.0] * 20
    length[24:] = [31.0] * 16  # from step 25: trailing 5-mean 20 -> 22.2, > 2 standard errors (0.49) of the baseline
    sqrt_kl = 0.1 * np.array(STEPS)
    proxy = np.minimum(sqrt_kl, 2.0)  # gains 1 per unit √KL, none after step 20
    rules = WarningRules(slope_fraction=0.3)  # trailing slopes after the knee: 0.8, 0.5, 0.2 at steps 21, 22, 23
    result = early_warning(run(tent(), length=length, proxy=proxy, seq_kl=sqrt_kl**2), rules)
    assert result.signals["length_drift"].first_step == 25 and result.signals["length_drift"].lead_time == 0
    assert result.signals["proxy_per_kl"].first_step == 23 and result.signals["proxy_per_kl"].lead_time == 2
    assert result.signals["alarm"].first_step is None and result.signals["alarm"].rising_checks == 0
    quiet = early_warning(run(tent(), proxy=sqrt_kl, seq_kl=sqrt_kl**2), rules)  # no drift: neither fires
    assert quiet.signals["length_drift"].first_step is None and quiet.signals["proxy_per_kl"].first_step is None
    no_kl = early_warning(run(tent(), proxy=proxy))  # β = 0: no KL logged, the proxy-per-KL signal never checks
    assert no_kl.signals["proxy_per_kl"].first_step is None and no_kl.signals["proxy_per_kl"].rising_checks == 0


def test_the_wilson_interval_matches_its_closed_form_values():
    assert wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)


def test_bad_series_are_input_errors_naming_what_is_wrong():
    with pytest.raises(InputError, match="gold has 39 points for 40 steps"):
        early_warning(run(tent()[:-1]))
    with pytest.raises(InputError, match="check at step 41"):
        early_warning(run(tent(), checks=[(41, True)]))
    with pytest.raises(InputError, match="needs at least 2 windows"):
        gold_peak([1, 2, 3], [0.0, 1.0, 0.0], window=5, z=3.0)
