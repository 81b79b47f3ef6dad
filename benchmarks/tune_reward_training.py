"""Hyper-parameter sweep of our reward trainer on the HH benchmark split (selection by held-out, not test, accuracy).

Each grid entry is a set of ``RewardTrainingConfig`` overrides on top of the defaults, trained on the same
1,800-pair split as ``bench_reward_training.py`` (10% of it held out for epoch choice and temperature), then scored
on the test pairs. Results are appended to ``<out>/tune_reward_training.json`` after every run, and the sweep
stops starting new runs once ``--budget-s`` is spent. A GPU makes the full grid take minutes instead of hours.

python benchmarks/tune_reward_training.py --budget-s 300 --out benchmarks/results
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HH, hh_split, provenance  # noqa: E402
from bench_reward_training import test_pair_metrics  # noqa: E402

UNFROZEN = {"freeze_layers": 0, "freeze_embeddings": False}
GRID: list[dict] = [
    {},
    {"learning_rate": 5e-5},
    {"learning_rate": 2e-4},
    {"epochs": 1},
    {"epochs": 4},
    UNFROZEN,
    {**UNFROZEN, "learning_rate": 5e-5},
    {**UNFROZEN, "learning_rate": 3e-5, "epochs": 3},
    {**UNFROZEN, "epochs": 4, "learning_rate": 5e-5},
    {"pooling": "native"},
    {**UNFROZEN, "pooling": "native", "learning_rate": 5e-5},
    {"freeze_layers": 0},
    {"batch_size": 32, "learning_rate": 2e-4},
    {"batch_size": 8, "learning_rate": 5e-5},
    {"weight_decay": 0.01, "lr_scheduler": "cosine"},
    {"center_rewards_coefficient": 0.01},
    {"margin": 0.5},
    {"seed": 1},
    {"seed": 2},
    {**UNFROZEN, "learning_rate": 5e-5, "seed": 1},
    {**UNFROZEN, "learning_rate": 5e-5, "seed": 2},
]


def run_one(overrides: dict, train, test, max_length: int, base_model: str) -> dict:
    """Train one configuration in a scratch folder; held-out and test metrics."""
    from constitution.reward.config import RewardTrainingConfig
    from constitution.reward.model import RewardModel
    from constitution.reward.trainer import train_reward_model

    # fp32 everywhere, so that a sweep on a GPU picks settings for this project's fp32 CPU runs.
    config = RewardTrainingConfig(max_length=max_length, base_model=base_model, bf16=False, **overrides)
    folder = Path(tempfile.mkdtemp(prefix="tune_"))
    try:
        t0 = time.perf_counter()
        result = train_reward_model(config, train, folder)
        model = RewardModel.load(folder)
        return {
            "overrides": overrides, "wall_s": round(time.perf_counter() - t0, 1),
            "train_samples_per_second": result.train_samples_per_second,
            "heldout": result.eval_metrics, **test_pair_metrics(model.model, model.tokenizer, test, max_length),
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(HH))
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--base-model", default="all-minilm-l6-v2")
    parser.add_argument("--grid", default=None, help="JSON list of override dicts (default: the built-in grid)")
    parser.add_argument("--budget-s", type=float, default=3600.0, help="start no new run after this many seconds")
    parser.add_argument("--out", default="runs/tune_reward_training")
    a = parser.parse_args()
    grid = json.loads(a.grid) if a.grid else GRID
    train, test = hh_split(Path(a.data), 1800, None)
    results: dict = {"provenance": provenance(), "args": vars(a), "runs": []}
    out = Path(a.out)
    start = time.perf_counter()
    for overrides in grid:
        if time.perf_counter() - start > a.budget_s:
            results["stopped_early"] = f"budget of {a.budget_s:.0f}s spent"
            break
        run = run_one(overrides, train, test, a.max_length, a.base_model)
        results["runs"].append(run)
        print(json.dumps({k: run[k] for k in ("overrides", "wall_s", "test_accuracy", "test_ece")}
                         | {"heldout_accuracy": run["heldout"].get("accuracy")}), flush=True)
        results["best_by_heldout"] = max(results["runs"], key=lambda r: r["heldout"].get("accuracy", 0.0))
        out.mkdir(parents=True, exist_ok=True)
        (out / "tune_reward_training.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
