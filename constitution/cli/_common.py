"""What several commands share: where the constitution comes from, and atomic JSONL output."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path

from constitution.atomic import atomic_write_lines
from constitution.errors import InputErrors


def add_constitution_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--constitution",
        default=None,
        help="principles folder or file (default: ./principles if it exists, else the constitution shipped with "
        "the package; `constitution init DIR` copies that one out for editing)",
    )


def constitution_path(given: str | None) -> Path:
    """The constitution to use (:func:`constitution.sources.find_constitution`); the packaged default is said on stderr."""
    from constitution.resources import default_principles
    from constitution.sources import find_constitution

    path = find_constitution(given)
    if not given and path == default_principles():
        print(f"note: using the default constitution ({path}); `constitution init principles` copies it here to edit", file=sys.stderr)
    return path


def write_jsonl(out: Path, lines: Iterable[str]) -> Path:
    """Write JSON lines to ``out`` atomically (a crash leaves the old file or the new one)."""
    return atomic_write_lines(out, (line + "\n" for line in lines))


def print_errors(exc: InputErrors, what: str = "") -> None:
    """Every error on its own ``file:line: message`` line (stderr), then how many, as ``validate`` prints them."""
    for err in exc.errors:
        print(err, file=sys.stderr)
    print(f"{len(exc.errors)} error(s)" + (f" in {what}" if what else ""), file=sys.stderr)
