"""Per-principle rewards in RL: one TRL reward function per principle beside the combined one, weights that reproduce
the constitution, decoupled (per-group) normalisation, and a real 2-step GRPOTrainer run that logs each principle."""

from __future__ import annotations

import json

import numpy as np
import pytest

from constitution.rl.principles import group_normalized

PROMPTS = ["How do I boil an egg?"] * 2 + ["Who wrote Hamlet?"] * 2
COMPLETIONS = ["Thank you for asking! Boil it for eight minutes.", "Obviously, cook it in water. Source: https://en.wikipedia.org/wiki/Egg",
               "Shakespeare wrote it.", "Ugh, fine. William Shakespeare did, and many people have written at length about it."]  # fmt: skip


def test_group_normalized_is_per_group_and_per_column():
    values = np.array([[1.0, 5.0], [3.0, 5.0], [10.0, 0.0], [30.0, 2.0]])
    out = group_normalized(values, ["p", "p", "q", "q"])
    assert out.tolist() == [[-1.0, 0.0], [1.0, 0.0], [-1.0, -1.0], [1.0, 1.0]]  # equal values in a group -> 0


def test_principle_functions_reproduce_the_combined_reward(headed):
    from constitution.rl import PrincipleRewards, RewardFunction

    fn = RewardFunction.load(headed[0])
    rewards = PrincipleRewards(fn)
    funcs = rewards.functions()
    assert [f.__name__ for f in funcs] == [f"constitution_reward/{p}" for p in ("polite", "cites", "concise")] + ["constitution_reward"]
    per = np.array([f(PROMPTS, COMPLETIONS) for f in funcs[:-1]])
    combined = np.array(funcs[-1](PROMPTS, COMPLETIONS))
    assert combined == pytest.approx(fn(PROMPTS, COMPLETIONS))  # the combined function is the model's reward
    weights = np.array(rewards.trl_weights("sum_then_normalize"))
    assert weights[-1] == 0.0  # combined: logged only
    assert weights[:-1] @ per == pytest.approx(combined, abs=1e-9)  # TRL's weighted sum = the combined reward
    shares = rewards.trl_weights("normalize_then_sum")[:-1]
    assert sum(shares) == pytest.approx(1.0) and shares == pytest.approx([1 / 5, 1 / 5, 3 / 5])
    decoupled = PrincipleRewards(fn, group_normalize=True)(PROMPTS, COMPLETIONS)
    assert decoupled == pytest.approx((group_normalized(per.T, PROMPTS) @ np.array(shares)).tolist())


@pytest.mark.slow
def test_grpo_logs_each_principle_and_the_gold_monitor(headed, heads_root, judge_model_path, tmp_path):
    pytest.importorskip("trl", reason="TRL is an optional extra (.[bench])")
    from constitution.llm.config import HfConfig
    from constitution.loader import load_constitution
    from constitution.rl import MonitorConfig, RLConfig, run_grpo

    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in ("How do I boil an egg?", "Who wrote Hamlet?")))
    config = RLConfig(
        reward_model=[str(headed[0])], prompts=str(prompts), steps=2, prompts_per_step=2, num_generations=2,
        max_new_tokens=8, beta=0.0, bf16=False, rewards="per_principle", aggregation="normalize_then_sum",
        gold_judge=HfConfig(dtype="float32", max_model_len=1024), monitor=MonitorConfig(every=1, pairs=2, win_rate_prompts=1, win_rate_max_tokens=4),
    )  # fmt: skip
    constitution = load_constitution(heads_root / "train_c")
    result = run_grpo(config, tmp_path / "rl", constitution=constitution, gold=constitution)
    assert result.steps == 2 and len(result.log) == 2
    for row in result.log:
        for name in ("polite", "cites", "concise"):
            assert f"rewards/constitution_reward/{name}/mean" in row
        assert "rewards/constitution_reward/mean" in row and "gold/proxy_reward" in row
    checks = [json.loads(line) for line in (tmp_path / "rl" / "monitor.jsonl").read_text().splitlines()]
    assert [c["step"] for c in checks] == [1, 2] and all(c["pairs"] == 2 for c in checks)
    assert all(0.0 <= c["gold_win_rate"] <= 1.0 for c in checks)  # greedy policy vs the initial policy, gold-judged
