"""Reward scoring in fp32 against bf16 (issue 32 §0): speed, batch invariance and distance from fp32, one run.

Arms, interleaved within each round on the same texts (both sides of HH-RLHF harmless test pairs):
- ``fp32``: length-sorted batches (the library's fp32 path);
- ``bf16_fixed_shape``: the library's bf16 path, every forward pass one shape per input length (batch-invariant);
- ``bf16_variable_shape``: bf16 autocast over the fp32 path's batches (what the library did before; reproduced here,
  not in the library) - the speed that batch invariance costs.
Two workloads: ``offline`` (all texts in one call, as ``score`` / ``eval`` / best-of-n) and ``server`` (calls of 8
texts, as a reward service's arrival batches). Per arm: texts/s per round, the median and spread over rounds, and
the per-round ratio to fp32; the largest change of a text's reward between scoring it alone and in the workload's
batches; the largest distance from fp32, absolute and as a share of the rewards' standard deviation.

Full run:  python benchmarks/bench_reward_dtype.py --n 512 --rounds 5 --out benchmarks/results
Smoke run: python benchmarks/bench_reward_dtype.py --n 32 --rounds 1 --out /tmp/bench_dtype
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HH, hh_split, write_results  # noqa: E402
from bench_scoring import untrained_reward_folder  # noqa: E402

ARMS = ("fp32", "bf16_fixed_shape", "bf16_variable_shape")


def variable_shape_bf16(rm, texts: list[str], batch_size: int) -> list[float]:
    """bf16 autocast over length-sorted batches padded to their longest row (the library before issue 32 §0)."""
    import numpy as np
    import torch

    from constitution.batching import length_sorted_batches
    from constitution.reward.inputs import pad_batch
    from constitution.reward.model import MIN_FILL

    ids = rm.encode(texts)
    out = np.zeros(len(ids))
    budget = batch_size * rm.metadata.max_length
    with torch.inference_mode():
        for batch in length_sorted_batches([len(s) for s in ids], batch_size, max_tokens=budget, max_rows=4 * batch_size, min_fill=MIN_FILL):
            inputs = pad_batch([ids[i] for i in batch], rm.tokenizer.pad_token_id)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out[batch] = rm.model(**inputs).logits[:, 0].float().numpy()
    return out.tolist()


def score(arm: str, models: dict, texts: list[str], call: int, batch_size: int) -> list[float]:
    """Rewards for ``texts`` in calls of ``call`` texts."""
    out: list[float] = []
    for i in range(0, len(texts), call):
        part = texts[i : i + call]
        if arm == "bf16_variable_shape":
            out += variable_shape_bf16(models["fp32"], part, batch_size)
        else:
            out += models[arm].score(part, batch_size=batch_size)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(HH))
    parser.add_argument("--n", type=int, default=512, help="responses to score")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--server-call", type=int, default=8, help="texts per call in the server workload")
    parser.add_argument("--alone", type=int, default=32, help="texts also scored one by one (invariance check)")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--out", default="runs/bench_reward_dtype")
    a = parser.parse_args()

    import numpy as np

    from constitution.reward.model import RewardModel

    _, test = hh_split(Path(a.data), 0, None)
    folder = untrained_reward_folder(Path(tempfile.mkdtemp()), a.max_length)
    models = {"fp32": RewardModel.load(folder, bf16=False), "bf16_fixed_shape": RewardModel.load(folder, bf16=True)}
    items = [(p.prompt, r) for p in test for r in (p.response_a, p.response_b)][: a.n]
    texts = models["fp32"].texts(items)
    workloads = {"offline": len(texts), "server": a.server_call}
    for arm in ARMS:  # warm-up
        score(arm, models, texts[:8], 8, a.batch_size)

    seconds: dict[str, dict[str, list[float]]] = {w: {arm: [] for arm in ARMS} for w in workloads}
    rewards: dict[str, dict[str, list[float]]] = {w: {} for w in workloads}
    for r in range(a.rounds):
        for w, call in workloads.items():
            for arm in ARMS:
                t0 = time.perf_counter()
                rewards[w][arm] = score(arm, models, texts, call, a.batch_size)
                seconds[w][arm].append(time.perf_counter() - t0)
        print(f"round {r + 1}/{a.rounds}: " + ", ".join(f"{w} {arm} {seconds[w][arm][-1]:.1f}s" for w in workloads for arm in ARMS), flush=True)

    alone = {arm: score(arm, models, texts[: a.alone], 1, a.batch_size) for arm in ARMS}
    fp32 = np.asarray(rewards["offline"]["fp32"])
    result: dict = {"args": vars(a), "texts": len(texts), "mean_tokens": float(np.mean([len(s) for s in models["fp32"].encode(texts)])), "workloads": {}}
    for w in workloads:
        rows = {}
        for arm in ARMS:
            rate = [len(texts) / s for s in seconds[w][arm]]
            ratio = [f / s for f, s in zip(seconds[w]["fp32"], seconds[w][arm])]
            got = np.asarray(rewards[w][arm])
            rows[arm] = {
                "texts_per_second": rate, "texts_per_second_median": statistics.median(rate),
                "ratio_to_fp32_per_round": ratio, "ratio_to_fp32_median": statistics.median(ratio),
                "ratio_to_fp32_range": [min(ratio), max(ratio)],
                "max_abs_change_alone_vs_batched": float(np.max(np.abs(got[: a.alone] - np.asarray(alone[arm])))),
                "max_abs_diff_from_fp32": float(np.max(np.abs(got - fp32))),
                "max_diff_from_fp32_over_reward_std": float(np.max(np.abs(got - fp32)) / fp32.std()),
            }
        result["workloads"][w] = rows
    write_results(Path(a.out), "bench_reward_dtype", result)


if __name__ == "__main__":
    main()
