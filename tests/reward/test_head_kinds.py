"""One training entry point per head kind: `constitution train` and the pipeline both reach the kind's trainer, and a
new kind is one registration (a fake kind here: its trainer records the call instead of training, to isolate the
dispatch)."""

from __future__ import annotations

import json

import pytest
from datasets import Dataset

from constitution.cli import main
from constitution.pipeline.config import PipelineConfig
from constitution.pipeline.run import Pipeline
from constitution.reward.config import RewardTrainingConfig
from constitution.reward.head_kinds import KINDS, HeadKind, register_kind
from constitution.reward.trainer import TrainResult
from tests.reward.reward_helpers import synthetic_rows, write_jsonl


@pytest.fixture
def fake_kind():
    calls: list[dict] = []

    def fit(config, pairs, out, **keywords):
        calls.append({"heads": config.heads, "pairs": len(pairs), "out": str(out), **keywords})
        return TrainResult(
            out_dir=str(out), train_pairs=len(pairs), eval_pairs=0, train_runtime_s=0.0, train_samples_per_second=0.0,
            eval_metrics={}, reward_mean=0.0, reward_std=1.0,
        )  # fmt: skip

    scalar = KINDS["scalar"]
    register_kind(HeadKind("fake", scalar.load, scalar.heads, scalar.record_pair, needs_constitution=True, train=fit))
    yield calls
    del KINDS["fake"]


def test_cli_and_pipeline_train_through_the_kind(fake_kind, tmp_path, capsys) -> None:
    data = write_jsonl(synthetic_rows(12), tmp_path / "pairs.jsonl")
    assert main(["train", str(data), "--out", str(tmp_path / "cli_model"), "--heads", "fake"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["train_pairs"] == 12

    Dataset.from_list(synthetic_rows(12)).save_to_disk(str(tmp_path / "run" / "labels"))  # as the label stage leaves it
    pipeline = Pipeline(PipelineConfig(run_dir=str(tmp_path / "run"), training={"heads": "fake"}), log=lambda s: None)
    pipeline._train()

    assert [c["heads"] for c in fake_kind] == ["fake", "fake"]
    assert all(c["constitution"] is not None for c in fake_kind)  # the kind asked for one, and both faces loaded it
    assert fake_kind[1]["pairs"] + pipeline._train()["test_pairs"] == 12


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown reward-head kind 'nope'"):
        RewardTrainingConfig(heads="nope")


def test_a_gold_record_becomes_the_pair_its_kind_trains_on() -> None:
    """What the RL refresh retrains on: the record's per-principle labels for a per-principle model, none for a scalar."""
    from constitution.data.records import FeedbackRecord, Pair
    from constitution.reward.head_kinds import head_kind, kind_of
    from constitution.reward.principle_pairs import PrinciplePair

    pair = Pair(id="x", prompt=[{"role": "user", "content": "hi"}], response_a="a", response_b="b")
    record = FeedbackRecord.of(pair, 0.8, {"polite": 0.9}, position_consistent=True, judge="j", constitution_hash="h")
    headed = head_kind(kind_of(["polite"])).record_pair(record)
    scalar = head_kind(kind_of([])).record_pair(record)
    assert isinstance(headed, PrinciplePair) and headed.per_principle == {"polite": 0.9} and headed.p_a == 0.8
    assert type(scalar) is Pair and (scalar.id, scalar.p_a) == ("x", 0.8)
