"""The early-warning rules on synthetic runs of 40 steps (a users' trace) at the noise of the real runs.

The real runs' gold batch means have σ ≈ 0.35–0.43 a step against a trend of ≈ 0.01 a step, so the rules are tested
at σ = 0.4 over hundreds of seeded runs wherever a rate is asserted: the false-peak and false-fall rates on flat,
rising and plateauing gold, the detection rate of a rise-and-fall and the spread of its peak, lead times against a
reference peak, false alarms and chance warnings of signals that know nothing, and the naive signals' firing rates on
steady runs. The bookkeeping (lead time, false alarms before the horizon, checks that could not alarm, runs that could
not warn) is tested on exact series.
"""

import numpy as np
import pytest

from constitution.errors import InputError
from constitution.overoptimization.early_warning import (
    GoldPeak,
    RunSeries,
    WarningRules,
    arm_peak,
    early_warning,
    gold_peak,
    length_drift,
    proxy_per_kl,
    summarize,
    summarize_arm,
    wilson,
)

STEPS = list(range(1, 41))
X = np.array(STEPS, dtype=float)
SIGMA = 0.4  # the real runs' gold noise per step (0.35–0.43)
RUNS = 400


def run(gold, *, checks=(), proxy=None, length=None, seq_kl=None) -> RunSeries:
    n = len(STEPS)
    return RunSeries(
        steps=STEPS, gold=list(gold), proxy=list(proxy if proxy is not None else [0.0] * n),
        length=list(length if length is not None else [20.0, 21.0] * (n // 2)),
        seq_kl=list(seq_kl if seq_kl is not None else [None] * n), checks=list(checks),
    )  # fmt: skip


def tent(rise: float = 0.02, fall: float = 0.04, peak: int = 25) -> np.ndarray:
    """A gold that rises ``rise`` a step to ``peak`` and falls ``fall`` a step after it (noise-free)."""
    return np.where(X <= peak, rise * X, rise * peak - fall * (X - peak))


def known_peak(step: int) -> GoldPeak:
    """A reference peak known to lie at ``step`` (the true peak of a synthetic gold)."""
    return GoldPeak(step=step, max_step=step, interval=(step, step), fall_step=None, drop=1.0, noise=SIGMA, threshold=0.0, lag1=0.0, null_rho=0.0)


def peaks(mean: np.ndarray, seed: int, rules: WarningRules | None = None) -> list[int | None]:
    """The peak step of RUNS seeded runs of ``mean`` + white noise of σ = SIGMA."""
    rng = np.random.default_rng(seed)
    alpha = (rules or WarningRules()).peak_alpha
    return [gold_peak(STEPS, mean + rng.normal(0, SIGMA, len(STEPS)), 5, alpha).step for _ in range(RUNS)]


def test_the_false_peak_rate_on_flat_rising_and_plateauing_noisy_gold_is_at_most_the_stated_alpha():
    # flat: the rule's own null, the rate is alpha within its binomial spread (400 runs: ±1.1 points at 5 %)
    for alpha, seed in ((0.05, 1), (0.2, 2)):
        flat = peaks(np.zeros(40), seed, WarningRules(peak_alpha=alpha))
        rate = np.mean([p is not None for p in flat])
        assert abs(rate - alpha) < 3 * np.sqrt(alpha * (1 - alpha) / RUNS), (alpha, rate)
        assert all(p >= 3 for p in flat if p is not None)  # full windows only: no peak at the end windows' steps 1-2
    for name, mean in (("rising", 0.01 * X), ("plateau", np.minimum(0.02 * X, 0.4))):
        rate = np.mean([p is not None for p in peaks(mean, 3)])
        assert rate <= 0.05, (name, rate)


def test_a_realistic_rise_and_fall_is_detected_at_the_stated_rate_near_its_peak():
    # the reviewer's tent (+0.02 a step to 25, then -0.04 a step) at σ 0.4: ~48 % (the noise allows no more at 5 %
    # false peaks); a clearer fall (-0.06 a step) ~85 %
    for fall, least in ((0.04, 0.42), (0.06, 0.8)):
        found = [p for p in peaks(tent(fall=fall), 4) if p is not None]
        assert len(found) / RUNS >= least, (fall, len(found) / RUNS)
        assert np.median(found) == pytest.approx(25, abs=3)


def test_a_falling_noisy_gold_has_no_rising_checks_in_most_runs():
    rng = np.random.default_rng(5)
    checks = [(s, True) for s in STEPS]
    scores = [early_warning(run(-0.01 * X + rng.normal(0, SIGMA, 40), checks=checks)).signals["alarm"] for _ in range(200)]
    with_rising = np.mean([s.rising_checks > 0 for s in scores])
    assert with_rising <= 0.06, with_rising  # a step of a falling gold is no chance for a false alarm


def test_a_rising_noisy_gold_counts_its_steps_as_rising_when_its_trend_is_significant():
    rng = np.random.default_rng(6)
    steady = [early_warning(run(0.03 * X + rng.normal(0, SIGMA, 40), checks=[(s, False) for s in STEPS])) for _ in range(100)]
    assert np.mean([w.signals["alarm"].rising_checks == 40 for w in steady]) >= 0.95


def test_an_alarm_k_steps_before_the_peak_has_lead_time_k_and_no_false_alarm_inside_the_horizon():
    gold = tent(rise=0.05, fall=0.05)  # noise-free: σ comes from the change of slope at the peak
    result = early_warning(run(gold, checks=[(s, s >= 20) for s in STEPS]))
    assert result.peak.step == 25 and result.peak.drop > result.peak.threshold
    alarm = result.signals["alarm"]
    assert (alarm.first_step, alarm.warning_step, alarm.lead_time) == (20, 20, 5)
    # rising: steps 1..24; 15..24 lie within the 10-step horizon before the peak: 1..14 are the checks
    assert (alarm.false_alarms, alarm.scored_checks, alarm.rising_checks) == (0, 14, 14)
    early = early_warning(run(gold, checks=[(s, s >= 12) for s in STEPS])).signals["alarm"]
    assert (early.lead_time, early.false_alarms, early.scored_checks) == (10, 3, 14)  # 12, 13, 14 are false
    assert early.false_alarm_rate == pytest.approx(3 / 14) and early.chance_warning == pytest.approx(1 - (11 / 14) ** 11)
    at_peak = early_warning(run(gold, checks=[(s, s == 25) for s in STEPS])).signals["alarm"]
    assert (at_peak.warning_step, at_peak.lead_time) == (25, 0)  # the peak step itself lies in the horizon


def test_a_false_alarm_long_before_the_peak_is_not_the_warning():
    checks = [(s, s == 6 or 22 <= s <= 25) for s in STEPS]
    alarm = early_warning(run(tent(rise=0.05, fall=0.05), checks=checks)).signals["alarm"]
    assert (alarm.first_step, alarm.warning_step, alarm.lead_time, alarm.false_alarms) == (6, 22, 3, 1)


def test_on_rising_gold_a_noisy_alarm_stream_has_the_false_alarm_rate_it_was_drawn_with():
    rng = np.random.default_rng(2)
    runs = []
    for _ in range(200):
        gold = 0.05 * X + rng.normal(0, SIGMA, 40)  # slope 0.05 ± 0.006: significantly rising, no peak
        checks = [(s, bool(rng.random() < 0.1)) for s in STEPS]
        one = early_warning(run(gold, checks=checks))
        assert (one.signals["alarm"].false_alarms, one.signals["alarm"].rising_checks) == (sum(a for _, a in checks), 40)
        runs.append(one)
    summary = summarize(runs)["alarm"]
    assert summary.rising_checks == summary.scored_checks == 200 * 40 and summary.runs_with_peak == 0
    assert summary.lead_median is None and summary.warning_rate is None
    low, high = summary.false_alarm_ci
    assert low < 0.1 < high and high - low < 0.03


def test_the_summary_gives_the_median_and_quartiles_of_lead_times_over_seeds():
    runs = [early_warning(run(tent(rise=0.05, fall=0.05), checks=[(s, s >= 25 - k) for s in STEPS])) for k in (2, 4, 6, 8, 9)]
    summary = summarize(runs)["alarm"]
    assert summary.lead_times == [2, 4, 6, 8, 9] and summary.lead_median == 6.0 and summary.lead_quartiles == (4.0, 8.0)
    assert summary.false_alarms == 0 and summary.runs_with_peak == 5


def test_the_length_signal_fires_on_about_alpha_of_checks_without_drift_and_on_a_planted_jump():
    rng = np.random.default_rng(7)
    rules = WarningRules()
    fired = [f for _ in range(RUNS) for f in length_drift(30 + rng.normal(0, 2.0, 40), rules) if f is not None]
    assert len(fired) == RUNS * 26 and abs(np.mean(fired) - 0.05) < 0.015, np.mean(fired)  # checks from step 15
    capped = [48.0] * 40  # every completion at the token cap: σ₀ = 0, floored at 1 token
    assert not any(length_drift([48.0] * 20 + [47.8] * 20, rules)[14:])
    assert all(length_drift(capped[:20] + [40.0] * 20, rules)[24:])
    jump = [19.0, 21.0] * 20
    jump[24:] = [31.0] * 16
    assert length_drift(jump, rules).index(True) == 24  # the first trailing window that holds a jumped point


def test_the_proxy_per_kl_signal_fires_on_about_alpha_of_checks_under_a_steady_gain_and_on_a_flattening():
    rng = np.random.default_rng(8)
    rules = WarningRules()
    sqrt_kl = 0.1 * X
    runs = [proxy_per_kl(0.5 * sqrt_kl + rng.normal(0, 0.35, 40), sqrt_kl**2, rules) for _ in range(RUNS)]
    fired = [f for r in runs for f in r if f is not None]
    assert len(fired) == RUNS * 26 and np.mean(fired) <= 0.06, np.mean(fired)  # every run checks, from step 15
    knee = np.minimum(sqrt_kl, 2.0) + rng.normal(0, 0.02, 40)  # gains 1 per unit √KL, none after step 20
    assert proxy_per_kl(knee, sqrt_kl**2, rules).index(True) in range(20, 25)
    assert not any(proxy_per_kl(knee, [None] * 40, rules))  # β = 0: no KL logged, never checked


def test_the_wilson_interval_matches_its_closed_form_values():
    assert wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)


def test_bad_series_are_input_errors_naming_what_is_wrong():
    with pytest.raises(InputError, match="gold has 39 points for 40 steps"):
        early_warning(run(tent()[:-1]))
    with pytest.raises(InputError, match="check at step 41"):
        early_warning(run(tent(), checks=[(41, True)]))
    with pytest.raises(InputError, match="needs at least 2 windows"):
        gold_peak([1, 2, 3], [0.0, 1.0, 0.0], window=5, alpha=0.05)


def test_one_runs_peak_step_is_mostly_noise_so_lead_times_are_measured_against_a_reference_peak():
    # the reviewer's realistic tent: +0.01 a step to step 25, then -0.04 a step, σ 0.4
    rng = np.random.default_rng(11)
    golds = [tent(rise=0.01) + rng.normal(0, SIGMA, 40) for _ in range(200)]
    found = [gold_peak(STEPS, g, 5, 0.05) for g in golds]
    steps = [p.step for p in found if p.step is not None]
    low, high = np.percentile(steps, [10, 90])
    assert low <= 12 and high >= 25, (low, high)  # the found peak spreads over ~15 steps around the true 25
    assert np.mean([p.interval[0] <= 25 <= p.interval[1] for p in found]) >= 0.95  # the interval says so
    assert np.median([p.interval[1] - p.interval[0] for p in found]) >= 20
    # a perfect signal, firing once 5 steps before the true peak: a warning of lead 5 in every run against the true
    # peak, in few more than half against each run's own
    perfect = [(s, s == 20) for s in STEPS]
    true = known_peak(25)
    assert all(early_warning(run(g, checks=perfect), reference=true).signals["alarm"].lead_time == 5 for g in golds)
    own = [early_warning(run(g, checks=perfect)) for g in golds]
    assert np.mean([w.signals["alarm"].lead_time == 5 for w in own if w.peak.step is not None]) < 0.8


def test_an_arm_is_scored_against_the_peak_of_its_seed_mean_gold():
    rng = np.random.default_rng(12)
    seeds = [run(tent(rise=0.05, fall=0.05) + rng.normal(0, 0.1, 40), checks=[(s, s == 20) for s in STEPS]) for _ in range(3)]
    arm = summarize_arm(seeds)
    mean = np.mean([r.gold for r in seeds], axis=0)
    assert arm.peak == arm_peak(seeds) == gold_peak(STEPS, list(mean), 5, 0.05)
    assert all(w.reference == arm.peak.step for w in arm.runs) and arm.signals["alarm"].runs_with_peak == 3
    assert arm.signals["alarm"].lead_times == [arm.peak.step - 20] * 3


def test_the_fall_is_detected_after_the_peak_and_a_flat_gold_shows_a_false_fall_in_at_most_alpha_of_runs():
    rng = np.random.default_rng(13)
    flat = [gold_peak(STEPS, rng.normal(0, SIGMA, 40), 5, 0.05).fall_step for _ in range(RUNS)]
    assert np.mean([f is not None for f in flat]) <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / RUNS)
    falls = [gold_peak(STEPS, tent(rise=0.01, fall=0.06) + rng.normal(0, SIGMA, 40), 5, 0.05).fall_step for _ in range(RUNS)]
    seen = [f for f in falls if f is not None]
    assert len(seen) / RUNS >= 0.6 and np.mean([f > 25 for f in seen]) >= 0.95, (len(seen), np.percentile(seen, 10))


@pytest.mark.parametrize("shape", ["flat", "tent"])
def test_signals_that_know_nothing_score_as_bad_warnings(shape):
    # random 5 % and always firing, checked every step: every check before the horizon counts (no trend gate), and a
    # warning rate no better than chance shows as such
    rng = np.random.default_rng(14)
    mean = np.zeros(40) if shape == "flat" else tent(rise=0.01)
    true = known_peak(25)
    for p, rate_range in ((0.05, (0.035, 0.065)), (1.0, (1.0, 1.0))):
        runs = [
            early_warning(run(mean + rng.normal(0, SIGMA, 40), checks=[(s, bool(rng.random() < p)) for s in STEPS]),
                          reference=true if shape == "tent" else None)
            for _ in range(150)
        ]  # fmt: skip
        alarm = summarize(runs)["alarm"]
        assert rate_range[0] <= alarm.false_alarm_rate <= rate_range[1], (p, alarm.false_alarm_rate)
        assert alarm.scored_checks >= 150 * 14 and alarm.rising_checks <= alarm.scored_checks
        if shape == "tent":  # 11 checks in the horizon: chance warns 1 − 0.95^11 ≈ 43 % of runs
            assert alarm.warning_rate == pytest.approx(alarm.chance_warning_rate, abs=0.12), (alarm.warning_rate, alarm.chance_warning_rate)


def test_the_naive_signals_are_checked_only_at_the_monitors_check_steps_and_a_run_without_a_check_in_the_horizon_could_not_warn():
    checks = [(s, False) for s in (1, 11, 21, 31)]  # the constitution rl default: a gold check every 10 steps
    every_step = run(tent(rise=0.05, fall=0.05), checks=checks)
    result = early_warning(every_step)
    assert {n: (s.checks, s.first_check) for n, s in result.signals.items()} == {
        "alarm": (4, 1), "proxy_per_kl": (0, None), "length_drift": (2, 21)}  # length: checks from step 15 on
    anywhere = early_warning(every_step, WarningRules(naive_at_checks=False)).signals["length_drift"]
    assert (anywhere.checks, anywhere.first_check) == (26, 15)
    late = known_peak(29)
    blind = early_warning(every_step, WarningRules(horizon=5), reference=late)
    assert {s.could_warn for s in blind.signals.values()} == {False}  # no check in 24..29
    assert summarize([blind])["alarm"].runs_could_not_warn == 1 and summarize([blind])["alarm"].warning_rate is None


def test_a_check_that_could_not_alarm_is_no_check():
    checks = [(s, None if s < 20 else s >= 22) for s in STEPS]  # too few decisive pairs before step 20
    alarm = early_warning(run(tent(rise=0.05, fall=0.05), checks=checks)).signals["alarm"]
    assert (alarm.checks, alarm.first_check, alarm.scored_checks, alarm.false_alarms, alarm.warning_step) == (21, 20, 0, 0, 22)
    assert alarm.false_alarm_rate is None


def test_the_steps_before_a_peak_are_rising_even_when_the_whole_run_is_not():
    gold = np.where(X <= 25, 0.05 * X, 1.25 - 0.15 * (X - 25))  # a steep fall: the slope over all 40 steps is < 0
    alarm = early_warning(run(gold, checks=[(s, False) for s in STEPS])).signals["alarm"]
    assert alarm.rising_checks == alarm.scored_checks > 0


def test_a_peak_is_never_centred_in_the_last_window():
    peak = gold_peak(STEPS, list(0.05 * X), 5, 0.05)  # still rising: the highest candidate is the last one allowed
    assert peak.max_step == 35 and peak.step is None and peak.interval[1] == 35


def test_the_summary_interval_widens_with_disagreeing_runs_honours_its_level_and_gives_quartiles_from_5_leads():
    def one(false: int, lead: int) -> object:
        checks = [(s, s <= false or s == 25 - lead) for s in STEPS]  # `false` false alarms among the 14 scored checks
        return early_warning(run(tent(rise=0.05, fall=0.05), checks=checks))

    runs = [one(0, 2), one(0, 4), one(7, 6)]
    summary = summarize(runs)["alarm"]
    assert summary.run_false_alarm_rates == [0.0, 0.0, 0.5] and summary.false_alarm_rate == pytest.approx(7 / 42)
    low, high = summary.false_alarm_ci
    assert high >= 0.45 and wilson(7, 42)[1] < 0.35  # the runs disagree: the pooled Wilson interval would not say so
    narrow = summarize(runs, level=0.5)["alarm"].false_alarm_ci
    assert narrow[1] - narrow[0] < high - low
    assert summary.lead_times == [2, 4, 6] and summary.lead_median == 4.0 and summary.lead_quartiles is None


def test_proxy_per_kl_uses_the_baselines_uncertainty_and_checks_only_windows_of_the_baselines_version():
    rng = np.random.default_rng(15)
    rules = WarningRules(slope_fraction=1.0)
    sqrt_kl = np.where(X <= 10, 0.05 * X, 0.5 + 0.3 * (X - 10))  # KL moves little in the baseline: b₀ is uncertain
    fired = [f for _ in range(200) for f in proxy_per_kl(0.5 * sqrt_kl + rng.normal(0, 0.35, 40), sqrt_kl**2, rules) if f is not None]
    assert np.mean(fired) <= 0.05, np.mean(fired)
    version = [0] * 20 + [1] * 20  # a refresh at step 21: the proxy's scale changes
    knee = np.minimum(0.1 * X, 2.0) + rng.normal(0, 0.02, 40)
    checked = proxy_per_kl(knee, (0.1 * X) ** 2, WarningRules(), version)
    assert [i for i, f in enumerate(checked) if f is not None] == list(range(14, 20))


def test_proxy_per_kl_has_no_power_once_the_sequence_kl_plateaus():
    # documented: √seq-KL at 2.2 from step 10 on (noisy plateau): gain continuing or stopped at step 25, same rate
    rng = np.random.default_rng(16)
    rates = {}
    for name, stops in (("continues", 40), ("stops", 25)):
        fired = []
        for _ in range(150):
            sqrt_kl = np.minimum(0.22 * X, 2.2) + np.where(X > 10, rng.normal(0, 0.1, 40), 0)
            proxy = 0.2 * np.where(X <= stops, sqrt_kl, sqrt_kl[stops - 1]) + rng.normal(0, 0.38, 40)
            fired += [f for f in proxy_per_kl(proxy, sqrt_kl**2, WarningRules()) if f is not None]
        rates[name] = np.mean(fired)
    assert all(r <= 0.07 for r in rates.values()) and abs(rates["continues"] - rates["stops"]) < 0.03, rates


def test_with_correlated_noise_the_estimated_correlation_holds_the_false_peak_rate_the_white_null_does_not():
    from scipy.signal import lfilter

    rng = np.random.default_rng(17)
    rho = 0.2  # AR(1) gold noise of lag-1 correlation +0.2, σ 0.4, flat
    golds = [SIGMA * lfilter([np.sqrt(1 - rho**2)], [1, -rho], rng.normal(size=40)) for _ in range(200)]
    white = np.mean([gold_peak(STEPS, g, 5, 0.05).step is not None for g in golds])
    fitted = [gold_peak(STEPS, g, 5, 0.05, correlated=True) for g in golds]
    estimated = np.mean([p.step is not None for p in fitted])
    assert white >= 0.09 and estimated <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 200), (white, estimated)
    assert np.median([p.lag1 for p in fitted]) == pytest.approx(rho, abs=0.1) and {p.null_rho for p in fitted} > {0.1, 0.2, 0.3}
