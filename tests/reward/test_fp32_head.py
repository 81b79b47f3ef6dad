"""Under bf16 autocast (on by default on AMX / AVX512-BF16 CPUs and on GPUs; forced here whatever this machine has)
the reward head still runs in fp32: rewards are not bf16-quantised and a per-principle model scores as its
``export --scalar`` does, to fp32 rounding."""

from __future__ import annotations

import pytest
import torch

from tests.reward.principle_data import TRAIN_WEIGHTS, principle_rows


def _bf16(x: float) -> float:
    return float(torch.tensor(x).bfloat16().float())


def test_the_head_computes_in_fp32_under_bf16_autocast():
    from constitution.reward.fp32_head import keep_head_fp32

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))
    x = torch.randn(8, 16)
    keep_head_fp32(model, 3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        features = model[1](model[0](x))
        out = model(x)
    assert features.dtype == torch.bfloat16 and out.dtype == torch.float32  # the backbone ran in bf16, the head did not
    assert torch.equal(out, torch.nn.functional.linear(features.float(), model[2].weight, model[2].bias))
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]  # saves as the plain Linear did


def test_a_headed_model_and_its_export_agree_under_bf16(headed, tmp_path):
    from constitution.reward.export import export_scalar
    from constitution.reward.model import RewardModel

    export_scalar(headed[0], tmp_path / "scalar")
    source, exported = RewardModel.load(headed[0], bf16=True), RewardModel.load(tmp_path / "scalar", bf16=True)
    assert source.bf16 and exported.bf16
    rows = principle_rows(16, 41, TRAIN_WEIGHTS)
    items = [(r["prompt"], r["response_a"]) for r in rows] + [(r["prompt"], r["response_b"]) for r in rows]
    rewards = source.score(items)
    assert exported.score(items) == pytest.approx(rewards, abs=1e-5)
    assert sum(r != _bf16(r) for r in rewards) >= len(rewards) - 1  # not rounded to bf16
    fp32 = RewardModel.load(headed[0], bf16=False).score(items)
    assert fp32 != pytest.approx(rewards, abs=1e-6)  # the backbone did run under bf16 autocast
