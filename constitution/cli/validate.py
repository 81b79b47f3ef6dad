"""``constitution validate [PATHS...]``: check principle files; print ``file:line: message`` per problem."""

from __future__ import annotations

import argparse

from constitution.cli._common import constitution_path, print_errors
from constitution.errors import InputErrors


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="validate principle YAML files and templates", description=__doc__)
    p.add_argument("paths", nargs="*", help="files or folders (default: ./principles, else the packaged constitution)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from constitution.loader import load_constitution

    try:
        constitution = load_constitution(list(args.paths) or [constitution_path(None)])
    except InputErrors as exc:
        print_errors(exc)
        return 2
    sets = sorted({p.set_id for p in constitution.principles})
    policy = constitution.safety_policy
    print(
        f"ok: constitution {constitution.id!r}: {len(constitution.principles)} principles in {len(sets)} sets "
        f"({', '.join(sets)}), safety policy: {policy.id + f' ({len(policy.categories)} categories)' if policy else 'none'}, "
        f"sampling: {constitution.sampling.rule}, hash {constitution.hash}"
    )
    return 0
