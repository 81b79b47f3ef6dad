"""``constitution render``: print the exact judge prompt for one principle and one pair, and its token count."""

from __future__ import annotations

import argparse

from constitution.cli._common import add_constitution_flag, constitution_path
from constitution.errors import InputError
from constitution.embedded_models import JUDGE_ALIAS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("render", help="show the judge prompt for one pair and principle", description=__doc__)
    p.add_argument("--pairs", required=True, help="pairs file (JSONL/Parquet/CSV/datasets folder)")
    p.add_argument("--row", type=int, default=0, help="0-based pair index (default 0)")
    p.add_argument("--principle", help="principle id (required unless --kind safety)")
    add_constitution_flag(p)
    p.add_argument("--tokenizer", default=JUDGE_ALIAS, help=f"judge tokenizer: alias, folder or hub id (default {JUDGE_ALIAS}); 'none' for raw text")
    p.add_argument("--order", choices=["ab", "ba"], default="ab", help="which response is shown as (A)")
    p.add_argument("--kind", choices=["comparison", "cot", "safety"], default="comparison")
    p.add_argument("--category", help="safety category id (with --kind safety)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from constitution.data.pairs import PairReader
    from constitution.loader import load_constitution
    from constitution.prompts import comparison_prompt, safety_prompt

    constitution = load_constitution(constitution_path(args.constitution))
    if args.row < 0:
        raise InputError(f"--row must be >= 0, got {args.row}")
    pair = next((p for i, p in enumerate(PairReader(args.pairs, limit=args.row + 1)) if i == args.row), None)
    if pair is None:
        raise InputError(f"--row {args.row} is out of range: the file has fewer pairs", where=args.pairs)
    tokenizer = None
    if args.tokenizer.lower() != "none":
        from transformers import AutoTokenizer

        from constitution.embedded_models import resolve_model

        tokenizer = AutoTokenizer.from_pretrained(resolve_model(args.tokenizer))
    if args.kind == "safety":
        prompt = safety_prompt(constitution, pair.prompt, pair.response_a, tokenizer, args.category)
    else:
        if not args.principle:
            raise InputError("--principle is required for comparison prompts")
        principle = constitution.principle(args.principle)
        prompt = comparison_prompt(constitution, principle, pair, args.order, tokenizer, kind=args.kind)
    print(prompt.text)
    print("-" * 72)
    count = f"{len(tokenizer(prompt.text, add_special_tokens=False)['input_ids'])} tokens ({args.tokenizer})" if tokenizer else "no tokenizer"
    print(f"principle: {prompt.principle_id}  order: {prompt.order}  options: {list(prompt.options)}  {count}")
    return 0
