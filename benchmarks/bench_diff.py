"""The cost of ``constitution diff`` after editing one of K principles, as a share of a full relabel, for EACH
principle in turn (or ``--sample N`` of them at random, N >= 8) (issues 17 and 21; BRIEF section 7: re-labeling
after editing one of K principles costs about 1/K of a full run).

On the shared HH-RLHF harmless test pairs (a fixed seed-0 sample) with the embedded judge in an in-process vLLM
engine, in one process per repeat (a new engine):

1. ``full``: label the pairs under the shipped constitution (K = 24 principles, 4 drawn per pair, both orders) into
   an empty judgment cache: the full relabel;
2. for each edited principle (in an order shuffled per repeat): reword it, copy the full run's cache file and reset
   vLLM's prefix cache (all outside the clock), then run the diff as the CLI does against the copy (the old labels
   come from the cache, the judge is asked only the edited principle's judgments), comparison and
   ``diff.json``/``diff.md``/plot included. Every diff starts from the same full-run cache, never from another's.

The engine's start-up and a warm-up (one other pair, its own cache, one diff with its outputs) are outside the clocks.

Per principle: its weight, the pairs that drew it, the judgments the diff asked, their share of the full run's, the
expected share (the principle's drawn share of pairs / principles per pair; the judgments are deterministic, so the
share equals it unless a pair was skipped), and the share of time (median over ``--repeats``; also without writing
the outputs). Summary: mean, sd, min and max over the edited principles of each share beside 1/K, and the line
time share = intercept + slope x judgment share (the intercept is a diff's fixed cost, as a share of the full run).

Over all K principles the mean judgment share is 1/K by construction (each pair's judgments belong to the principles
it drew); what the run measures is the spread (weights make some principles drawn more) and the time share.

The full run: all 24 principles, 96 pairs (768 judgments; 16 pairs draw a principle on average), 3 repeats.
Estimated from a small run at 8 pairs: ~1.5 min of start-up and warm-up, the full relabel, then 24 diffs costing
about as much again plus ~0.6 s each, so 3-4 minutes a repeat and under 13 minutes in all on a quiet 2-core EPYC
(``--sample 12`` halves the diffs if it runs long):

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_diff.py --pairs 96 --repeats 3 --out benchmarks/results
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HH, run_isolated, write_results  # noqa: E402

MIN_SAMPLE = 8


def _pairs(n_pairs: int):
    """The first ``n_pairs`` of the fixed seed-0 sample, and one more for the warm-up."""
    from constitution.data.pairs import load_pairs, split_pairs

    pairs, _ = load_pairs(HH)
    _, sample = split_pairs(pairs, 0, seed=0)
    return sample[:n_pairs], sample[n_pairs : n_pairs + 1]


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


def _edited(folder: Path, principle: str):
    """The shipped constitution with ``principle`` reworded, from a copy under ``folder``."""
    from constitution.loader import load_constitution
    from constitution.resources import default_principles

    shutil.copytree(default_principles(), folder / "principles")
    _reworded(folder / "principles", principle)
    return load_constitution(folder / "principles")


def _diff_once(backend, old, pairs, full_db: Path, rows: int, folder: Path, principle: str) -> dict:
    """One edit: reword ``principle``, copy the full run's cache, reset the prefix cache (untimed), then the diff."""
    from constitution.diff import diff_versions, write_diff
    from constitution.labeling import JudgmentCache

    new = _edited(folder, principle)
    shutil.copyfile(full_db, folder / "judgments.sqlite")
    backend.llm.reset_prefix_cache()
    with JudgmentCache(folder / "judgments.sqlite") as cache:
        assert cache.count() == rows, "the copy is not the full run's cache"
        start = time.perf_counter()
        report = diff_versions(("shipped", old), ("edited", new), pairs, backend, cache)
        labelled = time.perf_counter()
        write_diff(report, folder / "out")
        diff_s, outputs_s = time.perf_counter() - start, time.perf_counter() - labelled
    shutil.rmtree(folder)
    assert report.cost_old.computed == 0 and [e.id for e in report.spec.principles] == [principle]
    return {"seconds": diff_s, "outputs_seconds": outputs_s, "asked": report.cost_new.computed, "labels_flipped": report.labels.flipped}


def run_once(n_pairs: int, dtype: str, principles: list[str], order_seed: int) -> dict:
    """One repeat in one process: the full relabel, then a diff per principle (in a shuffled order)."""
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    from constitution.diff import diff_versions, write_diff
    from constitution.labeling import JudgmentCache, Labeler, ListSink
    from constitution.llm.config import VllmConfig
    from constitution.llm.vllm_backend import VllmBackend
    from constitution.loader import load_constitution
    from constitution.resources import default_principles

    pairs, spare = _pairs(n_pairs)
    old = load_constitution(default_principles())
    backend = VllmBackend(VllmConfig(dtype=dtype, kvcache_gib=2))
    order = random.Random(order_seed).sample(principles, len(principles))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with JudgmentCache(tmp / "warm-up.sqlite") as cache:  # first batches, imports and the plot: not timed
            Labeler(old, backend, cache).label(spare, ListSink())
            write_diff(diff_versions(("shipped", old), ("edited", _edited(tmp / "warm-up", order[0])), spare, backend, cache), tmp / "warm-up" / "out")
        backend.llm.reset_prefix_cache()
        with JudgmentCache(tmp / "full.sqlite") as cache:
            start = time.perf_counter()
            full = Labeler(old, backend, cache).label(pairs, ListSink())
            full_s = time.perf_counter() - start
            assert full.judgments_cached == 0, "the judgment cache was not empty"
            rows = cache.count()
        edits = {p: _diff_once(backend, old, pairs, tmp / "full.sqlite", rows, tmp / "edit", p) for p in order}
    backend.close()
    return {"full_seconds": full_s, "full_judgments": full.judgments, "order": order, "edits": edits}


def _spread(values: list[float]) -> dict:
    return {
        "mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values), "max": max(values),
    }  # fmt: skip


def per_principle(runs: list[dict], drawn: dict[str, int], weights: dict[str, float], n_pairs: int, per_pair: int) -> dict[str, dict]:
    """Each edited principle's pairs, judgments asked and shares (time: the median over repeats)."""
    table = {}
    for principle in runs[0]["edits"]:
        edits = [(run["edits"][principle], run["full_seconds"], run["full_judgments"]) for run in runs]
        asked = {e["asked"] for e, _, _ in edits}
        assert len(asked) == 1, f"{principle}: the judgments asked differ between repeats ({asked})"
        table[principle] = {
            "weight": weights[principle], "pairs_drawn": drawn[principle], "judgments_asked": asked.pop(),
            "judgment_share": edits[0][0]["asked"] / edits[0][2],
            "expected_share": drawn[principle] / n_pairs / per_pair,
            "time_share": statistics.median(e["seconds"] / full_s for e, full_s, _ in edits),
            "time_share_without_outputs": statistics.median((e["seconds"] - e["outputs_seconds"]) / full_s for e, full_s, _ in edits),
            "diff_seconds": statistics.median(e["seconds"] for e, _, _ in edits),
            "labels_flipped": edits[0][0]["labels_flipped"],
        }  # fmt: skip
    return table


def summarize(table: dict[str, dict], k: int, runs: list[dict]) -> dict:
    """Mean and spread over principles of each share, beside 1/K, and time share against judgment share."""
    shares = ("judgment_share", "expected_share", "time_share", "time_share_without_outputs")
    summary = {key: _spread([row[key] for row in table.values()]) for key in shares}
    judged, timed = [row["judgment_share"] for row in table.values()], [row["time_share"] for row in table.values()]
    if len(set(judged)) > 1:
        fit = statistics.linear_regression(judged, timed)
        summary["time_vs_judgment_share"] = {"intercept": fit.intercept, "slope": fit.slope}
    return {
        "principles": k, "one_over_k": 1 / k, "edited": len(table),
        "full_seconds": statistics.median(r["full_seconds"] for r in runs), "full_judgments": runs[0]["full_judgments"],
        **summary,
    }  # fmt: skip


def _sample(ids: list[str], n: int, seed: int) -> list[str]:
    """Every principle (n = 0), or n of them at random (in the constitution's order)."""
    if n == 0 or n >= len(ids):
        return ids
    chosen = set(random.Random(seed).sample(ids, n))
    return [i for i in ids if i in chosen]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=3, help="each in a fresh process (new engine, new caches)")
    parser.add_argument("--sample", type=int, default=0, help=f"edit this many principles at random (>= {MIN_SAMPLE}; default 0: each in turn)")
    parser.add_argument("--seed", type=int, default=0, help="for the sample and the order of the edits")
    parser.add_argument("--dtype", default="auto", help="judge weights (default auto: bf16 where native, else fp32)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    if 0 < args.sample < MIN_SAMPLE:
        parser.error(f"--sample must be 0 (every principle) or at least {MIN_SAMPLE}, not {args.sample}")
    if not HH.exists():
        sys.exit(f"benchmark data not found: {HH} (set CONSTITUTION_SHARED_DATA)")
    from constitution.loader import load_constitution
    from constitution.resources import default_principles

    shipped = load_constitution(default_principles())
    ids = [p.id for p in shipped.principles]
    edited = _sample(ids, args.sample, args.seed)
    pairs, _ = _pairs(args.pairs)
    drawn = dict.fromkeys(ids, 0)
    for pair in pairs:
        for p in shipped.plan(pair.pair_hash()):
            drawn[p.id] += 1
    per_pair = sum(drawn.values()) / len(pairs)
    runs = []
    for repeat in range(args.repeats):
        result = run_isolated(run_once, n_pairs=args.pairs, dtype=args.dtype, principles=edited, order_seed=args.seed + repeat)
        result["repeat"] = repeat
        print({k: v for k, v in result.items() if k != "edits"}, flush=True)
        runs.append(result)
    table = per_principle(runs, drawn, {p.id: p.weight for p in shipped.principles}, len(pairs), per_pair)
    blob = {
        "pairs": len(pairs), "dtype": args.dtype, "sample": args.sample, "seed": args.seed, "principles_per_pair": per_pair,
        "summary": summarize(table, len(ids), runs), "per_principle": table, "runs": runs,
    }  # fmt: skip
    write_results(args.out, "bench_diff", blob)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
