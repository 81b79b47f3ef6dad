"""``constitution validate [PATHS...]``: check principle files; print ``file:line: message`` per problem."""

from __future__ import annotations

import argparse
import sys

from constitution.errors import InputErrors
from constitution.principles import load_constitution


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="validate principle YAML files and templates", description=__doc__)
    p.add_argument("paths", nargs="*", default=["principles"], help="files or folders (default: principles/)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        constitution = load_constitution(list(args.paths))
    except InputErrors as exc:
        for err in exc.errors:
            print(err, file=sys.stderr)
        print(f"{len(exc.errors)} error(s)", file=sys.stderr)
        return 2
    sets = sorted({p.set_id for p in constitution.principles})
    policy = constitution.safety_policy
    print(
        f"ok: constitution {constitution.id!r}: {len(constitution.principles)} principles in {len(sets)} sets "
        f"({', '.join(sets)}), safety policy: {policy.id + f' ({len(policy.categories)} categories)' if policy else 'none'}, "
        f"sampling: {constitution.sampling.rule}, hash {constitution.hash}"
    )
    return 0
