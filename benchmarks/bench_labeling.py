"""Labeling benchmarks (issue 3), all in one process run on the same pairs and principles:

1. throughput, pairs/s: option log-probs with vLLM in-process and with transformers, against the usual LLM-as-judge
   baseline (generate a verdict as text, parse "A"/"B"), with transformers and with vLLM;
2. prefix-first template (ours) vs the principle-first ordering, vLLM, judgments/s;
3. re-labeling after editing 1 of K principles vs a full run (the cache at work);
4. label quality on HH-RLHF harmless: agreement with the human labels, % same position preferred, slot-(A) rate.

    .venv/bin/python benchmarks/bench_labeling.py --pairs 16 --agreement-pairs 256 --json benchmarks/results/labeling.json
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HH = ROOT.parent / "shared" / "data" / "hh-rlhf" / "harmless-base-test.jsonl.gz"
VERDICT = re.compile(r"\(?\b([AB])\b\)?")


def _pairs(n: int, offset: int = 0):
    from constitution.data import load_pairs, split_pairs

    pairs, _ = load_pairs(HH)
    _, rest = split_pairs(pairs, 0, seed=0)  # a fixed sample: the seed-0 shuffle of the whole test split
    return rest[offset : offset + n]


def _constitution(folder: Path, rule: str = "k", k: int = 4, comparison: str = "cai_comparison"):
    from constitution.principles import load_constitution

    spec = folder / "constitution.yaml"
    text = spec.read_text()
    text = re.sub(r"rule: \w+", f"rule: {rule}", text)
    text = re.sub(r"k: \d+", f"k: {k}", text)
    text = re.sub(r"comparison: \w+", f"comparison: {comparison}", text)
    spec.write_text(text)
    return load_constitution(folder)


def _label(constitution, backend, pairs, cache_path: Path, **config):
    from constitution.cache import JudgmentCache
    from constitution.labeling import LabelConfig, Labeler

    with JudgmentCache(cache_path) as cache:
        return Labeler(constitution, backend, cache, LabelConfig(**config)).label(pairs)


def _baseline(constitution, backend, pairs, max_tokens: int) -> tuple[float, float]:
    """Generate a verdict as text for every (pair, principle, order) and parse it; returns (seconds, % parsed)."""
    from constitution.prompts import comparison_prompt

    texts = []
    for pair in pairs:
        for principle in constitution.plan(pair.pair_hash()):
            for order in ("ab", "ba"):
                jp = comparison_prompt(constitution, principle, pair, order, backend.tokenizer)
                texts.append(jp.text[: len(jp.text) - len(jp.answer_prefix)])
    start = time.perf_counter()
    outs = backend.generate(texts, max_tokens=max_tokens, temperature=0.0)
    seconds = time.perf_counter() - start
    parsed = sum(1 for o in outs if VERDICT.search(o[0]))
    return seconds, 100.0 * parsed / len(outs)


def _warm(backend) -> None:
    """One request to warm the engine, then an empty prefix cache so every timed run starts cold."""
    backend.option_logprobs(["Warm-up. The answer is: ("], ["A", "B"])
    _cold(backend)


def _cold(backend) -> None:
    llm = getattr(backend, "llm", None)
    if llm is not None:
        llm.reset_prefix_cache()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=16, help="pairs for the throughput runs")
    parser.add_argument("--k", type=int, default=4, help="principles per pair (sampled) in the throughput runs")
    parser.add_argument("--relabel-pairs", type=int, default=8, help="pairs for the edit-1-of-K run (all principles)")
    parser.add_argument("--agreement-pairs", type=int, default=256, help="pairs for the agreement run (0: skip)")
    parser.add_argument("--baseline-tokens", type=int, default=16, help="max new tokens of the text baseline")
    parser.add_argument("--skip-hf", action="store_true", help="skip the transformers runs")
    parser.add_argument("--hf-threads", type=int, default=2, help="torch threads for the transformers runs")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args()
    if not HH.exists():
        print(f"skipped: {HH} not found", file=sys.stderr)
        return 0

    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")  # vLLM on a 2-core CPU: one OpenMP thread is fastest
    from constitution.feedback.base import JudgeConfig, make_backend

    work = Path(tempfile.mkdtemp(prefix="bench-labeling-"))
    folder = work / "principles"
    shutil.copytree(ROOT / "principles", folder)
    results: dict[str, object] = {"pairs": args.pairs, "k": args.k}
    pairs = _pairs(args.pairs)
    constitution = _constitution(folder, "k", args.k)
    n_judgments = sum(len(constitution.plan(p.pair_hash())) for p in pairs) * 2
    results["judgments"] = n_judgments

    vllm = make_backend(JudgeConfig(backend="vllm"))
    _warm(vllm)
    _, s = _label(constitution, vllm, pairs, work / "vllm.sqlite")
    results["vllm_logprob_pairs_per_s"] = s.pairs_per_s
    _cold(vllm)  # the baseline's prompts share the scored prompts' prefixes: do not let it reuse their KV cache
    seconds, parsed = _baseline(constitution, vllm, pairs, args.baseline_tokens)
    results["vllm_generate_parse_pairs_per_s"] = len(pairs) / seconds
    results["vllm_generate_parse_parsed_pct"] = parsed

    # Prefix-first (ours) vs principle-first, every principle of the constitution in both orders.
    relabel_pairs = _pairs(args.relabel_pairs, offset=args.pairs)
    for template in ("principle_first_comparison", "cai_comparison"):
        _cold(vllm)
        c = _constitution(folder, "all", 1, template)
        _, s = _label(c, vllm, relabel_pairs, work / f"{template}.sqlite")
        results[f"{template}_judgments_per_s"] = s.judgments_per_s
    full_seconds = s.seconds
    # Edit one of K principles, then re-label: only that principle's judgments are asked again.
    harmless = folder / "harmlessness.yaml"
    harmless.write_text(harmless.read_text().replace("less likely to cause harm", "least likely to cause harm"))
    c = _constitution(folder, "all", 1, "cai_comparison")
    _, s = _label(c, vllm, relabel_pairs, work / "cai_comparison.sqlite")
    results["relabel_K"] = len(c.principles)
    results["relabel_full_s"] = full_seconds
    results["relabel_after_edit_s"] = s.seconds
    results["relabel_after_edit_computed"] = s.judgments_computed
    harmless.write_text(harmless.read_text().replace("least likely to cause harm", "less likely to cause harm"))

    if args.agreement_pairs:
        _cold(vllm)
        c = _constitution(folder, "k", args.k)
        _, s = _label(c, vllm, _pairs(args.agreement_pairs, offset=args.pairs + args.relabel_pairs), work / "agree.sqlite")
        results["agreement"] = s.model_dump(exclude={"per_principle"})
    vllm.close()

    if not args.skip_hf:
        import torch

        torch.set_num_threads(args.hf_threads)
        results["hf_threads"] = torch.get_num_threads()
        hf = make_backend(JudgeConfig(backend="hf", batch_size=8))
        _, s = _label(constitution, hf, pairs, work / "hf.sqlite")
        results["hf_logprob_pairs_per_s"] = s.pairs_per_s
        seconds, parsed = _baseline(constitution, hf, pairs, args.baseline_tokens)
        results["hf_generate_parse_pairs_per_s"] = len(pairs) / seconds
        results["hf_generate_parse_parsed_pct"] = parsed
        hf.close()

    shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
