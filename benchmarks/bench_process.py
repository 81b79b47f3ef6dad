"""Process rewards (issues 25, 34): step-labeling cost and the judge's agreement with a checker, and what a process
reward model buys over an outcome model on arithmetic chains whose errors need reasoning across steps
(benchmarks/process_chains.py: a dropped carry, an operand copied wrong, later steps right on a wrong intermediate).

1. ``labeling``: the embedded judge (``--backend hf``, or ``vllm`` under ``flock /tmp/vllm.lock``) labels ``--traces``
   chains step by step (one step principle, both orders) and, with the same engine, the same traces as whole
   answers (all steps as one): judgments/s and traces/s of each, and its step labels against the checker's. Then
   the middle step of every trace is edited and the traces labelled again through the judgment cache.
2. ``synthetic``, per seed: ``--train-problems`` problems × ``--per-problem`` traces (3–6 steps) labelled exactly by
   the checker. A process model learns the step labels; an outcome model (same backbone, same trainer, the trace
   as one step) learns the same traces' final correctness. Held out: first-error F1 (ProcessBench; the outcome
   model's step score is its score of the trace up to that step) on chains of the training lengths and on longer
   ones (8–10 steps); best-of-n accuracy (the picked trace's final answer is right) for n = 4…64 from a pool of 64
   traces per problem, each model as the selector (process: the min of the step scores), with chance (a random
   pick) and the oracle (any right trace among the n). Results are written after every seed.

    OMP_NUM_THREADS=1 nice -n 19 .venv/bin/python benchmarks/bench_process.py --skip-judge --seeds 0 1 2 --train-problems 128 \\
        --epochs 4 --name bench_process_cross_step_large
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from _common import write_results  # noqa: E402

from process_chains import candidates, final_right, problems  # noqa: E402

STEP_SET = """kind: step_principle_set
id: arithmetic
principles:
  - id: step-correct
    text: Is this step correct given the previous ones?
"""


def _principles(folder: Path):
    from constitution.step_principles import load_step_principles

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "steps.yaml").write_text(STEP_SET)
    return load_step_principles(folder)


def labeling(n: int, backend: str, tmp: Path) -> dict:
    from constitution.labeling.cache import JudgmentCache
    from constitution.labeling.steps.labeler import StepLabeler, label_steps
    from constitution.llm.config import llm_config
    from constitution.llm.factory import make_llm

    from constitution.reward.process.metrics import process_metrics

    principles = _principles(tmp / "principles")
    rng = random.Random(5)
    checked = [candidates(p, rng, 1, 0.6, f"judge{i}")[0] for i, p in enumerate(problems(n, 5, (3, 5)))]
    traces = [t.model_copy(update={"labels": None}) for t in checked]
    whole = [t.model_copy(update={"completions": ["\n".join(t.completions)]}) for t in traces]
    llm = make_llm(llm_config(backend=backend, dtype="float32", max_model_len=2048))
    out: dict = {"judge": llm.name, "traces": n, "steps": sum(len(t.completions) for t in traces)}
    try:
        label_steps(StepLabeler(principles, llm, JudgmentCache(tmp / "warm.sqlite")), traces[:1])  # warm-up
        for name, batch in (("steps", traces), ("whole_traces", whole)):
            cache = JudgmentCache(tmp / f"{name}.sqlite")
            records, summary, _ = label_steps(StepLabeler(principles, llm, cache), batch)
            if name == "steps":  # the judge's step labels against the checker's
                agreement = process_metrics([r.soft_labels for r in records], [t.soft_labels() for t in checked])
                out["judge_vs_checker"] = {k: round(v, 3) for k, v in agreement.items()}
            out[name] = {"judgments": summary.judgments_computed, "seconds": round(summary.seconds, 2),
                         "judgments_per_s": round(summary.judgments_per_s, 2), "traces_per_s": round(n / summary.seconds, 3)}  # fmt: skip
        edited = []
        for t in traces:
            k = len(t.completions) // 2
            edited.append(t.model_copy(update={"completions": [*t.completions[:k], t.completions[k] + " (checked)", *t.completions[k + 1 :]]}))
        _, summary, _ = label_steps(StepLabeler(principles, llm, JudgmentCache(tmp / "steps.sqlite")), edited)
        out["edit_one_step"] = {"judgments": summary.judgments_computed, "cached": summary.judgments_cached,
                                "seconds": round(summary.seconds, 2),
                                "judgments_vs_full": round(summary.judgments_computed / out["steps"]["judgments"], 3),
                                "seconds_vs_full": round(summary.seconds / out["steps"]["seconds"], 3)}  # fmt: skip
    finally:
        llm.close()
    return out


def _score_prefixes(model, traces) -> list[list[float]]:
    """The outcome model's score of each trace up to each step (a trace as one step, as it was trained)."""
    prefixes = [(t.prompt, ["\n".join(t.completions[: k + 1])]) for t in traces for k in range(len(t.completions))]
    flat = [s[0] for s in model.step_scores(prefixes)]
    out, at = [], 0
    for t in traces:
        out.append(flat[at : at + len(t.completions)])
        at += len(t.completions)
    return out


def _as_outcome(problem, trace):
    """The trace as one step labelled with its final correctness (what the outcome model learns)."""
    return trace.model_copy(update={"completions": ["\n".join(trace.completions)], "labels": [final_right(problem, trace.completions)]})


def _heldout(seed: int, count: int, steps: tuple[int, int], tag: str):
    rng = random.Random(seed)
    held = problems(count, seed, steps)
    return held, [candidates(p, rng, 1, 0.6, f"{tag}{i}")[0] for i, p in enumerate(held)]


def _best_of_n(prm, orm, seed: int, n_problems: int, pool: int, draws: int) -> dict:
    rng = random.Random(seed)
    test = problems(n_problems, seed, (3, 6))
    pools = [candidates(p, rng, pool, 0.75, f"bon{i}") for i, p in enumerate(test)]
    right = [[final_right(p, t.completions) for t in group] for p, group in zip(test, pools)]
    flat = [t for group in pools for t in group]
    prm_scores = [prm.aggregate(s) for s in prm.step_scores([(t.prompt, t.completions) for t in flat])]
    orm_scores = [s[0] for s in orm.step_scores([(t.prompt, ["\n".join(t.completions)]) for t in flat])]
    out: dict = {"problems": n_problems, "pool": pool, "right_share": round(sum(map(sum, right)) / len(flat), 3)}
    n = 4
    while n <= pool:
        hits = {"process_model": 0, "outcome_model": 0, "chance": 0.0, "oracle": 0}
        total = 0
        for g, group in enumerate(pools):
            base = g * pool
            for _ in range(1 if n == pool else draws):
                picked = rng.sample(range(pool), n)
                total += 1
                hits["process_model"] += right[g][max(picked, key=lambda i: prm_scores[base + i])]
                hits["outcome_model"] += right[g][max(picked, key=lambda i: orm_scores[base + i])]
                hits["chance"] += sum(right[g][i] for i in picked) / n
                hits["oracle"] += any(right[g][i] for i in picked)
        out[f"n={n}"] = {k: round(v / total, 3) for k, v in hits.items()}
        n *= 2
    return out


def synthetic(seed: int, args, tmp: Path) -> dict:
    from constitution.reward.process.config import ProcessTrainingConfig
    from constitution.reward.process.metrics import first_error, processbench_metrics
    from constitution.reward.process.model import ProcessRewardModel
    from constitution.reward.process.trainer import train_process_model

    rng = random.Random(seed)
    train_problems = problems(args.train_problems, 1000 + seed, (3, 6))
    train = [t for i, p in enumerate(train_problems) for t in candidates(p, rng, args.per_problem, 0.6, f"train{i}-")]
    outcome = [_as_outcome(p, t) for p, t in zip([p for p in train_problems for _ in range(args.per_problem)], train)]
    config = ProcessTrainingConfig(
        base_model=args.backbone, max_length=args.max_length, epochs=args.epochs, batch_size=8, learning_rate=args.lr,
        eval_fraction=0, seed=seed, bf16=False,
    )  # fmt: skip
    timings = {}
    for name, data in (("process_model", train), ("outcome_model", outcome)):
        started = time.perf_counter()
        train_process_model(config, data, tmp / name)
        timings[name] = round(time.perf_counter() - started, 1)
    prm, orm = (ProcessRewardModel.load(tmp / name, device="cpu") for name in ("process_model", "outcome_model"))
    out: dict = {
        "seed": seed, "train_traces": len(train), "train_steps": sum(len(t.completions) for t in train),
        "train_traces_right": sum(o.labels[0] for o in outcome), "train_s": timings,
    }  # fmt: skip
    for tag, steps, offset in (("first_error_in_length", (3, 6), 2000), ("first_error_longer", (8, 10), 3000)):
        _, held = _heldout(offset + seed, args.test, steps, tag)
        reference = [t.first_error() for t in held]
        prm_pred = [first_error(s, 0.5) for s in prm.step_scores([(t.prompt, t.completions) for t in held])]
        orm_pred = [first_error(s, 0.5) for s in _score_prefixes(orm, held)]
        out[tag] = {
            "steps": list(steps), "traces": len(held),
            "process_model": {k: round(v, 3) for k, v in processbench_metrics(prm_pred, reference).items()},
            "outcome_model": {k: round(v, 3) for k, v in processbench_metrics(orm_pred, reference).items()},
        }  # fmt: skip
    out["best_of_n"] = _best_of_n(prm, orm, 4000 + seed, args.bon_problems, args.pool, args.draws)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--traces", type=int, default=12, help="traces the real judge labels")
    parser.add_argument("--backend", default="hf", choices=["hf", "vllm"])
    parser.add_argument("--skip-judge", action="store_true", help="only the synthetic part")
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2], help="none: only the judge part")
    parser.add_argument("--train-problems", type=int, default=40)
    parser.add_argument("--per-problem", type=int, default=4, help="traces per training problem")
    parser.add_argument("--test", type=int, default=60, help="held-out chains per length")
    parser.add_argument("--bon-problems", type=int, default=24)
    parser.add_argument("--pool", type=int, default=64, help="traces per best-of-n problem (n = 4, 8, … up to it)")
    parser.add_argument("--draws", type=int, default=8, help="random n-subsets per problem (one at n = pool)")
    parser.add_argument("--backbone", default="all-minilm-l6-v2")
    parser.add_argument("--max-length", type=int, default=192)
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--name", default="bench_process", help="results file: OUT/NAME.json")
    args = parser.parse_args()
    blob: dict = {"settings": {k: v for k, v in vars(args).items() if k not in ("out", "name")}, "labeling": None, "seeds": []}
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_judge:
            blob["labeling"] = labeling(args.traces, args.backend, Path(tmp) / "judge")
            write_results(args.out, args.name, blob)
        for seed in args.seeds:
            blob["seeds"].append(synthetic(seed, args, Path(tmp) / f"seed{seed}"))
            write_results(args.out, args.name, blob)  # saved after every seed


if __name__ == "__main__":
    main()
