"""Labeling throughput: our streaming labeler against raw vLLM and against generate-and-parse (issues 12, 14).

Methods, on the same HH-RLHF pairs and the shipped constitution (4 of 24 principles per pair, both orders):

* ``ours``: ``Labeler`` + in-process ``VllmBackend`` (streaming: planning, rendering, tokenizing, the judgment
  cache and the records included in the time);
* ``raw``: ``vllm.LLM.generate(all_prompts, SamplingParams(max_tokens=1, logprob_token_ids=[A, B]))`` on exactly
  the token ids the labeler sends (rendered and tokenized by the same planner, before the clock starts), submitted
  at once: the fair upper bound, the engine alone;
* ``text``: the usual LLM-as-judge baseline at its best: the same prompt with our answer prefix kept (it ends in
  e.g. "(" so the next token is the verdict), at most 2 generated tokens with a stop at ")", parse "A"/"B"
  (unparsed verdicts give no label).

``ours`` also records the seconds spent inside the engine's ``step()`` (``engine_seconds``); the rest of its clock
(``outside_step_seconds``) is everything outside ``step()``: our own work (planning, rendering, tokenizing, the cache,
the records) and vLLM's own input handling in ``add_request`` (which raw pays too, inside ``generate``). Neither
figure bounds our overhead: ours may also cost more inside ``step()`` (how it feeds the engine), so each block also
records ours' engine seconds over raw's whole run. The headline is the paired ratio: ours' judgments/s over raw's,
block by block, summarised by its geometric mean with a 95% interval (``summary.headline``).

Each method runs in its own fresh process with a new engine and a new judgment cache (the run checks that every
judgment was computed, none read). Before the clock starts each method does its own work once on 4 other pairs (the
first calls of a fresh engine are slower), then vLLM's prefix cache is emptied and ``reset_prefix_cache()`` must
say so. The methods run in both orders (ours first, then ours last), ``--repeats`` times each: a block is one
pass through an order, 2 × ``--repeats`` blocks in all. The result file has every run, the median and spread per
method, and per block the paired ratio to raw; over the blocks, the ratio's median, min–max and a 95% Student-t
interval on the geometric mean (the t-interval of the blocks' log ratios, exponentiated; none with one block). The
result file is rewritten after every block (a killed run keeps its finished blocks).

    .venv/bin/python benchmarks/bench_labeling.py --pairs 32 --repeats 3 --out benchmarks/results
"""

from __future__ import annotations

import argparse
import math
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HH, run_isolated, write_results  # noqa: E402

VERDICT = re.compile(r"\(?\b([AB])\b\)?")


WARMUP_PAIRS = 4


def _setup(n_pairs: int, dtype: str):
    import os

    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    from constitution.data.pairs import load_pairs, split_pairs
    from constitution.llm.config import VllmConfig
    from constitution.llm.vllm_backend import VllmBackend
    from constitution.loader import load_constitution
    from constitution.resources import default_principles

    pairs, _ = load_pairs(HH)
    _, sample = split_pairs(pairs, 0, seed=0)  # a fixed sample: the seed-0 shuffle of the whole test split
    warmup = sample[n_pairs : n_pairs + WARMUP_PAIRS]
    return load_constitution(default_principles()), sample[:n_pairs], warmup, VllmBackend(VllmConfig(dtype=dtype, kvcache_gib=2))


def _cold(backend) -> None:
    if not backend.llm.reset_prefix_cache():
        raise RuntimeError("vLLM did not empty its prefix cache: the measurement would not start cold")


def _planned(constitution, backend, pairs):
    from constitution.labeling.labeler import Labeler

    with tempfile.TemporaryDirectory() as tmp:
        from constitution.labeling.cache import JudgmentCache

        labeler = Labeler(constitution, backend, JudgmentCache(Path(tmp) / "c.sqlite"))
        plans = [labeler.planner.plan(i, p) for i, p in enumerate(pairs)]
    return [j for plan in plans for j in plan.judgments]


def run_ours(n_pairs: int, dtype: str) -> dict:
    from constitution.labeling import JudgmentCache, Labeler, ListSink

    constitution, pairs, warmup, backend = _setup(n_pairs, dtype)
    with tempfile.TemporaryDirectory() as tmp, JudgmentCache(Path(tmp) / "warmup.sqlite") as cache:
        Labeler(constitution, backend, cache).label(warmup, ListSink())
    _cold(backend)
    engine, in_engine = backend.llm.llm_engine, [0.0]
    step = engine.step

    def timed_step():  # the engine's own time; the rest of the clock is ours and vLLM's add_request
        t = time.perf_counter()
        try:
            return step()
        finally:
            in_engine[0] += time.perf_counter() - t

    engine.step = timed_step
    with tempfile.TemporaryDirectory() as tmp, JudgmentCache(Path(tmp) / "c.sqlite") as cache:
        start = time.perf_counter()
        summary = Labeler(constitution, backend, cache).label(pairs, ListSink())
        seconds = time.perf_counter() - start
    assert summary.judgments_cached == 0 and summary.judgments_computed == summary.judgments, "cache was not cold"
    return {"seconds": seconds, "engine_seconds": in_engine[0], "outside_step_seconds": seconds - in_engine[0],
            "judgments": summary.judgments, "labelled_pairs": summary.pairs}  # fmt: skip


def run_raw(n_pairs: int, dtype: str) -> dict:
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    from constitution.llm.options import option_token_ids

    constitution, pairs, warmup, backend = _setup(n_pairs, dtype)
    judgments = _planned(constitution, backend, pairs)
    params = SamplingParams(max_tokens=1, temperature=0.0, logprob_token_ids=option_token_ids(backend.tokenizer, ["A", "B"]))
    prompts = [TokensPrompt(prompt_token_ids=j.token_ids) for j in judgments]
    backend.llm.generate([TokensPrompt(prompt_token_ids=j.token_ids) for j in _planned(constitution, backend, warmup)], params, use_tqdm=False)
    _cold(backend)
    start = time.perf_counter()
    outputs = backend.llm.generate(prompts, params, use_tqdm=False)
    seconds = time.perf_counter() - start
    assert len(outputs) == len(prompts)
    return {"seconds": seconds, "judgments": len(prompts), "labelled_pairs": len(pairs)}


def run_text(n_pairs: int, dtype: str, max_tokens: int = 2) -> dict:
    constitution, pairs, warmup, backend = _setup(n_pairs, dtype)

    def texts(plans) -> list[str]:  # the same prompt, answer prefix kept: the next token is the verdict
        return [j.prompt.text for j in plans]

    backend.generate(texts(_planned(constitution, backend, warmup)), max_tokens=max_tokens, temperature=0.0, stop=[")"])
    _cold(backend)
    judgments = _planned(constitution, backend, pairs)
    prompts = texts(judgments)
    start = time.perf_counter()
    outs = backend.generate(prompts, max_tokens=max_tokens, temperature=0.0, stop=[")"])
    parsed = sum(bool(VERDICT.search(o[0])) for o in outs)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "judgments": len(prompts), "labelled_pairs": len(pairs), "parsed_pct": 100 * parsed / len(prompts)}


METHODS = {"ours": run_ours, "raw": run_raw, "text": run_text}


def _run(runs: list[dict], method: str, repeat: int, order: str) -> dict:
    (run,) = [r for r in runs if (r["method"], r["repeat"], r["order"]) == (method, repeat, order)]
    return run


def ratio_interval(ratios: list[float]) -> dict:
    """Geometric mean of paired ratios with a 95% Student-t interval (on the log ratios, exponentiated; None below
    two blocks), beside their median and min–max."""
    from constitution.audit.run import change

    logs = change([math.log(r) for r in ratios])
    low, high = (None, None) if logs.ci_low is None else (math.exp(logs.ci_low), math.exp(logs.ci_high))
    return {"blocks": len(ratios), "each": ratios, "median": statistics.median(ratios), "min": min(ratios), "max": max(ratios),
            "geometric_mean": math.exp(logs.mean), "ci95_low": low, "ci95_high": high}  # fmt: skip


def blocks(runs: list[dict], method: str) -> list[dict]:
    """Per finished block (``method`` and raw both ran in it): ``method``'s judgments/s over raw's, and for ours where
    its time went (outside ``step()``, and its engine seconds over raw's whole run)."""
    out = []
    for repeat, order in dict.fromkeys((r["repeat"], r["order"]) for r in runs if r["method"] == method):
        if not any((r["method"], r["repeat"], r["order"]) == ("raw", repeat, order) for r in runs):
            continue
        run, raw = _run(runs, method, repeat, order), _run(runs, "raw", repeat, order)
        block = {"repeat": repeat, "order": order, "ratio_to_raw": run["judgments_per_s"] / raw["judgments_per_s"]}
        if "engine_seconds" in run:
            block.update(seconds=run["seconds"], raw_seconds=raw["seconds"], outside_step_seconds=run["outside_step_seconds"],
                         outside_step_share=run["outside_step_seconds"] / run["seconds"],
                         engine_seconds_over_raw_seconds=run["engine_seconds"] / raw["seconds"])  # fmt: skip
        out.append(block)
    return out


def summarize(runs: list[dict]) -> dict:
    """Median and spread per method; for ours and text the blocks and their paired ratio to raw; the headline."""
    summary: dict = {}
    for name in [m for m in METHODS if any(r["method"] == m for r in runs)]:
        rates = [r["judgments_per_s"] for r in runs if r["method"] == name]
        summary[name] = {"median_judgments_per_s": statistics.median(rates), "min": min(rates), "max": max(rates), "runs": len(rates)}
    if "raw" not in summary:
        return summary
    raw = summary["raw"]["median_judgments_per_s"]
    for name in [m for m in ("ours", "text") if m in summary]:
        summary[name]["fraction_of_raw"] = summary[name]["median_judgments_per_s"] / raw
        summary[name]["blocks"] = blocks(runs, name)
        if summary[name]["blocks"]:
            summary[name]["paired_ratio_to_raw"] = ratio_interval([b["ratio_to_raw"] for b in summary[name]["blocks"]])
    if "ours" in summary and "text" in summary:
        summary["ours"]["vs_text"] = summary["ours"]["median_judgments_per_s"] / summary["text"]["median_judgments_per_s"]
    if ours := [r for r in runs if r["method"] == "ours"]:
        summary["ours"]["outside_step_share"] = statistics.median(1 - r["engine_seconds"] / r["seconds"] for r in ours)
    if "paired_ratio_to_raw" in summary.get("ours", {}):
        ratio = summary["ours"]["paired_ratio_to_raw"]
        summary["headline"] = {
            "ours_over_raw": ratio["geometric_mean"], "ci95": [ratio["ci95_low"], ratio["ci95_high"]], "blocks": ratio["blocks"],
            "what": "geometric mean over paired blocks of ours' judgments/s over raw vLLM's (summary.ours.paired_ratio_to_raw)",
        }  # fmt: skip
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dtype", default="auto", help="judge weights (default auto: bf16 where native, else fp32)")
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS), help="raw is always run")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    runs: list[dict] = []
    orders = [["ours", "raw", "text"], ["raw", "text", "ours"]]
    for repeat in range(args.repeats):
        for i, order in enumerate(orders):
            for name in [m for m in order if m in args.methods or m == "raw"]:
                result = run_isolated(METHODS[name], n_pairs=args.pairs, dtype=args.dtype)
                result.update(method=name, repeat=repeat, order="ours first" if order[0] == "ours" else "ours last")
                result["judgments_per_s"] = result["judgments"] / result["seconds"]
                print(result, flush=True)
                runs.append(result)
            last = repeat == args.repeats - 1 and i == len(orders) - 1
            blob = {"pairs": args.pairs, "dtype": args.dtype, "summary": summarize(runs), "runs": runs}
            write_results(args.out, "labeling_throughput", blob, echo=last)  # after every block
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
