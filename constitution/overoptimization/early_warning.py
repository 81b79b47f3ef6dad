"""Does a signal warn before the gold falls? Lead time and false alarms of the gold monitor's alarm and of the naive
signals a user already has, on one RL run's per-step series; and their spread over runs and seeds.

The rules, with W = ``window`` points of the series (one point per logged step; positions, not step numbers). Real
runs are noisy (gold batch means: σ ≈ 0.35–0.43 a step against a trend of ≈ 0.01 a step), so every rule is a test
with a stated false-positive rate, not a comparison of two noisy means. **The stated rates assume the gold's noise
is white** (independent from step to step): a lag-1 correlation of +0.2 raises the 5 % false-peak rate to ≈ 15 %.
Each peak reports ``lag1``, the lag-1 autocorrelation of the gold's residuals from its least-squares line, to check
the assumption; with ``estimate_correlation`` the null below is simulated as AR(1) noise at that correlation
(rounded to 0.1, within [−0.5, 0.9]; ``null_rho``) instead, which holds the false-peak rate at ≈ 5 % at ρ = 0 and
+0.2 alike but costs power (a +0.02-a-step rise to step 25 then −0.04 a step, σ 0.4: found in ≈ 30 % of runs,
against ≈ 46 % under the white-noise null), since a 40-step run's estimate of ρ is itself noisy (± 0.16).

* **Gold peak.** The gold is smoothed by a centred moving mean over full windows of W points only (no shorter
  windows at the ends). Its noise σ is the standard deviation of the raw gold's point-to-point differences over √2
  (a slow trend barely moves it). The statistic is D = (highest smoothed point − mean of the last W points) / σ,
  where the highest smoothed point must be centred before the last W points (else no peak). D is the maximum over
  all the windows, so its threshold is its own (1 − ``peak_alpha``) quantile under a flat gold of white noise
  (computed once per series length and W by a seeded simulation; D/σ does not depend on σ there): a flat gold
  shows a false peak in ``peak_alpha`` of runs, a rising one in fewer. The gold *peaked* (at the centre of the
  highest window) when D exceeds that threshold; else it has no peak (None).
* **Where the peak may lie.** One run's peak step is mostly noise (a true peak at step 25 of a +0.01-a-step rise is
  found anywhere from step 9 to 27 at σ 0.4), so it comes with an ``interval``: the first and last candidate centre
  whose smoothed value is within ``peak_z`` · σ · √(2/W) of the highest (the spread of a difference of two W-point
  means; at σ 0.4 and a 0.25 rise it spans ≈ 30 of 40 steps: one run cannot place its peak). Lead times are
  better measured against a **reference peak** found with more power: :func:`arm_peak` applies the peak rule to an
  arm's gold averaged over its seeds step by step (3 seeds of that run: found in ≈ 96 % of arms, still anywhere from
  step 12 to 27), and :func:`summarize_arm` scores each run against it (``early_warning(run, rules, reference)``).
  Without a reference, the run's own peak is used, and a perfect signal firing 5 steps before the true peak then
  counts as a warning in only ≈ 56 % of the runs with a peak.
* **Fall detected.** The first step t where the mean of the trailing W points is below the highest trailing
  W-point mean so far by more than F · σ, F the (1 − ``peak_alpha``) quantile under a flat gold of white noise of
  the largest such shortfall over the run (the same simulation): a flat gold shows a false fall in ``peak_alpha``
  of runs. It is what a user watching the gold would see, and it comes well after the peak (+0.01 a step to step
  25, then −0.06 a step, σ 0.4: seen in ≈ 74 % of runs, at steps 33–40).
* **Rising.** The steps before the reference peak (every step, without one) are rising when the gold's
  least-squares slope over them is more than ``trend_z`` standard errors above 0; else no step is. At real noise
  this is a coin flip per run, so it only marks a subset of the false alarms, reported apart.
* **Checks.** ``alarm``: the monitor's checks (step, alarmed), where alarmed None is a check that could not alarm
  (too few decisive pairs): not a check. The naive signals are checked against a baseline of the first
  B = ``baseline`` points, at each point whose trailing W points all follow the baseline (so from the
  (B + W)-th point on: ``first_check`` says where each signal's checks begin); with ``naive_at_checks`` (default)
  and a run with monitor checks, only at the monitor's check steps, so every signal has the same chances. Each
  naive signal fires on a one-point test at level ``signal_alpha`` (a steady run fires on about that share):
  ``proxy_per_kl`` fires where the least-squares slope b of the proxy reward against √seq-KL over the trailing W
  points is below ``slope_fraction`` × the baseline's slope b₀ by more than t·√(f²·se(b₀)² + se(b)²) (t: the
  one-sided Student quantile on W − 2 degrees of freedom; points without a KL are left out, and a slope needs 3
  points with different KL; with reward-model ``version``s, only windows within the baseline's version are
  checked: a refreshed proxy has another scale). **It has no power once √seq-KL plateaus** (real runs reach ≈ 2.2
  by step 10 and then wander): a W-point window then spans almost no √KL change, its slope is noise, and the
  signal fires at ≈ ``signal_alpha`` whether the proxy's gain continues or stops; it can only speak while KL
  still moves. ``length_drift`` fires where the mean completion length over the trailing W points differs from
  the baseline's mean by more than t·s·√(1/W + 1/B) (t: the two-sided Student quantile on B − 1 degrees of
  freedom; s the baseline's standard deviation, at least ``length_floor`` tokens, so a baseline of lengths all at
  the token cap does not fire on any change).
* **Warning and lead time.** The warning horizon is the steps t with 0 ≤ peak − t ≤ ``horizon`` (peak: the
  reference). ``warning_step`` is the first firing in it, ``lead_time`` = peak − warning_step; None without a
  peak or a firing there. A run whose signal has no check in the horizon ``could_warn`` False: it could not warn,
  which is not the same as did not warn. The first firing of all is ``first_step``.
* **False alarms**: firings at every check before the horizon (t < peak − ``horizon``), or at every check without
  a peak, out of those checks (``scored_checks``); no trend gate. Those at rising steps are also counted apart
  (``rising_false_alarms`` of ``rising_checks``). A signal that fires at random warns by chance in
  1 − (1 − false-alarm rate)^k of runs (k: its checks in the horizon): ``chance_warning`` is reported beside the
  warning, and a signal is only a warning when its warning rate clears that.
* **Over runs** (:func:`summarize`): per-run false-alarm rates, the pooled rate, and an interval that is the hull
  of the pooled Wilson interval and a percentile bootstrap over runs (a run's checks are not independent, so runs
  are resampled whole; seeded; length_drift on iid lengths, arms of 3 runs of 35 steps: the 95 % Wilson interval
  alone covers the true rate in 83 % of arms, the hull in 99 %); the warning rate over runs that could warn
  beside the mean chance warning rate at the pooled false-alarm rate; lead-time quartiles only from 5 lead times
  on. With 3 runs an arm's interval is rough whatever its method: read the per-run rates.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from constitution.errors import InputError

SIGNALS = ("alarm", "proxy_per_kl", "length_drift")
MIN_QUARTILE_LEADS = 5  # lead-time quartiles need at least this many lead times


class WarningRules(BaseModel):
    """The thresholds of the rules in the module docstring."""

    model_config = ConfigDict(extra="forbid")

    window: int = Field(5, ge=3)
    peak_alpha: float = Field(0.05, gt=0, lt=1)  # false-peak (and false-fall) rate on a flat gold of white noise
    peak_z: float = Field(1.96, gt=0)  # the peak interval: centres within this many noise units of the highest
    trend_z: float = 1.645  # steps before the peak are rising when their slope is this many standard errors above 0
    baseline: int = Field(10, ge=3)  # the naive signals' baseline: the first points of the run
    signal_alpha: float = Field(0.05, gt=0, lt=1)  # the naive signals' firing rate per check on a steady run
    slope_fraction: float = 0.5
    length_floor: float = Field(1.0, ge=0)  # tokens: least standard deviation of the baseline's lengths
    horizon: int = 10
    naive_at_checks: bool = True  # check the naive signals only at the monitor's check steps (when it has checks)
    estimate_correlation: bool = False  # simulate the peak and fall nulls at the gold's estimated lag-1 correlation


class RunSeries(BaseModel):
    """One RL run, per logged step: gold and proxy reward (batch means), mean completion length, sequence KL (None
    where not logged), the proxy's reward-model version (optional); and the gold monitor's checks as (step,
    alarmed), alarmed None where the check could not alarm."""

    model_config = ConfigDict(extra="forbid")

    steps: list[int]
    gold: list[float]
    proxy: list[float]
    length: list[float]
    seq_kl: list[float | None]
    checks: list[tuple[int, bool | None]] = []
    version: list[int] | None = None

    def check_aligned(self) -> None:
        """InputError unless every series has one point per step and the steps increase."""
        names = ("gold", "proxy", "length", "seq_kl") + (("version",) if self.version is not None else ())
        for name in names:
            if len(getattr(self, name)) != len(self.steps):
                raise InputError(f"run series: {name} has {len(getattr(self, name))} points for {len(self.steps)} steps")
        if any(b <= a for a, b in zip(self.steps, self.steps[1:])):
            raise InputError("run series: steps must increase")


class GoldPeak(BaseModel):
    """Where the smoothed gold is highest, whether the run ends significantly below it (the peak rule), where the
    peak may lie, and the first step the gold is seen to fall."""

    step: int | None  # None: no peak (still rising, flat, or a drop within the noise)
    max_step: int  # the centre of the highest full window before the last W points, peak or not
    interval: tuple[int, int]  # first and last centre within the noise of the highest
    fall_step: int | None  # the first step the gold is significantly below its running maximum
    drop: float  # highest smoothed point − mean of the last W points
    noise: float  # σ, the gold's noise per point
    threshold: float  # the drop a peak needs: the null quantile of D × σ
    lag1: float  # lag-1 autocorrelation of the gold's residuals from its least-squares line
    null_rho: float  # the lag-1 correlation of the noise the null was simulated with (0: white)


class SignalScore(BaseModel):
    """One signal on one run."""

    checks: int  # every check the signal made
    first_check: int | None  # the first step it could check
    first_step: int | None  # the first firing of all, false or not
    warning_step: int | None  # the first firing inside the warning horizon before the peak
    lead_time: int | None  # peak − warning_step
    horizon_checks: int  # k: its checks inside the horizon
    could_warn: bool | None  # None: no peak; False: no check inside the horizon
    false_alarms: int
    scored_checks: int  # the checks before the horizon (all of them without a peak)
    false_alarm_rate: float | None
    chance_warning: float | None  # 1 − (1 − false_alarm_rate)^horizon_checks
    rising_false_alarms: int
    rising_checks: int


class RunWarning(BaseModel):
    """One run: its gold peak, the reference peak its lead times are measured against, and each signal's score
    (keys: :data:`SIGNALS`)."""

    peak: GoldPeak
    reference: int | None
    signals: dict[str, SignalScore]


class SignalSummary(BaseModel):
    """One signal over runs (the module docstring's "Over runs")."""

    runs: int
    runs_with_peak: int  # runs with a reference peak
    runs_could_not_warn: int  # a peak, but no check inside the horizon
    warned: int
    warning_rate: float | None  # warned / runs that could warn
    chance_warning_rate: float | None  # mean over those runs of 1 − (1 − pooled rate)^k
    lead_times: list[int]
    lead_median: float | None
    lead_quartiles: tuple[float, float] | None  # only from MIN_QUARTILE_LEADS lead times on
    run_false_alarm_rates: list[float | None]
    false_alarms: int
    scored_checks: int
    false_alarm_rate: float | None
    false_alarm_ci: tuple[float, float] | None  # hull of Wilson and a bootstrap over runs, at ``level``
    rising_false_alarms: int
    rising_checks: int
    level: float


class ArmWarning(BaseModel):
    """An arm's seeds: the peak of their mean gold (the reference), each run scored against it, and the summary."""

    peak: GoldPeak
    runs: list[RunWarning]
    signals: dict[str, SignalSummary]


def moving_mean(values: Sequence[float], window: int) -> np.ndarray:
    """Moving mean over full windows of ``window`` points: len(values) − window + 1 points; value i is centred on
    point i + window // 2."""
    x = np.asarray(values, dtype=float)
    return np.convolve(x, np.ones(window) / window, mode="valid") if len(x) >= window else np.array([])


def noise_sigma(values: Sequence[float]) -> float:
    """A series' noise per point: the standard deviation of its point-to-point differences over √2."""
    return float(np.std(np.diff(np.asarray(values, dtype=float)))) / math.sqrt(2)


def _smooth(gold: np.ndarray, window: int) -> np.ndarray:
    """Per series (rows): the full-window means, the one ending at point i in column i − W + 1."""
    return np.stack([np.convolve(row, np.ones(window) / window, mode="valid") for row in gold])


def _candidates(gold: np.ndarray, window: int) -> np.ndarray:
    """The smoothed points a peak may be centred on: centre = i + W//2 < n − W."""
    return _smooth(gold, window)[:, : gold.shape[1] - window - window // 2]


def _drops(gold: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Per series (rows): the highest full-window mean centred before the last W points − the mean of the last W
    points, and that window's centre."""
    smooth = _candidates(gold, window)
    top = np.argmax(smooth, axis=1)
    return smooth[np.arange(len(gold)), top] - gold[:, -window:].mean(axis=1), top + window // 2


def _shortfalls(gold: np.ndarray, window: int) -> np.ndarray:
    """Per series (rows) and trailing window: the highest trailing W-point mean so far − this one."""
    smooth = _smooth(gold, window)
    return np.maximum.accumulate(smooth, axis=1) - smooth


def lag1(values: Sequence[float]) -> float:
    """Lag-1 autocorrelation of a series' residuals from its least-squares line (0 when they are all 0)."""
    y = np.asarray(values, dtype=float)
    x = np.arange(len(y), dtype=float)
    e = y - np.polyval(np.polyfit(x, y, 1), x)
    return float(e[:-1] @ e[1:] / (e @ e)) if e @ e > 0 else 0.0


@lru_cache(maxsize=64)
def _null(points: int, window: int, rho: float = 0.0, runs: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    """D / σ and the largest shortfall / σ of ``runs`` flat golds of ``points`` points of stationary AR(1) noise of
    lag-1 correlation ``rho`` (white at 0; seeded)."""
    noise = np.random.default_rng(0).normal(size=(runs, points))
    if rho:
        from scipy.signal import lfilter

        noise[:, 0] /= math.sqrt(1 - rho * rho)
        noise = lfilter([math.sqrt(1 - rho * rho)], [1, -rho], noise, axis=1)
    sigma = np.std(np.diff(noise, axis=1), axis=1) / math.sqrt(2)
    drops, _ = _drops(noise, window)
    return drops / sigma, _shortfalls(noise, window).max(axis=1) / sigma


@lru_cache(maxsize=256)
def peak_threshold(points: int, window: int, alpha: float, rho: float = 0.0) -> float:
    """The (1 − alpha) quantile of D = drop / σ on a flat gold of ``points`` points of noise (lag-1 ``rho``)."""
    return float(np.quantile(_null(points, window, rho)[0], 1 - alpha))


@lru_cache(maxsize=256)
def fall_threshold(points: int, window: int, alpha: float, rho: float = 0.0) -> float:
    """The (1 − alpha) quantile of the largest shortfall / σ on a flat gold of ``points`` points of noise."""
    return float(np.quantile(_null(points, window, rho)[1], 1 - alpha))


def gold_peak(
    steps: Sequence[int], gold: Sequence[float], window: int, alpha: float, z: float = 1.96, correlated: bool = False
) -> GoldPeak:
    """The peak, peak-interval and fall rules of the module docstring (the null at the estimated lag-1 correlation
    with ``correlated``, else white)."""
    g = np.asarray(gold, dtype=float)
    if len(g) < 2 * window:
        raise InputError(f"run series: {len(g)} steps, the peak rule needs at least 2 windows ({2 * window})")
    drops, centres = _drops(g[None, :], window)
    sigma, rho1 = noise_sigma(g), lag1(g)
    rho = min(max(round(rho1, 1), -0.5), 0.9) if correlated else 0.0
    threshold = peak_threshold(len(g), window, alpha, rho) * sigma
    drop, centre = float(drops[0]), int(centres[0])
    peaked = sigma > 0 and drop > threshold
    smooth = _candidates(g[None, :], window)[0]
    near = np.flatnonzero(smooth >= smooth.max() - z * sigma * math.sqrt(2 / window)) + window // 2
    falls = np.flatnonzero(_shortfalls(g[None, :], window)[0] > fall_threshold(len(g), window, alpha, rho) * sigma)
    return GoldPeak(
        step=steps[centre] if peaked else None, max_step=steps[centre], interval=(steps[near[0]], steps[near[-1]]),
        fall_step=steps[falls[0] + window - 1] if sigma > 0 and len(falls) else None,
        drop=drop, noise=sigma, threshold=threshold, lag1=rho1, null_rho=rho,
    )  # fmt: skip


def _fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float] | None:
    """Least-squares slope of y on x and its standard error (points with a NaN x left out); None with < 3 points
    or one x."""
    keep = ~np.isnan(x)
    x, y = x[keep], y[keep]
    if len(x) < 3 or np.ptp(x) == 0:
        return None
    (slope, intercept) = np.polyfit(x, y, 1)
    residual = y - (slope * x + intercept)
    se = math.sqrt(float(residual @ residual) / (len(x) - 2) / float(((x - x.mean()) ** 2).sum()))
    return float(slope), se


def rising(steps: Sequence[int], gold: Sequence[float], peak: int | None, z: float) -> list[bool]:
    """Per point: rising (see the module docstring): the steps before the peak (every step without one) when the
    gold's slope over them is significantly positive."""
    span = [i for i, s in enumerate(steps) if peak is None or s < peak]
    fit = _fit(np.asarray(steps, dtype=float)[span], np.asarray(gold, dtype=float)[span])
    up = fit is not None and fit[0] > z * fit[1]
    return [up and (peak is None or s < peak) for s in steps]


def proxy_per_kl(
    proxy: Sequence[float], seq_kl: Sequence[float | None], rules: WarningRules, version: Sequence[int] | None = None
) -> list[bool | None]:
    """Per point, the proxy-per-√KL signal (None: not checked)."""
    from scipy.stats import t as student

    x = np.sqrt(np.clip(np.array([np.nan if v is None else v for v in seq_kl], dtype=float), 0, None))
    y = np.asarray(proxy, dtype=float)
    w, f, b = rules.window, rules.slope_fraction, rules.baseline
    v = list(version) if version is not None else [0] * len(y)
    if len(set(v[:b])) > 1:
        return [None] * len(y)  # a baseline across a refresh has no one scale
    base = _fit(x[:b], y[:b])
    quantile = float(student.ppf(1 - rules.signal_alpha, w - 2))
    out: list[bool | None] = [None] * len(y)
    for i in range(b + w - 1, len(y)):
        now = _fit(x[i + 1 - w : i + 1], y[i + 1 - w : i + 1])
        if base is not None and now is not None and set(v[i + 1 - w : i + 1]) == {v[0]}:
            out[i] = bool(f * base[0] - now[0] > quantile * math.hypot(f * base[1], now[1]))
    return out


def length_drift(length: Sequence[float], rules: WarningRules) -> list[bool | None]:
    """Per point, the length-drift signal (None: not checked)."""
    from scipy.stats import t as student

    x = np.asarray(length, dtype=float)
    w, b = rules.window, rules.baseline
    if len(x) < b + w:
        return [None] * len(x)
    mu, sd = x[:b].mean(), max(float(x[:b].std(ddof=1)), rules.length_floor)
    limit = float(student.ppf(1 - rules.signal_alpha / 2, b - 1)) * sd * math.sqrt(1 / w + 1 / b)
    out: list[bool | None] = [None] * len(x)
    for i in range(b + w - 1, len(x)):
        out[i] = bool(abs(x[i + 1 - w : i + 1].mean() - mu) > limit)
    return out


def score(steps: Sequence[int], fired: Sequence[bool | None], up: Sequence[bool], peak: int | None, horizon: int) -> SignalScore:
    """A signal's warning, lead time and false alarms from its per-point checks (None: no check) against ``peak``."""
    checked = [(s, bool(f), u) for s, f, u in zip(steps, fired, up) if f is not None]
    firings = [s for s, f, _ in checked if f]
    inside = [(s, f) for s, f, _ in checked if peak is not None and 0 <= peak - s <= horizon]
    before = [(f, u) for s, f, u in checked if peak is None or peak - s > horizon]
    warned = next((s for s, f in inside if f), None)
    false = sum(f for f, _ in before)
    rate = false / len(before) if before else None
    return SignalScore(
        checks=len(checked), first_check=checked[0][0] if checked else None,
        first_step=firings[0] if firings else None, warning_step=warned,
        lead_time=None if warned is None or peak is None else peak - warned,
        horizon_checks=len(inside), could_warn=None if peak is None else bool(inside),
        false_alarms=false, scored_checks=len(before), false_alarm_rate=rate,
        chance_warning=None if rate is None or peak is None else 1 - (1 - rate) ** len(inside),
        rising_false_alarms=sum(f for f, u in before if u), rising_checks=sum(u for _, u in before),
    )  # fmt: skip


def _at(steps: Sequence[int], fired: list[bool | None], keep: set[int] | None) -> list[bool | None]:
    """``fired`` with the points outside ``keep`` unchecked (all kept when ``keep`` is None)."""
    return fired if keep is None else [f if s in keep else None for s, f in zip(steps, fired)]


def early_warning(run: RunSeries, rules: WarningRules | None = None, reference: GoldPeak | None = None) -> RunWarning:
    """The gold's peak and each signal's lead time and false alarms on one run (the module docstring's rules),
    measured against ``reference``'s peak (e.g. :func:`arm_peak`) when given, else the run's own."""
    rules = rules or WarningRules()
    run.check_aligned()
    peak = gold_peak(run.steps, run.gold, rules.window, rules.peak_alpha, rules.peak_z, rules.estimate_correlation)
    target = (reference or peak).step
    up = rising(run.steps, run.gold, target, rules.trend_z)
    index = {s: i for i, s in enumerate(run.steps)}
    alarm: list[bool | None] = [None] * len(run.steps)
    for step, alarmed in run.checks:
        if step not in index:
            raise InputError(f"run series: a monitor check at step {step}, which the series does not have")
        alarm[index[step]] = alarmed
    keep = {s for s, _ in run.checks} if rules.naive_at_checks and run.checks else None
    fired = {
        "alarm": alarm,
        "proxy_per_kl": _at(run.steps, proxy_per_kl(run.proxy, run.seq_kl, rules, run.version), keep),
        "length_drift": _at(run.steps, length_drift(run.length, rules), keep),
    }
    signals = {name: score(run.steps, f, up, target, rules.horizon) for name, f in fired.items()}
    return RunWarning(peak=peak, reference=target, signals=signals)


def arm_peak(runs: Sequence[RunSeries], rules: WarningRules | None = None) -> GoldPeak:
    """The peak rule on the runs' gold averaged step by step over the steps they all logged."""
    rules = rules or WarningRules()
    steps = sorted(set.intersection(*(set(r.steps) for r in runs)))
    golds = [dict(zip(r.steps, r.gold)) for r in runs]
    gold = [sum(g[s] for g in golds) / len(golds) for s in steps]
    return gold_peak(steps, gold, rules.window, rules.peak_alpha, rules.peak_z, rules.estimate_correlation)


def summarize_arm(runs: Sequence[RunSeries], rules: WarningRules | None = None, level: float = 0.95) -> ArmWarning:
    """An arm's seeds scored against the peak of their mean gold (:func:`arm_peak`), and summarised."""
    reference = arm_peak(runs, rules)
    scored = [early_warning(r, rules, reference) for r in runs]
    return ArmWarning(peak=reference, runs=scored, signals=dict(summarize(scored, level)))


def wilson(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion."""
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + level / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def run_bootstrap(false: Sequence[int], checks: Sequence[int], level: float = 0.95, draws: int = 4000) -> tuple[float, float]:
    """Percentile interval of Σ false / Σ checks with runs resampled whole (seeded)."""
    f, c = np.asarray(false, dtype=float), np.asarray(checks, dtype=float)
    pick = np.random.default_rng(0).integers(0, len(f), size=(draws, len(f)))
    total = c[pick].sum(axis=1)
    ratios = f[pick].sum(axis=1)[total > 0] / total[total > 0]
    return float(np.quantile(ratios, 0.5 - level / 2)), float(np.quantile(ratios, 0.5 + level / 2))


def false_alarm_interval(false: Sequence[int], checks: Sequence[int], level: float) -> tuple[float, float]:
    """The hull of the pooled Wilson interval and the bootstrap over runs (runs with no check left out)."""
    runs = [(a, b) for a, b in zip(false, checks) if b]
    low, high = wilson(sum(a for a, _ in runs), sum(b for _, b in runs), level)
    boot = run_bootstrap([a for a, _ in runs], [b for _, b in runs], level)
    return min(low, boot[0]), max(high, boot[1])


def summarize(runs: Sequence[RunWarning], level: float = 0.95) -> Mapping[str, SignalSummary]:
    """Per signal over runs (seeds, arms): warning and chance warning rates, lead times, false-alarm rates."""
    out = {}
    for name in SIGNALS:
        scores = [r.signals[name] for r in runs]
        leads = [s.lead_time for s in scores if s.lead_time is not None]
        false, checks = sum(s.false_alarms for s in scores), sum(s.scored_checks for s in scores)
        rate = false / checks if checks else None
        able = [s for s in scores if s.could_warn]
        out[name] = SignalSummary(
            runs=len(runs), runs_with_peak=sum(r.reference is not None for r in runs),
            runs_could_not_warn=sum(s.could_warn is False for s in scores),
            warned=sum(s.warning_step is not None for s in able),
            warning_rate=sum(s.warning_step is not None for s in able) / len(able) if able else None,
            chance_warning_rate=float(np.mean([1 - (1 - rate) ** s.horizon_checks for s in able])) if able and rate is not None else None,
            lead_times=leads, lead_median=float(np.median(leads)) if leads else None,
            lead_quartiles=(float(np.percentile(leads, 25)), float(np.percentile(leads, 75))) if len(leads) >= MIN_QUARTILE_LEADS else None,
            run_false_alarm_rates=[s.false_alarm_rate for s in scores],
            false_alarms=false, scored_checks=checks, false_alarm_rate=rate,
            false_alarm_ci=false_alarm_interval([s.false_alarms for s in scores], [s.scored_checks for s in scores], level) if checks else None,
            rising_false_alarms=sum(s.rising_false_alarms for s in scores), rising_checks=sum(s.rising_checks for s in scores),
            level=level,
        )  # fmt: skip
    return out
