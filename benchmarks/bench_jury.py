"""A jury of judges against each judge alone on human labels, and the benchmark harness on the same data (issue 16).

On a seed-0 sample of the shared HH-RLHF harmless test pairs (human labels; every other pair has its responses
swapped, so that the chosen one is in slot A half the time):

1. ``jury``: every judge labels every pair (the shipped constitution, its sampling rule, both orders) and the jury
   combines them (equal weights, quorum = every judge); reported: each judge's agreement with the human labels
   alone, the jury's, Cohen's kappa per pair of judges, Krippendorff's alpha, each judge's slot-(A) preference and
   its agreement with the jury, and the seconds;
2. ``harness``: the same pairs in RewardBench's layout (``subset: hh-harmless``), scored by ``constitution bench``'s
   harness with the first judge (both orders; a verdict that changes with the order counts 0.5), and with
   ``--reward-model`` when given.

The judges are what this machine can run: the embedded SmolLM2-135M through transformers in fp32 and bf16 and,
where vLLM is installed, through vLLM in bf16. They are the same weights: near-identical judges, so their agreement
is an upper bound of what different small judges would show, and the jury cannot be expected to beat its members
(PoLL's gain comes from judges of different families). A fresh judgment cache each run (caches cold).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_jury.py --pairs 64 --out benchmarks/results
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HH, write_results  # noqa: E402


def _default_judges() -> list[dict]:
    judges = [{"backend": "hf", "dtype": "float32", "name": "hf-fp32"}, {"backend": "hf", "dtype": "bfloat16", "name": "hf-bf16"}]
    try:
        import vllm  # noqa: F401

        judges.append({"backend": "vllm", "dtype": "bfloat16", "name": "vllm-bf16", "max_model_len": 4096})
    except Exception:  # noqa: BLE001 - no vLLM here: two judges
        pass
    return judges


def _sample(n: int, folder: Path) -> tuple[Path, Path]:
    """The pairs (half of them swapped) as {prompt, response_a, response_b, p_a}, and in RewardBench's layout."""
    from constitution.data.pairs import load_pairs, split_pairs

    pairs, _ = load_pairs(HH)
    _, sample = split_pairs(pairs, 0, seed=0)
    ab, rb = folder / "pairs.jsonl", folder / "rewardbench.jsonl"
    with open(ab, "w") as fa, open(rb, "w") as fr:
        for i, pair in enumerate(sample[:n]):
            prompt = [m.model_dump() for m in pair.prompt]
            a, b = (pair.response_a, pair.response_b) if i % 2 == 0 else (pair.response_b, pair.response_a)
            fa.write(json.dumps({"id": pair.id, "prompt": prompt, "response_a": a, "response_b": b, "p_a": 1.0 if i % 2 == 0 else 0.0}) + "\n")
            fr.write(json.dumps({"id": pair.id, "prompt": prompt, "chosen": pair.response_a, "rejected": pair.response_b, "subset": "hh-harmless"}) + "\n")
    return ab, rb


def run(n_pairs: int, judges: list[dict], reward_model: str | None) -> dict:
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    from constitution.preference_bench import bench_judge, bench_reward_model, read_bench
    from constitution.labeling.cache import JudgmentCache
    from constitution.labeling.jury.config import JudgeSpec
    from constitution.labeling.run import label_dataset
    from constitution.llm.factory import make_llm
    from constitution.loader import load_constitution
    from constitution.resources import default_principles

    constitution = load_constitution(default_principles())
    specs = [JudgeSpec.model_validate(j) for j in judges]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pairs, rewardbench = _sample(n_pairs, folder)
        with JudgmentCache(folder / "judgments.sqlite") as cache:
            start = time.perf_counter()
            summary = label_dataset(str(pairs), folder / "jury", constitution, specs, cache, show_progress=False)
            jury_s = time.perf_counter() - start
            llm = make_llm(specs[0].llm)
            try:
                harness = [bench_judge(constitution, llm, cache, read_bench(rewardbench), data="hh-harmless sample").model_dump()]
            finally:
                llm.close()
        if reward_model:
            from constitution.reward.model import RewardModel

            harness.append(bench_reward_model(RewardModel.load(reward_model), read_bench(rewardbench), name=reward_model, data="hh-harmless sample").model_dump())
    members = [m.model_dump(include={"name", "identity", "pairs", "pairs_failed", "agreement", "slot_a_pct", "same_position_pct", "jury_agreement", "judgments_computed", "seconds"}) for m in summary.members]
    return {
        "pairs": n_pairs,
        "judges": members,
        "jury": {"agreement": summary.agreement, "pairs": summary.pairs, "pairs_below_quorum": summary.pairs_below_quorum,
                 "position_consistent_pct": summary.position_consistent_pct, "mean_margin": summary.mean_margin,
                 "seconds": round(jury_s, 1)},  # fmt: skip
        "pairwise": [p.model_dump() for p in summary.pairwise],
        "alpha": summary.alpha,
        "alpha_pairs": summary.alpha_pairs,
        "harness": [{k: h[k] for k in ("model", "kind", "protocol", "rows", "accuracy", "score", "subsets", "seconds")} for h in harness],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=64, help="HH pairs (a seed-0 sample)")
    parser.add_argument("--judges", default=None, help="JSON list of judge configs (default: the embedded judge in hf fp32, hf bf16, vLLM bf16)")
    parser.add_argument("--reward-model", default=None, help="also run the harness with this reward model folder")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    if not HH.exists():
        sys.exit(f"benchmark data not found: {HH} (set CONSTITUTION_SHARED_DATA)")
    judges = json.loads(args.judges) if args.judges else _default_judges()
    result = run(args.pairs, judges, args.reward_model)
    blob = {"benchmark": "jury", "result": result}
    write_results(args.out, "jury", blob)


if __name__ == "__main__":
    main()
