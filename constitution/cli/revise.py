"""``constitution revise INPUT --out DIR``: Constitutional AI's supervised stage. For each prompt and reply, a
principle is drawn per round; the policy critiques the reply by the principle's critique request, then rewrites it
by its revision request, for --rounds rounds.

INPUT: rows with ``prompt`` and ``response`` (or ``completion``), or prompts alone (a ``prompt`` column, or a .txt
file with one a line) that the policy answers first. DIR receives ``sft.jsonl`` (TRL's conversational
prompt/completion columns: the final revisions for SFTTrainer), ``chains.jsonl`` (every reply, principle, critique
and revision), ``pairs.jsonl`` (original vs final revision, for ``constitution label``), ``skipped.jsonl``,
``summary.json`` and, unless --cache moves it, ``generations.sqlite``: the generation cache that lets a killed run
resume and an edited principle redo only the chains that drew it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from constitution.cli._common import add_constitution_flag, constitution_path
from constitution.cli._flags import add_fields, build, given
from constitution.cli._llm_flags import add_llm_flags, llm_from_args
from constitution.revise.config import ReviseConfig

SETTINGS = ["rounds", "max_tokens", "temperature", "seed", "batch_size"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``revise`` parser."""
    p = sub.add_parser(
        "revise", help="critique and revise replies by the constitution (CAI's supervised stage)", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("input", metavar="INPUT", help="JSONL/JSON/CSV/Parquet with 'prompt' (+ 'response'), or .txt prompts")
    p.add_argument("--out", required=True, help="output folder")
    add_constitution_flag(p)
    p.add_argument("--limit", type=int, default=None, help="revise only the first N inputs")
    p.add_argument("--cache", default=None, help="generation cache (default OUT/generations.sqlite)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_fields(p.add_argument_group("revision"), ReviseConfig, SETTINGS)
    add_llm_flags(p, "policy", model_flag="--policy", skip=("seed",))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Revise, write the folder, print the summary as JSON."""
    import sys

    from tqdm import tqdm

    from constitution.llm.factory import make_llm
    from constitution.loader import load_constitution
    from constitution.revise import GenerationCache, Reviser, load_inputs

    constitution = load_constitution(constitution_path(args.constitution))
    settings = given(args, SETTINGS)
    policy = llm_from_args(args, "policy", **({"seed": settings["seed"]} if "seed" in settings else {}))
    config = build(ReviseConfig, {**settings, "policy": policy}, "revise")
    items = load_inputs(args.input, limit=args.limit)  # bad input stops here, before the policy loads
    out = Path(args.out)
    llm = make_llm(config.policy)
    try:
        with GenerationCache(args.cache or out / "generations.sqlite") as cache, tqdm(
            total=len(items), unit="chain", disable=args.no_progress, file=sys.stderr
        ) as bar:
            summary = Reviser(constitution, llm, cache, config).run(items, out, progress=bar.update)
    finally:
        llm.close()
    print(json.dumps(summary.model_dump()))
    return 0
