"""The cost of ``constitution diff`` after editing one of K principles, as a fraction of a full relabel (issue 17;
BRIEF section 7: re-labeling after editing one of K principles costs about 1/K of a full run).

On the shared HH-RLHF harmless test pairs (a fixed seed-0 sample) with the embedded judge in an in-process vLLM
engine, in one process per repeat (a new engine, a new judgment cache):

1. ``full``: label the pairs under the shipped constitution (K = 24 principles, 4 sampled per pair, both orders)
   into an empty judgment cache: the full relabel;
2. ``diff``: reword one principle (``--principle``) and run the diff as the CLI does (the old labels come from the
   cache, the judge is asked only the edited principle's judgments), comparison and ``diff.json``/``diff.md``/plot
   included. vLLM's prefix cache is reset first, so the diff gains nothing from the full run's KV blocks.

The engine's start-up and a warm-up (one other pair, its own cache) are outside both clocks.

The result has seconds and judgments asked for both, and the ratios diff/full (time and judgments) beside 1/K;
the median over ``--repeats``.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_diff.py --pairs 96 --repeats 3 --out benchmarks/results
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HH, run_isolated, write_results  # noqa: E402


def _reworded(folder: Path, principle: str) -> None:
    """Append a clause to one principle's question (the same meaning, new words: its judgments are invalidated)."""
    import yaml

    for path in folder.glob("*.yaml"):
        doc = yaml.safe_load(path.read_text())
        for p in doc.get("principles", []):
            if p["id"] == principle:
                p["text"] = p["text"].rstrip("?") + ", all things considered?"
                path.write_text(yaml.safe_dump(doc, sort_keys=False))
                return
    raise SystemExit(f"no principle {principle!r} in the shipped constitution")


def run_once(n_pairs: int, dtype: str, principle: str) -> dict:
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    import shutil

    from constitution.data.pairs import load_pairs, split_pairs
    from constitution.diff import diff_versions, write_diff
    from constitution.labeling import JudgmentCache, Labeler, ListSink
    from constitution.llm.config import VllmConfig
    from constitution.llm.vllm_backend import VllmBackend
    from constitution.loader import load_constitution
    from constitution.resources import default_principles

    pairs, _ = load_pairs(HH)
    _, sample = split_pairs(pairs, 0, seed=0)
    pairs, spare = sample[:n_pairs], sample[n_pairs : n_pairs + 1]
    backend = VllmBackend(VllmConfig(dtype=dtype, kvcache_gib=2))
    with tempfile.TemporaryDirectory() as tmp:
        with JudgmentCache(Path(tmp) / "warm-up.sqlite") as cache:  # the engine's first batches are slow: not timed
            Labeler(load_constitution(default_principles()), backend, cache).label(spare, ListSink())
        backend.llm.reset_prefix_cache()
        edited = Path(tmp) / "principles"
        shutil.copytree(default_principles(), edited)
        _reworded(edited, principle)
        old, new = load_constitution(default_principles()), load_constitution(edited)
        with JudgmentCache(Path(tmp) / "judgments.sqlite") as cache:
            start = time.perf_counter()
            full = Labeler(old, backend, cache).label(pairs, ListSink())
            full_s = time.perf_counter() - start
            assert full.judgments_cached == 0, "the judgment cache was not empty"
            backend.llm.reset_prefix_cache()
            start = time.perf_counter()
            report = diff_versions(("shipped", old), ("edited", new), pairs, backend, cache)
            labelled = time.perf_counter()
            write_diff(report, Path(tmp) / "out")
            diff_s, outputs_s = time.perf_counter() - start, time.perf_counter() - labelled
    backend.close()
    assert report.cost_old.computed == 0 and [e.id for e in report.spec.principles] == [principle]
    k = len(old.principles)
    return {
        "pairs": len(pairs), "principles": k, "edited": principle,
        "full_seconds": full_s, "full_judgments": full.judgments,
        "diff_seconds": diff_s, "diff_judgments_asked": report.cost_new.computed,
        "diff_old_side_seconds": report.cost_old.seconds, "diff_new_side_seconds": report.cost_new.seconds,
        "diff_outputs_seconds": outputs_s,
        "time_fraction": diff_s / full_s, "judgment_fraction": report.cost_new.computed / full.judgments, "one_over_k": 1 / k,
        "labels_flipped": report.labels.flipped,
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=3, help="each in a fresh process (new engine, new caches)")
    parser.add_argument("--principle", default="least-harmful", help="the principle reworded (default least-harmful)")
    parser.add_argument("--dtype", default="auto", help="judge weights (default auto: bf16 where native, else fp32)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    if not HH.exists():
        sys.exit(f"benchmark data not found: {HH} (set CONSTITUTION_SHARED_DATA)")
    runs = []
    for repeat in range(args.repeats):
        result = run_isolated(run_once, n_pairs=args.pairs, dtype=args.dtype, principle=args.principle)
        result["repeat"] = repeat
        print(result, flush=True)
        runs.append(result)
    summary = {key: statistics.median(r[key] for r in runs) for key in ("full_seconds", "diff_seconds", "time_fraction", "judgment_fraction")}
    summary["one_over_k"] = runs[0]["one_over_k"]
    blob = {"pairs": args.pairs, "dtype": args.dtype, "principle": args.principle, "summary": summary, "runs": runs}
    write_results(args.out, "bench_diff", blob)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
