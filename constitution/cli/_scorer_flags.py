"""The scorer flags of ``classify`` and ``eval-safety``: ``--model RM_DIR`` (reward mode) or ``--judge [MODEL]``
(judge mode, with the judge backend's flags and the constitution's safety policy). In reward mode, ``--constitution``
weighs a per-principle model's heads."""

from __future__ import annotations

import argparse

from constitution.cli._common import add_constitution_flag, constitution_path
from constitution.cli._llm_flags import add_llm_flags, llm_from_args
from constitution.embedded_models import JUDGE_ALIAS


def add_scorer_flags(p: argparse.ArgumentParser) -> None:
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--model", help="reward mode: a trained reward model folder")
    mode.add_argument("--judge", dest="judge_model", nargs="?", const=JUDGE_ALIAS, help=f"judge mode: the judge model (default {JUDGE_ALIAS})")
    add_constitution_flag(p)
    p.add_argument("--batch-size", type=int, default=64, help="reward mode: responses per forward pass (default 64)")
    add_llm_flags(p, "judge", model_flag=None)


def scorer_from_args(args: argparse.Namespace):
    """The scorer the flags name."""
    from constitution.safety.factory import make_scorer

    if args.model:  # --constitution: the weights of a per-principle model's heads (default: its training weights)
        categories = getattr(args, "categories", False)  # classify --categories: the model's category heads
        return make_scorer(model=args.model, batch_size=args.batch_size, constitution=args.constitution, categories=categories)
    return make_scorer(judge=llm_from_args(args, "judge"), constitution=constitution_path(args.constitution))
