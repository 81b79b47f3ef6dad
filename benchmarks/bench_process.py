"""Process rewards (issue 25): step-labeling cost, re-judging after a one-step edit, and what a process reward model
buys on synthetic arithmetic chains (tests/process/chains.py).

1. ``labeling``: the embedded judge (``--backend hf``, or ``vllm`` under ``flock /tmp/vllm.lock``) labels ``--traces``
   chains step by step (one step principle, both orders) and, with the same engine, the same traces as whole
   answers (all steps as one): judgments/s and traces/s of each. Then the middle step of every trace is edited and
   the traces labelled again through the judgment cache: judgments asked and seconds, against the full run.
2. ``synthetic``: a stand-in judge (the program that checks the chains; the embedded judges are at chance here)
   labels ``--train`` chains; a MiniLM process model (``train --kind process``) and a MiniLM outcome model (scalar
   Bradley–Terry on pairs of a right and a wrong chain of the same problem) are trained on them. On held-out chains:
   the process model's first-error accuracy and F1 (ProcessBench), and best-of-4 accuracy (the right chain picked
   among one right and three wrong) of the process model, the outcome model and chance.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_process.py --traces 24 --train 96 --test 60 --out benchmarks/results
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

from tests.process.chains import ChainJudge, chains, make_chain  # noqa: E402

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

    principles = _principles(tmp / "principles")
    traces = [t.model_copy(update={"labels": None}) for t in chains(n, seed=5)]
    whole = [t.model_copy(update={"completions": ["\n".join(t.completions)]}) for t in traces]
    llm = make_llm(llm_config(backend=backend, dtype="float32", max_model_len=2048))
    out: dict = {"judge": llm.name, "traces": n, "steps": sum(len(t.completions) for t in traces)}
    try:
        label_steps(StepLabeler(principles, llm, JudgmentCache(tmp / "warm.sqlite")), chains(2, seed=99))  # warm-up
        for name, batch in (("steps", traces), ("whole_traces", whole)):
            cache = JudgmentCache(tmp / f"{name}.sqlite")
            _, summary, _ = label_steps(StepLabeler(principles, llm, cache), batch)
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


def _candidates(problems: int, seed: int):
    """Per problem: one right chain and three with a wrong step (kind 'guess'), same prompt."""
    groups = []
    for p in range(problems):
        rng = random.Random(seed * 1000 + p)
        length = rng.randint(3, 5)
        wrong = [None, *rng.sample(range(length), 3)] if length >= 3 else [None]
        groups.append([make_chain(random.Random(seed * 7919 + p), p, length, w, "guess")[0] for w in wrong])
    return groups


def synthetic(n_train: int, n_test: int, tmp: Path) -> dict:
    from constitution.data import Pair
    from constitution.labeling.cache import JudgmentCache
    from constitution.labeling.steps.labeler import StepLabeler, label_steps, records_as_traces
    from constitution.rl.process_reward import ProcessRewardFunction
    from constitution.reward.config import RewardTrainingConfig
    from constitution.reward.model import RewardModel
    from constitution.reward.process.config import ProcessTrainingConfig
    from constitution.reward.process.metrics import best_of_n_accuracy, process_metrics
    from constitution.reward.process.trainer import train_process_model
    from constitution.reward.trainer import train_reward_model

    train = [t.model_copy(update={"labels": None}) for t in chains(n_train, seed=21, error="guess")]
    records, summary, _ = label_steps(StepLabeler(_principles(tmp / "p"), ChainJudge(), JudgmentCache(tmp / "s.sqlite")), train)
    started = time.perf_counter()
    train_process_model(ProcessTrainingConfig(max_length=48, epochs=2, batch_size=8, learning_rate=5e-4, eval_fraction=0),
                              list(records_as_traces(records)), tmp / "prm")  # fmt: skip
    prm_s = time.perf_counter() - started
    groups = _candidates(max(8, n_train // 4), seed=3)  # the outcome model's pairs: a right and a wrong chain
    pairs = [Pair(id=f"{i}-{j}", prompt=[{"role": "user", "content": g[0].prompt}], response_a="\n\n".join(g[0].completions),
                  response_b="\n\n".join(g[j].completions), p_a=1.0) for i, g in enumerate(groups) for j in range(1, len(g))]  # fmt: skip
    started = time.perf_counter()
    train_reward_model(RewardTrainingConfig(max_length=64, epochs=2, batch_size=8, learning_rate=5e-4, eval_fraction=0), pairs, tmp / "orm")
    orm_s = time.perf_counter() - started
    held = chains(n_test, seed=22, error="guess")
    reward = ProcessRewardFunction.load(tmp / "prm")
    scores = reward.model.step_scores([(t.prompt, t.completions) for t in held])
    test_groups = _candidates(n_test // 2, seed=4)
    items = [(g[0].prompt, "\n\n".join(t.completions)) for g in test_groups for t in g]
    correct = [[j == 0 for j in range(len(g))] for g in test_groups]
    orm_scores = RewardModel.load(tmp / "orm").score(items)
    prm_scores = reward.score(items)

    def grouped(values):
        out, at = [], 0
        for g in test_groups:
            out.append(values[at : at + len(g)])
            at += len(g)
        return out

    return {
        "train_traces": n_train, "train_steps_labelled": summary.steps, "heldout_traces": n_test,
        "process_model_train_s": round(prm_s, 1), "outcome_model_train_s": round(orm_s, 1), "outcome_model_pairs": len(pairs),
        "process_model": {k: round(v, 3) for k, v in process_metrics(scores, [t.soft_labels() for t in held]).items()},
        "best_of_4": {"problems": len(test_groups), "process_model": round(best_of_n_accuracy(grouped(prm_scores), correct), 3),
                      "outcome_model": round(best_of_n_accuracy(grouped(orm_scores), correct), 3), "chance": 0.25},
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--traces", type=int, default=12, help="traces the real judge labels")
    parser.add_argument("--backend", default="hf", choices=["hf", "vllm"])
    parser.add_argument("--train", type=int, default=96, help="synthetic training chains")
    parser.add_argument("--test", type=int, default=60, help="held-out chains")
    parser.add_argument("--skip-judge", action="store_true", help="only the synthetic part")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        blob = {
            "labeling": None if args.skip_judge else labeling(args.traces, args.backend, Path(tmp) / "judge"),
            "synthetic": synthetic(args.train, args.test, Path(tmp) / "synthetic"),
        }  # fmt: skip
    write_results(args.out, "bench_process", blob)


if __name__ == "__main__":
    main()
