"""``constitution init DIR``: copy the constitution shipped with the package into DIR, to edit it."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from constitution.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("init", help="copy the default constitution out for editing", description=__doc__)
    p.add_argument("dir", nargs="?", default="principles", help="folder to create (default: principles)")
    p.add_argument("--force", action="store_true", help="overwrite the files of a folder that already has them")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from constitution.resources import default_principles

    out = Path(args.dir)
    source = default_principles()
    clashes = [f.name for f in source.iterdir() if (out / f.name).exists()]
    if clashes and not args.force:
        raise InputError(f"already has {', '.join(sorted(clashes))}; pass --force to overwrite", where=str(out))
    out.mkdir(parents=True, exist_ok=True)
    for f in sorted(source.iterdir()):
        if f.is_file():
            shutil.copyfile(f, out / f.name)
    print(f"wrote the default constitution to {out}/; edit it, then `constitution validate {out}`")
    return 0
