"""The pipeline report shows an RL run's over-optimisation figure when its folder holds one in ``rl/`` (``constitution
rl --out RUN/rl``), and has no such section without it. The label and eval outputs are written by the test (the
report reads files; no model is needed for what is checked here)."""

import json

from constitution.labeling.stats import LabelSummary, PrincipleStats
from constitution.pipeline.records import ScoredSet
from constitution.pipeline.report import write_report
from constitution.reward.reports import EvalReport, Split
from tests.helpers.rl_folder import write_rl_folder


def write_run(run):
    """The label and eval outputs the report reads, for a run of 2 labelled pairs and 3 held-out pairs."""
    labels, evals = run / "labels", run / "eval"
    labels.mkdir(parents=True)
    evals.mkdir()
    principle = PrincipleStats(principle_id="clear", judged_pairs=2, mean_p_a=0.6, mean_margin=0.2, slot_a_pct=50.0)
    summary = LabelSummary(judge="smollm2-135m-instruct", constitution_hash="abc", pairs=2, judgments=8, judgments_computed=8,
                           judgments_cached=0, seconds=1.0, pairs_per_s=2.0, judgments_per_s=8.0, per_principle=[principle])  # fmt: skip
    (labels / "summary.json").write_text(summary.model_dump_json())
    (labels / "labels.jsonl").write_text("")
    split = Split(n=3, accuracy=2 / 3)
    report = EvalReport(n=3, accuracy=2 / 3, ece=0.1, nll=0.6, bins=[], accuracy_chosen_longer=split, accuracy_chosen_shorter=split,
                        length_diff_corr=None, length_bias_pairs=3, prefers_longer=0.5, label_prefers_longer=0.5, per_source={},
                        reward_mean=0.0, reward_std=1.0)  # fmt: skip
    scored = ScoredSet(report=report, chosen_rewards=[0.5, 0.2, 0.1], rejected_rewards=[0.1, 0.3, -0.2])
    (evals / "eval.json").write_text(json.dumps({"ai_test": scored.model_dump()}))


def test_the_report_includes_the_rl_figure_when_the_run_holds_an_rl_run_and_not_otherwise(tmp_path):
    run = tmp_path / "run"
    write_run(run)
    write_report(run, run / "labels", run / "eval", {})
    plain = (run / "report.md").read_text()
    assert "Reward over-optimisation" not in plain and not (run / "plots" / "overoptimization.png").exists()
    write_rl_folder(run / "rl")
    write_report(run, run / "labels", run / "eval", {})
    report = (run / "report.md").read_text()
    assert "## Reward over-optimisation (RL)" in report and "![over-optimisation](plots/overoptimization.png)" in report
    assert "40 logged steps, 20 gold checks; alarms at steps 31, 33, 35, 37, 39; refreshes: v1 at step 31" in report
    assert (run / "plots" / "overoptimization.png").read_bytes()[:4] == b"\x89PNG"


def test_the_report_shows_an_rl_run_cut_short_that_left_only_its_gold_checks(tmp_path):
    run = tmp_path / "run"
    write_run(run)
    write_rl_folder(run / "rl", log=False)  # no log.jsonl: the run stopped before TRL's log was written
    write_report(run, run / "labels", run / "eval", {})
    report = (run / "report.md").read_text()
    assert "`rl/`: 0 logged steps, 20 gold checks; alarms at steps 31, 33, 35, 37, 39" in report
    assert (run / "plots" / "overoptimization.png").read_bytes()[:4] == b"\x89PNG"
    write_rl_folder(run / "rl", normalised=True)  # --aggregation normalize_then_sum: the log's proxy is 0 every step
    write_report(run, run / "labels", run / "eval", {})
    assert "the log's proxy is group-normalised (batch mean 0), the figure draws the monitor's raw proxy" in (run / "report.md").read_text()


def test_without_matplotlib_the_rl_section_keeps_its_alarms_and_refreshes_and_says_the_figure_needs_it(tmp_path, monkeypatch):
    run = tmp_path / "run"
    write_run(run)
    write_rl_folder(run / "rl")
    # a fault injected: the figure module finds no matplotlib (the report's own plots still draw)
    monkeypatch.setattr("constitution.overoptimization.figure._matplotlib", lambda: None)
    write_report(run, run / "labels", run / "eval", {})
    report = (run / "report.md").read_text()
    assert "## Reward over-optimisation (RL)" in report and "(figure not drawn: needs matplotlib)" in report
    assert "40 logged steps, 20 gold checks; alarms at steps 31, 33, 35, 37, 39; refreshes: v1 at step 31" in report
    assert "![over-optimisation]" not in report and not (run / "plots" / "overoptimization.png").exists()
