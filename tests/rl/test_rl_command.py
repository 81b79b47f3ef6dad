"""`constitution rl`: a real GRPO run (TRL) of the embedded policy against a reward model, on the packaged prompts,
with the gold monitor (the embedded judge on transformers) and its over-optimisation figure."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_rl_command_runs_grpo_on_the_packaged_prompts(reward_folder, judge_model_path, tmp_path, monkeypatch):
    pytest.importorskip("trl", reason="TRL is an optional extra (.[bench])")
    from constitution.cli import main

    monkeypatch.chdir(tmp_path)  # outside the checkout: the demo prompts come from the installed package
    out = tmp_path / "rl"
    argv = ["rl", "--reward-model", str(reward_folder), "--out", str(out), "--steps", "2", "--prompt-limit", "2",
            "--prompts-per-step", "2", "--num-generations", "2", "--max-new-tokens", "8", "--beta", "0.04", "--no-bf16",
            "--gold-judge", "smollm2-135m-instruct", "--backend", "hf", "--monitor-pairs", "2"]  # fmt: skip
    assert main(argv) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["steps"] == 2 and [c["step"] for c in result["monitor"]] == [1] and result["reward_version"] == 0
    assert (out / "overoptimization.png").read_bytes()[:4] == b"\x89PNG"  # with the gold monitor: its figure
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2] and "rewards/constitution_reward/mean" in rows[0]
    row = rows[1]  # step 2: the policy moved, so a KL; per sequence beside TRL's per-token mean, named as such
    assert row["kl"] > 0 and row["kl_per_token"] == row["kl"]
    assert row["seq_kl"] == pytest.approx(row["kl"] * row["completions/mean_length"]) and row["seq_kl"] > row["kl"]


def test_rl_command_refuses_refresh_without_a_gold_judge(reward_folder, tmp_path, capsys):
    from constitution.cli import main

    assert main(["rl", "--reward-model", str(reward_folder), "--out", str(tmp_path), "--refresh"]) == 2
    assert "--refresh needs the gold monitor" in capsys.readouterr().err


def test_flags_build_the_nested_rl_config(tmp_path):
    from constitution.cli import build_parser
    from constitution.cli.rl import config_from_args

    (tmp_path / "rl.yaml").write_text("reward_model: [rm]\nsteps: 5\nmonitor: {every: 7, pairs: 3}\n")
    argv = ["rl", "--out", str(tmp_path), "--config", str(tmp_path / "rl.yaml"), "--steps", "9", "--monitor-every", "2",
            "--refresh", "--refresh-every", "4", "--gold-judge", "smollm2-135m-instruct", "--backend", "hf", "--lr", "1e-5"]  # fmt: skip
    config = config_from_args(build_parser().parse_args(argv))
    assert (config.steps, config.learning_rate, config.reward_model) == (9, 1e-5, ["rm"])
    assert (config.monitor.every, config.monitor.pairs) == (2, 3)  # a flag overrides one key of the file's section
    assert config.refresh is not None and config.refresh.every == 4 and config.refresh.on_alarm
    assert config.gold_judge is not None and config.gold_judge.backend == "hf"
