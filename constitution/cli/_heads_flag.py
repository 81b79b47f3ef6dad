"""``--constitution`` for the commands that score with a reward model: the weights of a per-principle model's heads."""

from __future__ import annotations

import argparse

HELP = (
    "per-principle reward model: weigh its heads by this constitution's principle weights (principles folder or "
    "file; a principle of positive weight without a head is an error); default: the weights it was trained with"
)


def add_heads_constitution_flag(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument("--constitution", default=None, help=HELP)


def heads_constitution(path: str | None):
    """The constitution at ``path``, or None (the model's training weights) when none was given."""
    if not path:
        return None
    from constitution.loader import load_constitution

    return load_constitution(path)
