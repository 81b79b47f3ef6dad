"""Process rewards at users' lengths: a step's score depends on its prefix alone (the default causal backbone), and
traces of 40 steps go through label-steps, train --kind process and score-steps, every step scored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from constitution.data.steps import write_steps
from tests.process.chains import ChainJudge, chains


def test_a_steps_score_depends_on_its_prefix_alone(tmp_path: Path, judge_model_path: str):
    """Issue 34 item 1: with the bidirectional MiniLM, appending "Wait, step 1 is wrong." moved step 1's score. The
    default backbone is now causal (the embedded SmolLM2-135M, read at each step's last token): appending steps,
    within max_length or past it (read in windows), leaves every earlier score unchanged (fp32)."""
    from constitution.reward.process.config import ProcessTrainingConfig
    from constitution.reward.process.model import ProcessRewardModel
    from constitution.reward.process.trainer import train_process_model

    config = ProcessTrainingConfig(max_length=96, epochs=1, batch_size=8, bf16=False, eval_fraction=0)
    assert config.base_model == "smollm2-135m-instruct"
    train_process_model(config, chains(8, seed=1, steps=(2, 3), error="guess"), tmp_path / "prm")  # one update: any weights will do
    model = ProcessRewardModel.load(tmp_path / "prm", device="cpu")
    model.bf16 = False
    assert model.metadata.architecture == "LlamaForTokenClassification"
    trace = chains(1, seed=2, steps=(3, 3))[0]
    appended = [*trace.completions, "Wait, step 1 is wrong.", *(f"Check: {k} + 1 = {k + 1}" for k in range(12))]
    [before, after] = model.scored([(trace.prompt, trace.completions), (trace.prompt, appended)])
    assert before.truncated_steps == 0 and after.truncated_steps > 0  # the longer one is read in windows
    assert after.scores[:3] == pytest.approx(before.scores, abs=1e-6, rel=0)
    [alone] = model.step_scores([(trace.prompt, appended[:5])])
    assert alone == pytest.approx(after.scores[:5], abs=1e-6, rel=0)  # batch and length change nothing either


def test_label_train_and_score_traces_of_40_steps(tmp_path: Path, step_folder: Path, monkeypatch, capsys):
    """label-steps (a stand-in judge: a fake for the loaded model), train --kind process and score-steps on traces
    of 40 steps, far past max_length: every step labelled, trained and scored, the truncated ones counted; the
    held-out file's unlabelled trace is left out of the metrics (issue 34 item 7), not counted as found."""
    from constitution.cli import main
    from constitution.labeling.steps import run as step_run

    monkeypatch.setattr(step_run, "make_llm", lambda config: ChainJudge())
    long = chains(6, seed=9, steps=(40, 40))
    source = write_steps(tmp_path / "traces.jsonl", [t.model_copy(update={"labels": None}) for t in long[:4]])
    assert main(["label-steps", str(source), "--out", str(tmp_path / "labels"), "--constitution", str(step_folder), "--no-progress"]) == 0
    rows = [json.loads(x) for x in (tmp_path / "labels" / "labels.jsonl").read_text().splitlines()]
    assert [r["labels"] for r in rows] == [t.labels for t in long[:4]] and all(len(r["soft_labels"]) == 40 for r in rows)

    held = write_steps(tmp_path / "held.jsonl", [*long[4:], long[0].model_copy(update={"id": "unlabelled", "labels": None})])
    capsys.readouterr()
    args = ["--base-model", "all-minilm-l6-v2", "--epochs", "1", "--batch-size", "8", "--eval-data", str(held)]
    assert main(["train", str(tmp_path / "labels"), "--kind", "process", "--out", str(tmp_path / "prm"), *args]) == 0
    result = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert result["train_traces"] == 4 and result["train_steps_truncated"] > 0 and result["train_traces_unlabelled"] == 0
    assert result["eval_traces"] == 2 and result["eval_traces_unlabelled"] == 1
    assert result["eval_metrics"]["erroneous_traces"] + result["eval_metrics"]["correct_traces"] == 2

    assert main(["score-steps", str(tmp_path / "prm"), str(held), "--out", str(tmp_path / "scores.jsonl")]) == 0
    scored = [json.loads(x) for x in (tmp_path / "scores.jsonl").read_text().splitlines()]
    assert [len(r["step_scores"]) for r in scored] == [40, 40, 40] and all(0 < r["truncated_steps"] < 40 for r in scored)
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert summary["traces"] == 3 and summary["steps"] == 120 and summary["labelled_traces"] == 2
    assert summary["truncated_steps"] == sum(r["truncated_steps"] for r in scored)


def test_score_steps_reads_one_chunk_of_traces_at_a_time(tmp_path: Path):
    """Issue 34 item 6: score-steps loaded every trace before scoring; the first rows now come after one chunk."""
    from constitution.reward.process.model import ProcessRewardModel
    from constitution.reward.process.score import StepScoring
    from tests.helpers.reward_folders import process_folder

    read: list[str] = []

    def traces():
        for trace in chains(10, seed=4):
            read.append(trace.id)
            yield trace

    scoring = StepScoring(ProcessRewardModel.load(process_folder(tmp_path / "prm"), device="cpu"), chunk_traces=4)
    rows = scoring.rows(traces())
    first = next(rows)
    assert len(read) == 4 and first.id == "chain-0"
    assert [r.id for r in rows] == [f"chain-{i}" for i in range(1, 10)]
    summary = scoring.summary()
    assert summary.traces == summary.labelled_traces == 10 and summary.metrics is not None
