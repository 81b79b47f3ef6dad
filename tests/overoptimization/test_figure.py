"""The over-optimisation figure from a synthetic RL folder (:mod:`tests.helpers.rl_folder`), as ``constitution rl``
writes it: read back, then drawn."""

import pytest

from constitution.overoptimization.figure import draw_overoptimization
from constitution.overoptimization.rl_run import PROXY_KEY, read_rl_run
from tests.helpers.rl_folder import write_rl_folder


def test_the_folder_reads_back_proxy_gold_sequence_kl_and_checks(tmp_path):
    write_rl_folder(tmp_path / "rl")
    run = read_rl_run(tmp_path / "rl")
    assert run is not None and run.proxy_key == PROXY_KEY and len(run.steps) == 40 and len(run.checks) == 20
    assert run.skipped and "log.jsonl:11" in run.skipped[0]  # the broken line is listed, the rest is read
    by_step = {r.step: r for r in run.steps}
    assert by_step[4].seq_kl == pytest.approx(0.04 * 24)  # no seq_kl logged: per-token kl × mean length
    assert by_step[25].gold == pytest.approx(1.25) and by_step[25].proxy == pytest.approx(2.5)
    assert [c.step for c in run.checks if c.alarm][0] == 31 and run.check_seq_kl(run.checks[0]) == pytest.approx(0.21)
    assert read_rl_run(tmp_path / "empty") is None


def test_the_figure_is_drawn_from_the_folder(tmp_path):
    write_rl_folder(tmp_path / "rl")
    path = draw_overoptimization(tmp_path / "rl")
    assert path == tmp_path / "rl" / "overoptimization.png" and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    write_rl_folder(tmp_path / "plain", gold=False, monitor=False)  # no gold reward, no monitor: the proxy alone
    assert draw_overoptimization(tmp_path / "plain", tmp_path / "out" / "f.png") == tmp_path / "out" / "f.png"
    assert draw_overoptimization(tmp_path / "nothing") is None and not (tmp_path / "nothing").exists()
