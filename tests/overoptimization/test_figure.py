"""The over-optimisation figure from a synthetic RL folder (:mod:`tests.helpers.rl_folder`), as ``constitution rl``
writes it: read back, then drawn. The plotted series are checked through :func:`figure_lines` (what the figure
draws), not only that a PNG exists."""

import sys

import numpy as np
import pytest

from constitution.overoptimization.figure import check_panel_note, draw_overoptimization, figure_lines, log_proxy_normalised, why_not_drawn
from constitution.overoptimization.rl_run import PROXY_KEY, CheckRow, RLRun, StepRow, read_rl_run
from tests.helpers.rl_folder import write_rl_folder

PNG = b"\x89PNG\r\n\x1a\n"


def lines(run: RLRun, by_kl: bool = False) -> dict:
    return {line.label: line for line in figure_lines(run, by_kl)}


def test_the_folder_reads_back_proxy_gold_sequence_kl_and_checks(tmp_path):
    write_rl_folder(tmp_path / "rl")
    run = read_rl_run(tmp_path / "rl")
    assert run is not None and run.proxy_key == PROXY_KEY and len(run.steps) == 40 and len(run.checks) == 20
    assert run.skipped and "log.jsonl:11" in run.skipped[0]  # the broken line is listed, the rest is read
    by_step = {r.step: r for r in run.steps}
    assert by_step[4].seq_kl == pytest.approx(0.04 * 24)  # no seq_kl logged: per-token kl × mean length
    assert by_step[25].gold == pytest.approx(1.25) and by_step[25].proxy == pytest.approx(2.5)
    assert [c.step for c in run.checks if c.alarm][0] == 31 and run.check_seq_kl(run.checks[0]) == pytest.approx(0.21)
    assert run.checks[-1].proxy_reward == pytest.approx(0.9) and [run.version_at(s) for s in (31, 32)] == [0, 1]
    assert read_rl_run(tmp_path / "empty") is None


def test_sparse_gold_checks_are_drawn_as_their_raw_points_joined():
    # 4 checks whose last one drops: a moving mean over checks would smooth the drop away; 2 checks: a flat line
    for agreement in ([0.9, 0.9, 0.9, 0.5], [0.9, 0.6]):
        checks = [CheckRow(step=10 * (i + 1), agreement=a, agreement_upper=a + 0.05) for i, a in enumerate(agreement)]
        run = RLRun(folder="x", steps=[], checks=checks, proxy_key=None)
        drawn = lines(run)["proxy–gold agreement"]
        assert drawn.segments == [[(10.0 * (i + 1), a) for i, a in enumerate(agreement)]] and drawn.dots == []
        assert lines(run)["agreement upper bound"].segments[0][-1] == (10.0 * len(agreement), pytest.approx(agreement[-1] + 0.05))


def test_dense_per_step_rewards_are_smoothed_over_full_windows_only_with_their_raw_points_as_dots(tmp_path):
    write_rl_folder(tmp_path / "rl")
    gold = lines(read_rl_run(tmp_path / "rl"))["gold reward"]
    raw = [0.05 * (25 - abs(s - 25)) for s in range(1, 41)]
    assert len(gold.dots) == 40 and len(gold.segments) == 1 and len(gold.segments[0]) == 36
    xs, ys = zip(*gold.segments[0])
    assert xs[0] == 3.0 and xs[-1] == 38.0  # centres of the first and last full 5-step windows
    assert np.allclose(ys, np.convolve(raw, np.ones(5) / 5, mode="valid"))


def test_the_proxy_breaks_at_each_refresh_and_a_group_normalised_log_proxy_gives_way_to_the_monitors(tmp_path):
    write_rl_folder(tmp_path / "rl")
    drawn = lines(read_rl_run(tmp_path / "rl"))
    logged = drawn[f"proxy ({PROXY_KEY})"]
    assert len(logged.segments) == 2 and logged.segments[0][-1][0] <= 31 and logged.segments[1][0][0] == 32
    monitor = drawn["proxy (monitor: raw combined reward)"]
    assert len(monitor.segments) == 2 and monitor.segments[1] == [(s, pytest.approx(0.1 * s - 3)) for s in (33, 35, 37, 39)]
    assert max(x for x, _ in monitor.segments[0]) <= 31  # no mean blends the two versions' scales
    write_rl_folder(tmp_path / "norm", normalised=True)  # --aggregation normalize_then_sum: batch mean 0 every step
    drawn = lines(read_rl_run(tmp_path / "norm"))
    assert f"proxy ({PROXY_KEY})" not in drawn and "proxy (monitor: raw combined reward)" in drawn


def test_a_run_cut_short_with_only_its_gold_checks_is_read_and_drawn(tmp_path):
    write_rl_folder(tmp_path / "short", log=False)
    run = read_rl_run(tmp_path / "short")
    assert run is not None and run.steps == [] and len(run.checks) == 20
    assert "proxy–gold agreement" in lines(run) and "gold reward" not in lines(run)
    assert draw_overoptimization(tmp_path / "short").read_bytes()[:8] == PNG


def test_the_figure_is_drawn_from_the_folder_and_says_why_not_when_it_is_not(tmp_path, monkeypatch):
    write_rl_folder(tmp_path / "rl")
    path = draw_overoptimization(tmp_path / "rl")
    assert path == tmp_path / "rl" / "overoptimization.png" and path.read_bytes()[:8] == PNG
    write_rl_folder(tmp_path / "plain", gold=False, monitor=False)  # no gold reward, no monitor: the proxy alone
    assert draw_overoptimization(tmp_path / "plain", tmp_path / "out" / "f.png") == tmp_path / "out" / "f.png"
    assert check_panel_note(read_rl_run(tmp_path / "plain")) == "no gold monitor"
    failed = RLRun(folder="x", steps=[StepRow(step=1, proxy=0.1, gold=None, seq_kl=None, length=None)],
                   checks=[CheckRow(step=1, agreement=None)], proxy_key=PROXY_KEY)  # fmt: skip
    assert check_panel_note(failed).startswith("no gold check had decisive pairs")
    assert draw_overoptimization(tmp_path / "nothing") is None and not (tmp_path / "nothing").exists()
    assert why_not_drawn(tmp_path / "nothing").startswith("nothing logged")
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # a fault injected: matplotlib not installed
    assert draw_overoptimization(tmp_path / "rl") is None and why_not_drawn(tmp_path / "rl") == "needs matplotlib"


def test_a_group_normalised_log_proxy_is_recognised_through_float_noise_and_a_small_real_proxy_is_not():
    def run(values):
        steps = [StepRow(step=i + 1, proxy=v, gold=None, seq_kl=None, length=None) for i, v in enumerate(values)]
        return RLRun(folder="x", steps=steps, checks=[], proxy_key=PROXY_KEY)

    # normalised rewards summed in float32: each batch mean is 0 up to rounding (~1e-8), never exactly 0
    assert log_proxy_normalised(run([3e-8, -2e-8, 5e-9, -4e-8] * 10))
    assert not log_proxy_normalised(run([3e-8, -2e-8, 1e-3, -4e-8] * 10))  # one real batch mean: a real proxy
