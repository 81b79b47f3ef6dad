"""The RL reward function: TRL's reward_funcs signature, normalisation, ensembles, and a real GRPO step."""

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


@pytest.mark.slow
def test_one_grpo_step_with_trl(reward_folder, judge_model_path, tmp_path):
    trl = pytest.importorskip("trl", reason="TRL is an optional extra (.[bench])")
    import datasets
    from transformers import AutoModelForCausalLM, AutoTokenizer

    fn = RewardFunction.load(reward_folder)
    calls: list[int] = []

    def counted(prompts, completions, **kw):
        calls.append(len(completions))
        return fn(prompts, completions, **kw)

    tokenizer = AutoTokenizer.from_pretrained(judge_model_path)
    model = AutoModelForCausalLM.from_pretrained(judge_model_path)
    data = datasets.Dataset.from_list([{"prompt": [{"role": "user", "content": p}]} for p in ("Say hi.", "Name a color.")])
    config = trl.GRPOConfig(
        output_dir=str(tmp_path), use_cpu=True, max_steps=1, per_device_train_batch_size=4, num_generations=2,
        max_completion_length=8, report_to=[], save_strategy="no", logging_steps=1, bf16=False,
    )  # fmt: skip
    trainer = trl.GRPOTrainer(model=model, reward_funcs=[counted], args=config, train_dataset=data, processing_class=tokenizer)
    trainer.train()
    assert calls and calls[0] == 4
    assert any("reward" in h for h in trainer.state.log_history)
