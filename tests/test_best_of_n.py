"""Best-of-n with the real policy (vLLM) and a real reward model."""

from __future__ import annotations

import pytest

from constitution.best_of_n import best_of_n
from constitution.data import Message
from constitution.generation import PromptItem
from constitution.rl import RewardFunction


@pytest.mark.vllm
def test_best_of_n_picks_the_highest_reward(vllm_judge, reward_folder):
    reward = RewardFunction.load(reward_folder)
    prompts = [PromptItem(id=str(i), messages=[Message(role="user", content=p)]) for i, p in enumerate(["Name a fruit.", "Say hello."])]
    results = best_of_n(prompts, vllm_judge, reward, n=3, max_tokens=12, temperature=1.0, seed=1)
    assert [r.id for r in results] == ["0", "1"]
    for p, r in zip(prompts, results):
        assert len(r.candidates) == 3 and len(r.rewards) == 3
        assert r.best_reward == max(r.rewards) and r.best == r.candidates[r.best_index]
        rescored = reward.score([([m.model_dump() for m in p.messages], c) for c in r.candidates])
        assert r.rewards == pytest.approx(rescored, abs=1e-4)
