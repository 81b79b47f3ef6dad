"""Judge weights in bf16 with the LM head in fp32 against full fp32 (issue 14): how far the labels move, and speed.

The same HH-RLHF pairs (a fixed seed-0 sample), the shipped constitution (4 of 24 principles, both orders), the
embedded judge in an in-process vLLM engine, once with ``dtype float32`` and once with ``dtype bfloat16`` (vLLM's
``head_dtype`` override keeps the logits in fp32). Each precision runs in its own process with a fresh engine and
an empty judgment cache.

    .venv/bin/python benchmarks/bench_dtype.py --pairs 64 --out benchmarks/results
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HH, run_isolated, write_results  # noqa: E402


def label(dtype: str, n_pairs: int) -> dict:
    import os
    import tempfile
    import time

    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    from constitution.data.pairs import load_pairs, split_pairs
    from constitution.labeling import JudgmentCache, Labeler, label_pairs
    from constitution.llm.config import VllmConfig
    from constitution.llm.vllm_backend import VllmBackend
    from constitution.loader import load_constitution
    from constitution.resources import default_principles

    pairs, _ = load_pairs(HH)
    _, sample = split_pairs(pairs, 0, seed=0)
    judge = VllmBackend(VllmConfig(dtype=dtype, kvcache_gib=2))
    with tempfile.TemporaryDirectory() as tmp, JudgmentCache(Path(tmp) / "c.sqlite") as cache:
        start = time.perf_counter()
        records, summary = label_pairs(Labeler(load_constitution(default_principles()), judge, cache), sample[:n_pairs])
        seconds = time.perf_counter() - start
    judge.close()
    return {"dtype": dtype, "seconds": seconds, "judgments": summary.judgments, "identity": judge.identity,
            "p_a": [r.p_a for r in records], "per_principle": [r.per_principle for r in records]}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=64)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    full, half = (run_isolated(label, dtype=d, n_pairs=args.pairs) for d in ("float32", "bfloat16"))
    label_diff = [abs(a - b) for a, b in zip(full["p_a"], half["p_a"])]
    principle_diff = [abs(a[k] - b[k]) for a, b in zip(full["per_principle"], half["per_principle"]) for k in a]
    summary = {
        "pairs": args.pairs,
        "label_max_abs_diff": max(label_diff),
        "label_mean_abs_diff": sum(label_diff) / len(label_diff),
        "per_principle_max_abs_diff": max(principle_diff),
        "distinct_labels": {"float32": len({round(p, 6) for p in full["p_a"]}), "bfloat16": len({round(p, 6) for p in half["p_a"]})},
        "judgments_per_s": {r["dtype"]: r["judgments"] / r["seconds"] for r in (full, half)},
        "peak_rss_mib": {r["dtype"]: r["peak_rss_mib"] for r in (full, half)},
    }
    write_results(args.out, "dtype_labels", {"summary": summary, "runs": [full, half]})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
