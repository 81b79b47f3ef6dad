"""Per-principle heads vs one scalar head, on HH pairs labelled by the embedded judge.

Data: HH-RLHF harmless test pairs (shared data; the first --pairs after a seed-0 shuffle), labelled by the embedded
judge (SmolLM2-135M-Instruct on transformers, fp32, both orders) through the Labeler and its judgment cache
(--cache: a rerun asks nothing), against --principles of the packaged constitution (rule: all, the packaged
weights). The last --test-fraction of the labelled pairs is held out. One process, one model at a time:

1. agreement: a per-principle model (one head per principle) and a scalar model trained on the same pairs with the
   same settings; on the held-out pairs, head k's agreement with principle k's labels vs the scalar model's agreement
   with the same labels, and both models' accuracy against the ensembled label p_a;
2. re-weighting: each principle's weight set to 0 in turn — re-weighing the loaded model in place
   (``use_constitution``) and loading it with the edited constitution, vs the scalar model's full retrain (which a
   weight edit otherwise needs: relabeling is free, weights re-ensemble cached judgments); and the share of held-out
   decisions the edit flips;
3. adding a principle: a model trained without the last principle, then ``add_principle_head`` on frozen features,
   vs retraining every head; the added head's held-out agreement vs the jointly trained head's;
4. scoring: responses/s of the K-head model vs the scalar model on the same held-out responses (same backbone,
   batch and precision), alternating, median of --repeats.

The judge is weak (near chance on harmlessness against human labels, BRIEF §9): these are its labels, measured as
they are. Training times include loading the backbone and saving the folder.

Full run (quiet machine; ~1,800 judge prompts at ~3/s, then six short trainings: about 25-30 min):
  python benchmarks/bench_heads.py --pairs 300 --out benchmarks/results
Smoke run (~3 min): python benchmarks/bench_heads.py --pairs 16 --epochs 1 --max-length 64 --repeats 1 --out /tmp/bench
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HH, machine, write_results  # noqa: E402

DEFAULT_PRINCIPLES = ["least-harmful", "non-toxic", "lawful"]


def label(args: argparse.Namespace, constitution):
    """The first ``--pairs`` HH pairs (seed-0 shuffle) with the judge's per-principle labels, and the summary."""
    from constitution.data import load_pairs, split_pairs
    from constitution.labeling import JudgmentCache, Labeler, label_pairs
    from constitution.llm.config import HfConfig
    from constitution.llm.factory import make_llm
    from constitution.embedded_models import JUDGE_ALIAS
    from constitution.reward.principle_pairs import PrinciplePair

    if not args.data.exists():
        sys.exit(f"benchmark data not found: {args.data} (pass --data)")
    pairs, _ = load_pairs(args.data)
    pairs = split_pairs(pairs, args.pairs, seed=0)[0]
    judge = make_llm(HfConfig(model=JUDGE_ALIAS, dtype="float32", batch_size=8, max_model_len=2048))
    try:
        with JudgmentCache(args.cache) as cache:
            records, summary = label_pairs(Labeler(constitution, judge, cache), pairs)
    finally:
        judge.close()
    labelled = [
        PrinciplePair(id=r.id, prompt=r.prompt, response_a=r.response_a, response_b=r.response_b, p_a=r.p_a, per_principle=r.per_principle)
        for r in records
    ]
    return labelled, summary


def train(config, pairs, out: Path, constitution) -> tuple[float, dict]:
    """(wall seconds, TrainResult) of one training."""
    from constitution.reward.trainer import train_reward_model

    start = time.perf_counter()
    result = train_reward_model(config, pairs, out, constitution=constitution)
    return time.perf_counter() - start, result.model_dump(include={"train_pairs", "train_runtime_s", "eval_metrics"})


def pair_gaps(model, pairs):
    """(pairs × heads) gaps r_k(a) − r_k(b), and the reward gaps under the model's weights."""
    import numpy as np

    items = [(p.prompt, p.response_a) for p in pairs] + [(p.prompt, p.response_b) for p in pairs]
    matrix = np.asarray(model.score_heads(items))
    gaps = matrix[: len(pairs)] - matrix[len(pairs) :]
    return gaps, gaps @ model.weights


def agreement(gap, labels) -> dict:
    """Share of decided labels (not 0.5) whose preferred response gets the larger score, and how many there were."""
    import numpy as np

    labels = np.asarray(labels)
    decided = labels != 0.5
    share = float(((gap[decided] > 0) == (labels[decided] > 0.5)).mean()) if decided.any() else None
    return {"agreement": share, "pairs": int(decided.sum())}


def with_weights(constitution, weights: dict[str, float]):
    """The constitution with these principle weights."""
    return constitution.model_copy(update={"principles": tuple(p.model_copy(update={"weight": weights.get(p.id, p.weight)}) for p in constitution.principles)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=HH)
    parser.add_argument("--pairs", type=int, default=300, help="HH pairs to label (held-out share: --test-fraction)")
    parser.add_argument("--test-fraction", type=float, default=0.25)
    parser.add_argument("--principles", nargs="+", default=DEFAULT_PRINCIPLES, help="principle ids of the packaged constitution")
    parser.add_argument("--cache", type=Path, default=Path("runs/bench_heads/judgments.sqlite"), help="judgment cache (kept across runs)")
    parser.add_argument("--work", type=Path, default=Path("runs/bench_heads"), help="folder for the trained models")
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3, help="scoring repeats per model (median)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()

    import numpy as np

    from constitution.loader import load_constitution
    from constitution.principles import Sampling
    from constitution.reward.add_head import add_principle_head
    from constitution.reward.config import RewardTrainingConfig
    from constitution.reward.model import RewardModel
    from constitution.resources import default_principles

    full = load_constitution(default_principles())
    chosen = tuple(full.principle(pid) for pid in args.principles)
    constitution = full.model_copy(update={"principles": chosen, "sampling": Sampling(rule="all")})
    start = time.perf_counter()
    pairs, summary = label(args, constitution)
    label_s = time.perf_counter() - start
    n_test = max(1, round(args.test_fraction * len(pairs)))
    train_pairs, test_pairs = pairs[:-n_test], pairs[-n_test:]
    settings = {"max_length": args.max_length, "epochs": args.epochs, "eval_fraction": 0.0, "calibrate_temperature": False}
    heads_config = RewardTrainingConfig(heads="per_principle", **settings)
    scalar_config = RewardTrainingConfig(heads="scalar", **settings)

    # 1. agreement with each principle's labels
    heads_s, heads_result = train(heads_config, train_pairs, args.work / "heads", constitution)
    scalar_s, scalar_result = train(scalar_config, train_pairs, args.work / "scalar", constitution)
    headed = RewardModel.load(args.work / "heads")
    scalar = RewardModel.load(args.work / "scalar")
    head_gaps, reward_gaps = pair_gaps(headed, test_pairs)
    _, scalar_gaps = pair_gaps(scalar, test_pairs)
    p_a = [p.p_a for p in test_pairs]
    per_principle = {}
    for k, pid in enumerate(headed.heads):
        labels = [p.per_principle.get(pid, 0.5) for p in test_pairs]
        per_principle[pid] = {"head": agreement(head_gaps[:, k], labels), "scalar": agreement(scalar_gaps, labels)}

    # 2. re-weighting: no training, vs the scalar model's retrain
    reweight = {}
    for pid in headed.heads:
        edited = with_weights(constitution, {pid: 0.0})
        t0 = time.perf_counter()
        headed.use_constitution(edited)
        in_place_s = time.perf_counter() - t0
        flipped = float(np.mean(np.sign(head_gaps @ headed.weights) != np.sign(reward_gaps)))
        t0 = time.perf_counter()
        RewardModel.load(args.work / "heads", constitution=edited)
        reweight[pid] = {"in_place_s": in_place_s, "load_s": time.perf_counter() - t0, "held_out_decisions_flipped": flipped}
    headed.use_constitution(None)

    # 3. adding the last principle on frozen features vs retraining every head
    last = chosen[-1]
    without = constitution.model_copy(update={"principles": chosen[:-1]})
    fewer_s, _ = train(heads_config, train_pairs, args.work / "without_last", without)
    t0 = time.perf_counter()
    added = add_principle_head(args.work / "without_last", args.work / "added", last, train_pairs, heads_config)
    add_s = time.perf_counter() - t0
    added_model = RewardModel.load(args.work / "added")
    added_gaps, _ = pair_gaps(added_model, test_pairs)
    last_labels = [p.per_principle.get(last.id, 0.5) for p in test_pairs]
    adding = {
        "principle": last.id,
        "add_head_s": add_s,
        "add_head_fit_s": added.fit_seconds,
        "full_retrain_s": heads_s,
        "added_head": agreement(added_gaps[:, added_model.heads.index(last.id)], last_labels),
        "jointly_trained_head": per_principle[last.id]["head"],
    }

    # 4. scoring cost of K heads vs one
    items = [(p.prompt, p.response_a) for p in test_pairs] + [(p.prompt, p.response_b) for p in test_pairs]
    rates: dict[str, list[float]] = {"heads": [], "scalar": []}
    for repeat in range(args.repeats):
        order = [("heads", headed), ("scalar", scalar)]
        for name, model in order if repeat % 2 == 0 else order[::-1]:
            t0 = time.perf_counter()
            model.score(items)
            rates[name].append(len(items) / (time.perf_counter() - t0))

    blob = {
        "machine": machine(),
        "args": {k: str(v) for k, v in vars(args).items()},
        "labels": {"pairs": len(pairs), "train": len(train_pairs), "test": len(test_pairs), "seconds": label_s,
                   "judgments_computed": summary.judgments_computed, "judgments_cached": summary.judgments_cached},  # fmt: skip
        "agreement": {
            "per_principle": per_principle,
            "heads_accuracy_vs_p_a": agreement(reward_gaps, p_a),
            "scalar_accuracy_vs_p_a": agreement(scalar_gaps, p_a),
        },
        "training": {"heads": {"wall_s": heads_s, **heads_result}, "scalar": {"wall_s": scalar_s, **scalar_result},
                     "heads_without_last": {"wall_s": fewer_s}},  # fmt: skip
        "reweight": reweight,
        "add_principle": adding,
        "scoring_responses_per_s": {name: {"median": statistics.median(r), "runs": r} for name, r in rates.items()},
    }
    write_results(args.out, "bench_heads", blob)


if __name__ == "__main__":
    main()
