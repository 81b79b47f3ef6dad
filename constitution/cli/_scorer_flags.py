"""The scorer flags of ``classify`` and ``eval-safety``: ``--model RM_DIR`` (reward mode) or ``--judge [MODEL]``
(judge mode, with the judge backend's flags and the constitution's safety policy). In reward mode, ``--constitution``
weighs a per-principle model's heads."""

from __future__ import annotations

import argparse

from constitution.cli._common import add_constitution_flag, constitution_path
from constitution.cli._flags import add_fields, build, given
from constitution.cli._heads_flag import heads_constitution
from constitution.cli._llm_flags import add_llm_flags, llm_from_args
from constitution.embedded_models import JUDGE_ALIAS
from constitution.safety.config import ScorerConfig


def add_scorer_flags(p: argparse.ArgumentParser) -> None:
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--model", help="reward mode: a trained reward model folder")
    mode.add_argument("--judge", dest="judge_model", nargs="?", const=JUDGE_ALIAS, help=f"judge mode: the judge model (default {JUDGE_ALIAS})")
    add_constitution_flag(p)
    add_fields(p, ScorerConfig)
    add_llm_flags(p, "judge", model_flag=None)


def scorer_from_args(args: argparse.Namespace):
    """The scorer the flags name."""
    from constitution.loader import load_constitution
    from constitution.safety.factory import make_scorer

    config = build(ScorerConfig, given(args, ScorerConfig.model_fields), "scorer")
    if args.model:  # --constitution: the weights of a per-principle model's heads (default: its training weights)
        categories = getattr(args, "categories", False)  # classify --categories: the model's category heads
        return make_scorer(model=args.model, batch_size=config.batch_size, constitution=heads_constitution(args.constitution), categories=categories)
    return make_scorer(judge=llm_from_args(args, "judge"), constitution=load_constitution(constitution_path(args.constitution)))
