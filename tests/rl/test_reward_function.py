"""The RL reward function: TRL's reward_funcs signature, normalisation, ensembles, swapping the model between calls."""

from __future__ import annotations

import pytest

from constitution.reward.ensemble import RewardEnsemble
from constitution.reward.model import RewardModel
from constitution.rl import RewardFunction


def test_standard_and_conversational_formats_agree(reward_folder):
    fn = RewardFunction.load(reward_folder)
    standard = fn(["How do I boil an egg?"], ["Boil it for eight minutes."])
    conversational = fn([[{"role": "user", "content": "How do I boil an egg?"}]], [[{"role": "assistant", "content": "Boil it for eight minutes."}]])
    assert standard == pytest.approx(conversational)
    model = RewardModel.load(reward_folder)
    assert standard == pytest.approx(model.score([("How do I boil an egg?", "Boil it for eight minutes.")], normalize=True))
    assert fn.__name__ == "constitution_reward"


def test_ensemble_gives_the_conservative_reward(reward_folder):
    fn = RewardFunction.load([reward_folder, reward_folder], k=2.0)
    assert isinstance(fn.scorer, RewardEnsemble)
    single = RewardFunction.load(reward_folder)(["hi"], ["hello"])
    assert fn(["hi"], ["hello"]) == pytest.approx(single)  # identical members: std 0


def test_swap_takes_effect_between_calls(reward_folder):
    fn = RewardFunction.load(reward_folder)
    before = fn(["hi"], ["hello"])
    other = RewardModel.load(reward_folder)
    other.reward_mean += 1.0  # the same network, another normalisation: every reward moves by -1/std
    assert fn.swap(other) == 1 and fn.version == 1 and fn.scorer is other
    assert fn(["hi"], ["hello"]) == pytest.approx([before[0] - 1.0 / other.reward_std])
