"""What per-principle heads buy after a weight edit: re-weighting the heads vs retraining a scalar model.

Synthetic per-principle labels of known structure (``tests/reward/principle_data.py``: three principles, each
preferring one independent feature of the responses; two of the three judge each training pair, as the ``k``
sampling rule does), so what is measured is the mechanism, not a judge at chance. Per seed:

1. a per-principle model (MiniLM, one head per principle) is trained under the training weights;
2. the weights are edited (``--edit``); the heads are re-weighted by loading the model with the edited
   constitution — no labeling, no training;
3. a scalar model is retrained on the same pairs with their labels recombined under the edited weights (the
   weighted mean of the cached per-principle labels: what a weight edit costs a scalar model);
4. on held-out pairs (every principle judges them): Spearman correlation of the two models' rewards over the
   held-out responses, agreement of their pairwise decisions, and each one's accuracy against the held-out labels
   recombined under the edited weights; and the cost of each route (re-weighting: load time; retraining: wall time
   of the training).

Full run (quiet machine, about 15 min): python benchmarks/bench_heads.py --seeds 5 --out benchmarks/results
Small run (about 3 min of CPU): python benchmarks/bench_heads.py --seeds 1 --pairs 64 --test-pairs 48 --epochs 1 --out /tmp/bench
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import provenance, write_results  # noqa: E402

TRAIN_WEIGHTS = {"polite": 1.0, "cites": 1.0, "concise": 3.0}
EDITS = {"concise-down": {"polite": 1.0, "cites": 1.0, "concise": 0.5}, "cites-off": {"polite": 1.0, "cites": 0.0, "concise": 3.0}}


def recombined(rows: list[dict], weights: dict[str, float]) -> list[dict]:
    """The rows with ``p_a`` the weighted mean of their per-principle labels under ``weights`` (0.5 when none weighs)."""
    out = []
    for row in rows:
        judged = row["per_principle"]
        total = sum(weights[p] for p in judged)
        p_a = sum(weights[p] * v for p, v in judged.items()) / total if total else 0.5
        out.append({**row, "p_a": p_a})
    return out


def spearman(x, y) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic)


def one_seed(seed: int, args: argparse.Namespace, work: Path) -> dict:
    import numpy as np

    from constitution.loader import load_constitution
    from constitution.reward.config import RewardTrainingConfig
    from constitution.reward.model import RewardModel
    from constitution.reward.principle_pairs import load_principle_pairs
    from constitution.reward.trainer import train_reward_model
    from tests.reward.principle_data import principle_rows, write_constitution, write_principle_jsonl

    edit = EDITS[args.edit]
    rows = principle_rows(args.pairs, seed, TRAIN_WEIGHTS, judged=2)
    test = recombined(principle_rows(args.test_pairs, 10_000 + seed, TRAIN_WEIGHTS, judged=3), edit)
    old_c = load_constitution(write_constitution(work / "old", TRAIN_WEIGHTS))
    new_c = load_constitution(write_constitution(work / "new", edit))
    settings = dict(max_length=args.max_length, epochs=args.epochs, batch_size=16, learning_rate=1e-4, eval_fraction=0.0, seed=seed)

    started = time.perf_counter()
    train_reward_model(RewardTrainingConfig(heads="per_principle", **settings), load_principle_pairs(write_principle_jsonl(rows, work / "old.jsonl")), work / "heads", constitution=old_c)
    heads_train_s = time.perf_counter() - started
    started = time.perf_counter()
    reweighted = RewardModel.load(work / "heads", bf16=False, constitution=new_c)
    reweight_s = time.perf_counter() - started
    started = time.perf_counter()
    train_reward_model(RewardTrainingConfig(heads="scalar", **settings), load_principle_pairs(write_principle_jsonl(recombined(rows, edit), work / "new.jsonl")), work / "scalar")
    retrain_s = time.perf_counter() - started
    retrained = RewardModel.load(work / "scalar", bf16=False)

    items = [(r["prompt"], r["response_a"]) for r in test] + [(r["prompt"], r["response_b"]) for r in test]
    n = len(test)
    ours, theirs = np.asarray(reweighted.score(items)), np.asarray(retrained.score(items))
    stale = np.asarray(RewardModel.load(work / "heads", bf16=False).score(items))  # the heads under the old weights
    gap = {name: r[:n] - r[n:] for name, r in (("reweighted", ours), ("retrained", theirs), ("stale", stale))}
    label = np.asarray([r["p_a"] for r in test])
    decided = label != 0.5

    def accuracy(g):
        return float(((g[decided] > 0) == (label[decided] > 0.5)).mean())

    return {
        "seed": seed,
        "spearman_rewards": spearman(ours, theirs),
        "decision_agreement": float((np.sign(gap["reweighted"]) == np.sign(gap["retrained"])).mean()),
        "decision_agreement_stale_vs_retrained": float((np.sign(gap["stale"]) == np.sign(gap["retrained"])).mean()),
        "accuracy_reweighted": accuracy(gap["reweighted"]),
        "accuracy_retrained": accuracy(gap["retrained"]),
        "accuracy_stale": accuracy(gap["stale"]),
        "heads_train_s": round(heads_train_s, 2),
        "reweight_s": round(reweight_s, 3),
        "retrain_s": round(retrain_s, 2),
    }


def summary(runs: list[dict]) -> dict:
    keys = [k for k in runs[0] if k != "seed"]
    out = {}
    for k in keys:
        values = [r[k] for r in runs]
        out[k] = {"mean": round(statistics.mean(values), 4), "sd": round(statistics.stdev(values), 4) if len(values) > 1 else None}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--pairs", type=int, default=160, help="training pairs per seed")
    parser.add_argument("--test-pairs", type=int, default=160, help="held-out pairs per seed")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--edit", choices=sorted(EDITS), default="concise-down")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    runs = []
    for seed in range(args.seeds):
        with tempfile.TemporaryDirectory() as work:
            runs.append(one_seed(seed, args, Path(work)))
            print(runs[-1], file=sys.stderr)
    blob = {
        "provenance": provenance(),
        "setup": {**vars(args), "out": str(args.out), "train_weights": TRAIN_WEIGHTS, "edited_weights": EDITS[args.edit]},
        "summary": summary(runs),
        "runs": runs,
    }
    write_results(args.out, "bench_heads", blob)


if __name__ == "__main__":
    main()
