"""The gold monitor and the refresh, on synthetic reward hacking of known structure (tests/rl/drift.py): a real MiniLM
proxy trained on labels with a planted exploit, a program gold without it, the real labeler and judgment cache, and
the real reward training for the refresh. The completion streams are synthetic: no GRPO needed for the mechanism."""

from __future__ import annotations

import json
import random

import pytest

from constitution.rl.monitor import agreement
from tests.diff.helpers import write_principles
from tests.rl.drift import ProgramGold, batch, original_rows
from tests.reward.reward_helpers import write_jsonl


def test_agreement_counts_proxy_ties_as_half_and_skips_gold_ties():
    value, decisive = agreement([(1.0, 0.0), (0.0, 1.0), (0.5, 0.5), (2.0, 1.0)], [0.9, 0.8, 0.1, 0.52], margin=0.05)
    assert decisive == 3 and value == pytest.approx((1 + 0 + 0.5) / 3)
    assert agreement([(1.0, 0.0)], [0.5], margin=0.05) == (None, 0)


@pytest.mark.slow
def test_drift_raises_the_alarm_and_a_refresh_restores_agreement(minilm_path, tmp_path):
    from constitution.data import load_pairs
    from constitution.labeling import JudgmentCache, Labeler
    from constitution.loader import load_constitution
    from constitution.reward import RewardTrainingConfig, train_reward_model
    from constitution.rl import GoldMonitor, MonitorConfig, RefreshConfig, Refresher, RewardFunction

    original = load_pairs(write_jsonl(original_rows(96, seed=0), tmp_path / "original.jsonl"))[0]
    config = RewardTrainingConfig(max_length=32, epochs=3, batch_size=16, learning_rate=2e-4, freeze_layers=4, eval_fraction=0.0, checkpoint_steps=0)
    train_reward_model(config, original, tmp_path / "proxy")
    reward = RewardFunction.load(tmp_path / "proxy")
    constitution = load_constitution(write_principles(tmp_path / "gold_c", [("right", "Which response is more correct?", 1.0)]))
    labeler = Labeler(constitution, ProgramGold(), JudgmentCache(tmp_path / "gold.sqlite"))
    refresher = Refresher(reward, tmp_path / "proxy", tmp_path / "refreshed", RefreshConfig(replay=0.5, min_pairs=8, batch_size=16, learning_rate=2e-4), replay=original)
    monitor = GoldMonitor(reward, labeler, MonitorConfig(every=1, pairs=24, pairs_per_group=4, threshold=0.6, min_decisive=8),
                          jsonl=tmp_path / "monitor.jsonl", refresher=refresher)  # fmt: skip
    logged: dict[str, float] = {}
    rng = random.Random(1)
    for drifted in (False, True, True):
        prompts, completions = batch(rng, 6, drifted)
        rewards = monitor(prompts, completions, log_metric=logged.__setitem__)
        assert len(rewards) == len(completions)
    clean, drift, after = monitor.records
    assert clean.agreement >= 0.8 and not clean.alarm and clean.refreshed_to is None
    assert drift.agreement <= 0.3 and drift.alarm and monitor.alarm  # the proxy prefers the marked dodges
    assert drift.refreshed_to == 1 and reward.version == 1 and (tmp_path / "refreshed" / "reward_v1").is_dir()
    assert after.agreement >= 0.8 and not after.alarm and after.reward_version == 1
    rows = [json.loads(line) for line in (tmp_path / "monitor.jsonl").read_text().splitlines()]
    assert [r["alarm"] for r in rows] == [False, True, False]
    assert logged["gold/agreement"] == pytest.approx(after.agreement) and "gold/proxy_reward" in logged


def test_a_gold_judge_outage_does_not_stop_training(tmp_path):
    """Fakes on purpose: a judge whose every answer fails (fault injection) and a proxy that rewards length (no model:
    the test is about the monitor's failure path)."""
    from constitution.labeling import JudgmentCache, Labeler, LabelConfig
    from constitution.llm.base import OptionResult
    from constitution.loader import load_constitution
    from constitution.rl import GoldMonitor, MonitorConfig

    class DownJudge(ProgramGold):
        def score_options(self, requests):
            for request in requests:
                yield OptionResult(request.key, None, "connection refused")

    def by_length(prompts, completions, **_):
        return [float(len(c)) for c in completions]

    constitution = load_constitution(write_principles(tmp_path / "c", [("right", "Which response is more correct?", 1.0)]))
    labeler = Labeler(constitution, DownJudge(), JudgmentCache(tmp_path / "gold.sqlite"), LabelConfig(max_failure_streak=2))
    monitor = GoldMonitor(by_length, labeler, MonitorConfig(every=1))
    prompts, completions = batch(random.Random(0), 2, drifted=False)
    assert monitor(prompts, completions) == by_length(prompts, completions)
    assert monitor.failed_checks == 1 and monitor.records == [] and not monitor.alarm
