"""``constitution best-of-n PROMPTS --model RM_DIR --out FILE``: n samples per prompt, keep the highest reward.

With several --model folders the ensemble's conservative reward (mean − k·std) picks the winner."""

from __future__ import annotations

import argparse
from pathlib import Path

from constitution.best_of_n import best_of_n
from constitution.feedback.base import JudgeConfig, make_backend
from constitution.generation import load_prompts
from constitution.models import JUDGE_ALIAS
from constitution.rl import RewardFunction


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("best-of-n", help="best-of-n sampling with the reward model", description=__doc__)
    p.add_argument("prompts", help="prompts file (JSONL/CSV/TXT/Parquet, a `prompt` column)")
    p.add_argument("--model", action="append", required=True, help="reward model folder (repeat for an ensemble)")
    p.add_argument("--k", type=float, default=1.0, help="ensemble: conservative reward mean - k*std")
    p.add_argument("--policy", default=JUDGE_ALIAS, help=f"policy model (default {JUDGE_ALIAS})")
    p.add_argument("--backend", choices=["vllm", "hf"], default="vllm")
    p.add_argument("--n", type=int, default=4)
    p.add_argument("--max-tokens", type=int, default=128)
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output JSONL: candidates, rewards and the best per prompt")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    prompts = load_prompts(args.prompts)
    reward = RewardFunction.load(args.model, k=args.k)
    policy = make_backend(JudgeConfig(backend=args.backend, model=args.policy, seed=args.seed))
    try:
        results = best_of_n(prompts, policy, reward, n=args.n, max_tokens=args.max_tokens, temperature=args.temperature, seed=args.seed)
    finally:
        policy.close()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(r.model_dump_json() + "\n" for r in results))
    gain = sum(r.best_reward - sum(r.rewards) / len(r.rewards) for r in results) / len(results)
    print(f"{len(results)} prompts, n={args.n}: mean reward of the best {sum(r.best_reward for r in results) / len(results):.3f}, "
          f"{gain:+.3f} over the mean candidate; wrote {out}")
    return 0
