"""The same text gets the same reward whatever else is in its batch (issue 32 §0).

The contract: in fp32 batchmates move a reward by float rounding only (≤ 1e-6); under bf16 a reward is the same bit
for bit in any batch, because every forward pass has one shape per input length. The bf16 path is forced here, so
a CPU without native bf16 (autocast emulates it, slowly) checks what an AMX Xeon or a GPU would run.
"""

from __future__ import annotations

import random

import pytest

WORDS = "the cat sat on a mat and then it ran far away from home because of reasons unknown to all".split()


def _texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choices(WORDS, k=rng.choice([1, 3, 9, 17, 30, 41, 70, 150]))) for _ in range(n)]


@pytest.mark.parametrize("bf16", [True, False], ids=["bf16", "fp32"])
def test_a_reward_does_not_depend_on_its_batchmates(reward_folder, bf16):
    from constitution.reward.model import RewardModel

    model = RewardModel.load(reward_folder, bf16=bf16)
    texts = _texts(16)
    alone = [model.score([t])[0] for t in texts]
    together = model.score(texts)
    rng = random.Random(1)
    shuffled = rng.sample(range(len(texts)), len(texts))
    reordered = model.score([texts[i] for i in shuffled])
    subset = model.score(texts[::3] + _texts(5, seed=7))[: len(texts[::3])]
    tol = 0.0 if bf16 else 1e-6
    assert together == pytest.approx(alone, abs=tol, rel=0)
    assert [reordered[shuffled.index(i)] for i in range(len(texts))] == pytest.approx(alone, abs=tol, rel=0)
    assert subset == pytest.approx(alone[::3], abs=tol, rel=0)


def test_bf16_stays_close_to_fp32(reward_folder):
    """bf16 changes a reward by rounding, not by meaning: within 5% of the rewards' spread of its fp32 value."""
    import numpy as np

    from constitution.reward.model import RewardModel

    texts = _texts(16)
    fp32 = np.array(RewardModel.load(reward_folder, bf16=False).score(texts))
    bf16 = np.array(RewardModel.load(reward_folder, bf16=True).score(texts))
    assert np.abs(bf16 - fp32).max() <= 0.05 * fp32.std()


def test_every_bf16_forward_pass_has_one_shape_per_input_length(reward_folder):
    from constitution.batching import FIXED_ROWS, bucket_width
    from constitution.reward.model import RewardModel

    model = RewardModel.load(reward_folder, bf16=True)
    shapes: list[tuple[int, int]] = []
    hook = model.model.register_forward_pre_hook(lambda _m, _a, kw: shapes.append(tuple(kw["input_ids"].shape)), with_kwargs=True)
    try:
        texts = _texts(30)
        model.score(texts)
    finally:
        hook.remove()
    widths = {bucket_width(len(ids)) for ids in model.encode(texts)}
    assert {s[0] for s in shapes} == {FIXED_ROWS}
    assert {s[1] for s in shapes} == widths


def test_a_step_score_does_not_depend_on_its_batchmates_under_bf16(tmp_path):
    """The process model's step scores follow the same contract: under bf16 (forced here) a trace's step scores are
    the same bit for bit alone and among other traces of other lengths, windows past max_length included."""
    from constitution.reward.process.model import ProcessRewardModel
    from tests.helpers.reward_folders import process_folder

    model = ProcessRewardModel.load(process_folder(tmp_path / "prm"), device="cpu")
    model.bf16 = True
    rng = random.Random(3)
    traces = [(f"question {t}", [" ".join(rng.choices(WORDS, k=rng.randint(1, 12))) for _ in range(rng.randint(1, 9))]) for t in range(12)]
    together = model.step_scores(traces)
    assert [model.step_scores([t])[0] for t in traces] == together
    assert model.step_scores(traces[::-1])[::-1] == together
