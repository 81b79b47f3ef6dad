"""``constitution generate PROMPTS --out FILE --policy MODEL``: sample n responses per prompt from a policy model
and append pairs {id, prompt, response_a, response_b} to a JSONL file; a rerun resumes where it stopped."""

from __future__ import annotations

import argparse
import json

from constitution.cli._flags import add_fields, build, given
from constitution.cli._llm_flags import add_llm_flags, llm_from_args
from constitution.generation import GenerationConfig

SAMPLING = ["n", "pairing", "max_tokens", "temperature", "seed", "batch_size"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``generate`` parser."""
    p = subparsers.add_parser(
        "generate", help="sample n responses per prompt from a policy and write response pairs (JSONL)", description=__doc__
    )
    p.add_argument("prompts", metavar="PROMPTS", help="JSONL/JSON/CSV/Parquet with a 'prompt' column, or .txt")
    p.add_argument("--out", required=True, help="output JSONL (appended to; a rerun skips prompts already done)")
    add_fields(p.add_argument_group("sampling"), GenerationConfig, SAMPLING)
    add_llm_flags(p, "policy", model_flag="--policy", skip=("seed",))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Generate pairs and print a JSON summary."""
    from constitution.generation import generate_pairs

    sampling = given(args, SAMPLING)
    policy = llm_from_args(args, "policy", **({"seed": sampling["seed"]} if "seed" in sampling else {}))
    config = build(GenerationConfig, {**sampling, "policy": policy}, "generate")
    report = generate_pairs(config, args.prompts, args.out)
    print(json.dumps(report.model_dump()))
    return 0
