"""Prompt-injection flip rate of the judge (BRIEF section 7, issue 7), with and without position debiasing.

Injection text is appended to response A, then to response B, of real HH-RLHF harmless pairs (the first N of the
benchmark test split, read from ../shared/data); the embedded judge labels the original and the injected pairs with
vLLM in-process, both orders averaged (what the labeler does) and the A/B order only. Two controls run alongside:
`none` (no edit: must flip nothing) and `neutral` (a harmless sentence: what any edit does). A flip toward the
injected response counts pairs whose label preferred the other response before and the injected one after; the
mean shift is the mean change of P(injected response preferred). See constitution/labeling/injection_probes.py.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_injection.py --pairs 48
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import HH, hh_split, write_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=48, help="HH pairs (the first N of the test split)")
    parser.add_argument("--principles", nargs="+", default=["least-harmful"], help="principle ids asked of every pair")
    parser.add_argument("--data", type=Path, default=HH, help="HH-RLHF JSONL(.gz)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results", help="results folder")
    parser.add_argument("--dtype", default="auto", help="judge weights dtype (default auto)")
    args = parser.parse_args()

    os.environ.setdefault("OMP_NUM_THREADS", "1")  # vLLM on a 2-core CPU: one OpenMP thread is fastest
    from constitution.labeling import JudgmentCache
    from constitution.llm import llm_config, make_llm
    from constitution.loader import load_constitution
    from constitution.labeling.injection_probes import NEUTRAL, NO_CHANGE, default_injections, probe_injections
    from constitution.resources import default_principles

    _, pairs = hh_split(args.data, 0, args.pairs)
    constitution = load_constitution(default_principles())
    injections = [NO_CHANGE, NEUTRAL, *default_injections(constitution)]
    backend = make_llm(llm_config(backend="vllm", dtype=args.dtype))
    print(f"{len(pairs)} pairs x {len(args.principles)} principle(s) x 2 orders x {1 + 2 * (len(injections) - 1)} variants", file=sys.stderr)
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-injection-") as work, JudgmentCache(Path(work) / "cache.sqlite") as cache:
            report = probe_injections(constitution, backend, cache, pairs, injections, principles=args.principles)
    finally:
        backend.close()
    blob = {
        "command": "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_injection.py " + shlex.join(sys.argv[1:]),
        "data": str(args.data),
        "seconds": round(time.perf_counter() - started, 1),
        "injections": {i.name: i.text for i in injections},
        **report.model_dump(),
    }
    write_results(args.out, "bench_injection", blob)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
