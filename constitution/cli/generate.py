"""``constitution generate PROMPTS --out FILE --policy MODEL``: sample response pairs from a policy model."""

from __future__ import annotations

import argparse
import json

from constitution.generation import GenerationConfig, generate_pairs
from constitution.models import JUDGE_ALIAS


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``generate`` parser."""
    p = subparsers.add_parser(
        "generate",
        help="sample n responses per prompt from a policy and write response pairs (JSONL)",
        description="Sample n responses per prompt from a policy model and append pairs "
        "{id, prompt, response_a, response_b} to a JSONL file; a rerun resumes where it stopped.",
    )
    p.add_argument("prompts", metavar="PROMPTS", help="JSONL/JSON/CSV/Parquet with a 'prompt' column, or .txt")
    p.add_argument("--out", required=True, help="output JSONL (appended to; a rerun skips prompts already done)")
    p.add_argument("--policy", default=JUDGE_ALIAS, help=f"model alias, folder or hub id (default {JUDGE_ALIAS})")
    p.add_argument("--n", type=int, default=2, help="samples per prompt (>= 2)")
    p.add_argument(
        "--pairing", choices=["consecutive", "all"], default="consecutive",
        help="n > 2: pair samples (0,1),(2,3),... (default) or every combination",
    )  # fmt: skip
    p.add_argument("--backend", choices=["vllm", "hf"], default="vllm")
    p.add_argument("--max-tokens", type=int, default=128)
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=16, help="prompts per backend call")
    p.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Generate pairs and print a JSON summary."""
    from pydantic import ValidationError

    from constitution.errors import InputError

    try:
        config = GenerationConfig(
            policy=args.policy, backend=args.backend, n=args.n, pairing=args.pairing, max_tokens=args.max_tokens,
            temperature=args.temperature, seed=args.seed, batch_size=args.batch_size, dtype=args.dtype,
        )  # fmt: skip
    except ValidationError as exc:
        raise InputError(f"invalid option: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}") from exc
    report = generate_pairs(config, args.prompts, args.out)
    print(json.dumps(report.model_dump()))
    return 0
