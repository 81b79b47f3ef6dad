"""A gold alarm that can never fire is said before the run: a check labels at most prompts_per_step x
pairs_per_group pairs (and --monitor-pairs), and the alarm needs min_decisive decisive ones. At the CLI's defaults
(2 prompts x 2 pairs = 4 < 20) `--refresh` on the alarm alone would never refresh: exit 2; a monitor alone warns."""

from __future__ import annotations

import logging

import pytest

from constitution.errors import InputError
from constitution.llm.config import HfConfig
from constitution.rl.config import MonitorConfig, RefreshConfig, RLConfig
from constitution.rl.grpo import check_alarm_reach


def test_refresh_on_an_alarm_that_cannot_fire_is_exit_2_before_training(reward_folder, tmp_path, capsys):
    pytest.importorskip("trl", reason="TRL is an optional extra (.[bench])")
    from constitution.cli import main

    argv = ["rl", "--reward-model", str(reward_folder), "--out", str(tmp_path / "rl"), "--steps", "1", "--prompt-limit", "2",
            "--max-new-tokens", "4", "--no-bf16", "--gold-judge", "smollm2-135m-instruct", "--backend", "hf", "--refresh"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--refresh on the alarm only" in err and "needs 20 decisive pairs" in err and "at most 4" in err
    assert not (tmp_path / "rl" / "log.jsonl").exists()  # refused before TRL ran


def test_a_monitor_whose_alarm_cannot_fire_warns_and_one_at_users_settings_does_not(caplog):
    gold = HfConfig()
    with caplog.at_level(logging.WARNING, logger="constitution.rl.grpo"):
        check_alarm_reach(RLConfig(reward_model=["rm"], gold_judge=gold))  # defaults: 2 groups x 2 pairs
    assert "can never fire" in caplog.text
    caplog.clear()
    batch_1024 = RLConfig(reward_model=["rm"], gold_judge=gold, prompts_per_step=128, num_generations=8, refresh=RefreshConfig())
    with caplog.at_level(logging.WARNING, logger="constitution.rl.grpo"):
        check_alarm_reach(batch_1024)
    assert caplog.text == ""
    with pytest.raises(InputError, match="--monitor-stop-on-alarm would never act"):
        check_alarm_reach(batch_1024.model_copy(update={"monitor": MonitorConfig(pairs=16, stop_on_alarm=True)}))



def test_the_gold_judge_starts_with_the_monitor_not_at_the_first_check_inside_trl(tmp_path):
    """Review: the vLLM gold judge was lazy (started at the first gold check, inside TRL's reward call, after the
    policy had taken the GPU's memory), so a judge that cannot start killed the run at step 1 instead of before it.
    A real vLLM judge that cannot start (a context past the model's 8,192 positions) now fails the monitor's set-up."""
    from tests.conftest import require_vllm

    require_vllm()
    from constitution.llm.config import VllmConfig
    from constitution.loader import load_constitution
    from constitution.resources import default_principles
    from constitution.rl.grpo import _monitor

    gold = load_constitution(default_principles())
    config = RLConfig(reward_model=["rm"], gold_judge=VllmConfig(dtype="float32", max_model_len=100_000, kvcache_gib=1))
    with pytest.raises(Exception, match="max_model_len"):
        _monitor(config, None, None, tmp_path, gold, None)  # type: ignore[arg-type]  # no refresh: the reward is not used
