"""benchmarks/bench_reward_training.py (issue 32 §3): TRL's learning rate is chosen on validation pairs, never on
test pairs; the paired comparison gives the end-to-end (process wall) ratio beside the ``train()`` ratio; TRL frozen
like ours trains exactly ours' weights; a rerun with other settings cannot mix its runs into a result file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.bench_reward_training import done_runs, ours_trainable_parameters, summarize, trainable_parameters


def _run(contender: str, seed: int, lr: float, test: float, val: float, train_s: float, wall_s: float) -> dict:
    return {"contender": contender, "seed": seed, "learning_rate": lr, "test_accuracy": test, "val_accuracy": val,
            "test_ece": 0.05, "train_runtime_s": train_s, "wall_s_per_epoch": train_s, "train_pairs_per_second": 1.0,
            "process_wall_s": wall_s, "peak_rss_mib": 1.0, "trainable_parameters": 7}  # fmt: skip


def test_trl_lr_is_chosen_by_validation_and_the_paired_ratios_include_end_to_end():
    runs = []
    for seed in (0, 1, 2):
        runs.append(_run("ours", seed, 1e-4, 0.63, 0.60, 100.0, 150.0 + seed))
        # 3e-4 has the best TEST accuracy but the worse validation accuracy: the choice must not look at test pairs
        runs.append(_run("trl", seed, 3e-4, 0.70, 0.55, 200.0, 160.0))
        runs.append(_run("trl", seed, 1e-4, 0.60, 0.65, 120.0 + 10 * seed, 150.0))
    summary = summarize(runs)
    assert summary["trl_best_lr"]["learning_rate"] == 1e-4
    assert set(summary["trl_by_lr"]) == {"0.0001", "0.0003"}
    paired = summary["paired"]
    assert paired["train_time_trl_over_ours"]["per_seed"] == pytest.approx({0: 1.2, 1: 1.3, 2: 1.4})
    assert paired["train_time_trl_over_ours"]["median"] == pytest.approx(1.3)
    wall = paired["process_wall_trl_over_ours"]
    assert wall["per_seed"] == pytest.approx({0: 1.0, 1: 150 / 151, 2: 150 / 152})
    assert (wall["min"], wall["max"]) == pytest.approx((150 / 152, 1.0))
    assert paired["trainable_parameters_match"]


def test_trl_frozen_like_ours_trains_exactly_ours_weights():
    from constitution.reward.backbone import load_backbone
    from constitution.reward.config import RewardTrainingConfig

    config = RewardTrainingConfig().model_dump()  # ours' defaults: frozen embeddings and 3 layers, mean pooling
    frozen_trl = load_backbone(RewardTrainingConfig(**config))[0]  # what run_trl(model_like=config) trains
    everything = trainable_parameters(load_backbone(RewardTrainingConfig(freeze_layers=0, freeze_embeddings=False))[0])
    assert trainable_parameters(frozen_trl) == ours_trainable_parameters(config) < everything


def test_a_rerun_with_other_settings_is_refused_and_one_with_other_seeds_resumes(tmp_path: Path):
    path = tmp_path / "bench.json"
    args = {"train": 1600, "val": 200, "seeds": [0, 1], "trl_lrs": [1e-4], "only": None, "out": str(tmp_path)}
    path.write_text(json.dumps({"provenance": {"date": "d"}, "args": args, "runs": [{"seed": 0}]}))
    assert done_runs(path, {**args, "seeds": [0, 1, 2, 3, 4], "trl_lrs": [3e-5, 1e-4]}) == {"runs": [{"seed": 0}], "invocations": [{"date": "d"}]}
    with pytest.raises(SystemExit, match="val"):
        done_runs(path, {**args, "val": 100})
