"""`constitution revise` speed (issue 16): revisions per second with the embedded policy in an in-process vLLM
engine, and the cost of the cached re-run after editing one principle's critique request.

On the first ``--prompts`` of the shipped demo prompts (benign, borderline and harmful), in one process per repeat
(a new engine, a new generation cache):

1. ``full``: the policy answers each prompt, then ``--rounds`` rounds of critique and revision under the shipped
   constitution (one principle drawn per prompt and round, weighted), into an empty cache;
2. ``edit``: one principle's critique request is reworded (``--principle``; default: the one drawn by the most
   chains of the sample) and the run repeated on the same cache: only the chains that drew it are redone, from the
   round that first drew it. vLLM's prefix cache is reset
   first, so the re-run gains nothing from the full run's KV blocks.

The engine's start-up and a warm-up (two other prompts, one round, their own cache) are outside both clocks.
Reported: seconds, generations, revisions/s, generated tokens/s of the full run; seconds, generations and chains
redone of the edit, and the edit/full fractions; the median over ``--repeats``.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_revise.py --prompts 32 --rounds 2 --max-tokens 96 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import run_isolated, write_results  # noqa: E402


def _reworded(constitution, principle: str):
    """The constitution with one principle's critique request reworded (as the loader resolves an edited file)."""
    edit = {"critique": "Point out, as concretely as you can, what in the reply falls short here: " + constitution.principle(principle).text}
    return constitution.model_copy(
        update={"principles": tuple(p.model_copy(update=edit) if p.id == principle else p for p in constitution.principles)}
    )


def _generated_tokens(tokenizer, out: Path) -> int:
    """Tokens of every text the run wrote (initial replies, critiques, revisions)."""
    texts = []
    for line in (out / "chains.jsonl").read_text().splitlines():
        chain = json.loads(line)
        texts += [chain["response"]] if chain["response_source"] == "policy" else []
        texts += [t for r in chain["rounds"] for t in (r["critique"], r["revision"])]
    return sum(len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"])


def run_once(n_prompts: int, rounds: int, max_tokens: int, dtype: str, principle: str | None) -> dict:
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    from collections import Counter

    from constitution.generation import prompt_id
    from constitution.llm.config import VllmConfig
    from constitution.llm.vllm_backend import VllmBackend
    from constitution.loader import load_constitution
    from constitution.resources import default_principles, demo_prompts
    from constitution.revise import GenerationCache, ReviseConfig, Reviser, load_inputs, round_principles

    items = load_inputs(demo_prompts())
    sample, spare = items[:n_prompts], items[n_prompts : n_prompts + 2]
    backend = VllmBackend(VllmConfig(dtype=dtype, kvcache_gib=2))
    config = ReviseConfig(policy=backend.config, rounds=rounds, max_tokens=max_tokens, batch_size=max(n_prompts, 1))
    shipped = load_constitution(default_principles())
    drawn = [{p.id for p in round_principles(shipped, prompt_id(i.conversation), rounds, config.seed)} for i in sample]
    principle = principle or Counter(pid for ids in drawn for pid in ids).most_common(1)[0][0]
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        with GenerationCache(tmp_path / "warm-up.sqlite") as cache:  # the engine's first batches are slow: not timed
            Reviser(shipped, backend, cache, config.model_copy(update={"rounds": 1})).run(spare, tmp_path / "warm-up")
        backend.llm.reset_prefix_cache()
        edited = _reworded(shipped, principle)
        with GenerationCache(tmp_path / "generations.sqlite") as cache:
            start = time.perf_counter()
            full = Reviser(shipped, backend, cache, config).run(sample, tmp_path / "full")
            full_s = time.perf_counter() - start
            assert not full.cached, "the generation cache was not empty"
            backend.llm.reset_prefix_cache()
            start = time.perf_counter()
            edit = Reviser(edited, backend, cache, config).run(sample, tmp_path / "edit")
            edit_s = time.perf_counter() - start
        tokens = _generated_tokens(backend.tokenizer, tmp_path / "full")
    backend.close()
    full_n, edit_n = sum(full.generated.values()), sum(edit.generated.values())
    drew = sum(1 for ids in drawn if principle in ids)
    revisions = full.generated.get("revision", 0)
    return {
        "prompts": len(sample), "rounds": rounds, "max_tokens": max_tokens, "chains": full.chains, "skipped": full.skipped,
        "full_seconds": full_s, "full_generations": full_n, "revisions": revisions,
        "revisions_per_s": revisions / full_s, "generations_per_s": full_n / full_s,
        "generated_tokens": tokens, "tokens_per_s": tokens / full_s,
        "edited": principle, "chains_that_drew_it": drew,
        "edit_seconds": edit_s, "edit_generations": edit_n, "edit_generated_by_step": edit.generated,
        "time_fraction": edit_s / full_s, "generation_fraction": edit_n / full_n, "chain_fraction": drew / max(full.chains, 1),
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=32, help="first N demo prompts (of 156)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=96, help="per reply, critique and revision")
    parser.add_argument("--repeats", type=int, default=3, help="each in a fresh process (new engine, new caches)")
    parser.add_argument("--principle", default=None, help="the principle whose critique is reworded (default: the most drawn)")
    parser.add_argument("--dtype", default="auto", help="policy weights (default auto: bf16 where native, else fp32)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    runs = []
    for repeat in range(args.repeats):
        result = run_isolated(
            run_once, n_prompts=args.prompts, rounds=args.rounds, max_tokens=args.max_tokens, dtype=args.dtype, principle=args.principle
        )
        result["repeat"] = repeat
        print(result, flush=True)
        runs.append(result)
    keys = ("full_seconds", "revisions_per_s", "generations_per_s", "tokens_per_s", "edit_seconds", "time_fraction", "generation_fraction")
    summary = {key: statistics.median(r[key] for r in runs) for key in keys}
    blob = {"settings": vars(args) | {"out": str(args.out)}, "summary": summary, "runs": runs}
    write_results(args.out, "bench_revise", blob)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
