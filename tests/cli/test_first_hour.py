"""What a new user trips over in the first hour (issue 33 items 5 and 7): libraries' log noise between our lines,
transformers' load report for a fresh head, a mistyped flag, diff's output inside the repository, revise's --limit."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from constitution.cli import build_parser, main
from constitution.cli._verbosity import QUIET, quiet_libraries
from constitution.reward.backbone import load_backbone
from constitution.reward.config import RewardTrainingConfig
from constitution.revise import load_inputs

ROOT = Path(__file__).resolve().parents[2]


def test_a_mistyped_flag_or_command_names_the_one_meant(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exited:
        main(["train", "pairs.jsonl", "--out", "rm", "--epohcs", "2"])
    assert exited.value.code == 2
    assert "unrecognized arguments: --epohcs 2 (did you mean --epochs?)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["score", "rm", "in.jsonl", "--out", "o.jsonl", "--bach-size=8"])
    assert "(did you mean --batch-size?)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["trian", "pairs.jsonl"])
    assert "invalid choice: 'trian'" in (err := capsys.readouterr().err) and err.rstrip().endswith("(did you mean train?)")


def test_diff_writes_under_the_ignored_runs_folder_by_default():
    args = build_parser().parse_args(["diff", "old", "new", "--pairs", "pairs.jsonl"])
    assert args.out == "runs/diff"
    ignored = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", args.out], check=False)
    assert ignored.returncode == 0  # git ignores it: a diff never lands in a commit by accident


def test_revise_takes_a_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    rows = [{"id": "a", "prompt": "One?"}, {"id": "b", "prompt": "Two?"}, {"id": "a", "prompt": "Three?"}]
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert [i.id for i in load_inputs(path, limit=2)] == ["a", "b"]  # the repeated id after the limit is never read
    assert build_parser().parse_args(["revise", str(path), "--out", "o", "--limit", "2"]).limit == 2
    assert main(["revise", str(path), "--out", str(tmp_path / "o"), "--limit", "0"]) == 2
    assert "--limit must be at least 1, got 0" in capsys.readouterr().err


def test_libraries_keep_to_errors_unless_verbose():
    env: dict[str, str] = {"HF_DATASETS_DISABLE_PROGRESS_BARS": "0"}  # the user's own setting is kept
    applied = quiet_libraries(False, env)
    assert env["VLLM_LOGGING_LEVEL"] == "ERROR" and env["HF_DATASETS_DISABLE_PROGRESS_BARS"] == "0"
    assert "HF_DATASETS_DISABLE_PROGRESS_BARS" not in applied and set(applied) == set(QUIET) - {"HF_DATASETS_DISABLE_PROGRESS_BARS"}
    assert quiet_libraries(True, verbose_env := {}) == {} and verbose_env == {}
    commands = build_parser()._subparsers._group_actions[0].choices
    assert all("--verbose" in command._option_string_actions for command in commands.values())
    assert build_parser().parse_args(["train", "pairs.jsonl", "--out", "rm", "--verbose"]).verbose


def test_a_fresh_reward_head_is_one_line_of_ours_not_a_load_report(capfd: pytest.CaptureFixture[str]):
    load_backbone(RewardTrainingConfig())
    err = capfd.readouterr().err
    assert "new reward head initialised (classifier.bias, classifier.weight)" in err
    assert "LOAD REPORT" not in err and "MISSING" not in err


@pytest.mark.slow
@pytest.mark.vllm
def test_a_judge_start_prints_our_lines_and_vllms_only_with_verbose(tmp_path: Path, judge_model_path: str):
    """The real command on the embedded vLLM judge: ~300 vLLM lines (135 warnings about loading fp32 weights into bf16)
    used to come between our lines."""
    pytest.importorskip("vllm", reason="vLLM is not installed")
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"prompt": "How do I boil an egg?", "chosen": "Boil it for eight minutes.", "rejected": "No."}) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in QUIET}
    done = subprocess.run([sys.executable, "-m", "constitution", "label", str(pairs), "--out", str(tmp_path / "out"),
                           "--no-progress", "--max-model-len", "1024", "--kvcache-gib", "1"],
                          env=env, capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("judge vllm:smollm2-135m-instruct") and lines[-1].startswith("wrote 1 labels")
    assert not [line for line in lines + done.stderr.splitlines() if " INFO " in line or " WARNING " in line]


@pytest.mark.parametrize("choices", ["'train', 'label', 'score'", "train, label, score"], ids=["py3.11", "py3.12.8+"])
def test_did_you_mean_reads_choices_quoted_or_bare(choices: str):
    """Python 3.11 quotes argparse's choices and newer versions print them bare: both get the suggestion."""
    from constitution.cli._suggest import SuggestingParser

    parser = SuggestingParser(prog="constitution")
    with pytest.raises(SystemExit), pytest.MonkeyPatch.context() as patch:
        said: list[str] = []
        patch.setattr(argparse.ArgumentParser, "error", lambda self, message: (said.append(message), exit(2)))
        parser.error(f"argument command: invalid choice: 'trian' (choose from {choices})")
    assert said[0].endswith("(did you mean train?)")
