"""``constitution best-of-n PROMPTS --model RM_DIR --out FILE``: n samples per prompt, keep the highest reward.

With several --model folders the ensemble's conservative reward (mean − k·std) picks the winner. --constitution
weighs a per-principle model's heads. A process reward model (`train --kind process`) picks by the aggregate of
each candidate's step scores (steps split at its separator)."""

from __future__ import annotations

import argparse
from pathlib import Path

from constitution.cli._common import write_jsonl
from constitution.cli._flags import add_fields, given
from constitution.cli._heads_flag import add_heads_constitution_flag, heads_constitution
from constitution.cli._llm_flags import add_llm_flags, llm_from_args
from constitution.generation import GenerationConfig

SAMPLING = ["max_tokens", "temperature", "seed"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("best-of-n", help="best-of-n sampling with the reward model", description=__doc__)
    p.add_argument("prompts", help="prompts file (JSONL/CSV/TXT/Parquet, a `prompt` column)")
    p.add_argument("--model", action="append", required=True, help="reward model folder (repeat for an ensemble)")
    p.add_argument("--k", type=float, default=1.0, help="ensemble: conservative reward mean - k*std")
    add_heads_constitution_flag(p)
    p.add_argument("--n", type=int, default=4, help="candidates per prompt (default 4)")
    p.add_argument("--out", required=True, help="output JSONL: candidates, rewards and the best per prompt")
    add_fields(p.add_argument_group("sampling"), GenerationConfig, SAMPLING)
    add_llm_flags(p, "policy", model_flag="--policy", skip=("seed",))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from constitution.best_of_n import best_of_n
    from constitution.generation import load_prompts
    from constitution.llm.factory import make_llm
    from constitution.rl.process_reward import load_reward

    sampling = {**GenerationConfig().model_dump(include=set(SAMPLING)), **given(args, SAMPLING)}
    prompts = load_prompts(args.prompts)
    reward = load_reward(args.model, k=args.k, constitution=heads_constitution(args.constitution))
    policy = make_llm(llm_from_args(args, "policy", seed=sampling["seed"]))
    try:
        results = best_of_n(prompts, policy, reward, n=args.n, **sampling)
    finally:
        policy.close()
    out = write_jsonl(Path(args.out), (r.model_dump_json() for r in results))
    gain = sum(r.best_reward - sum(r.rewards) / len(r.rewards) for r in results) / len(results)
    print(f"{len(results)} prompts, n={args.n}: mean reward of the best {sum(r.best_reward for r in results) / len(results):.3f}, "
          f"{gain:+.3f} over the mean candidate; wrote {out}")
    return 0
