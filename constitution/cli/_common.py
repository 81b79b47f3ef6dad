"""What several commands share: where the constitution comes from, and atomic JSONL output."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path

from constitution.atomic import atomic_write_lines


def add_constitution_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--constitution",
        default=None,
        help="principles folder or file (default: ./principles if it exists, else the constitution shipped with "
        "the package; `constitution init DIR` copies that one out for editing)",
    )


def constitution_path(given: str | None) -> Path:
    """The ``--constitution`` given, else ``./principles`` when it exists, else the packaged default (said on stderr)."""
    if given:
        return Path(given)
    local = Path("principles")
    if local.is_dir():
        return local
    from constitution.resources import default_principles

    path = default_principles()
    print(f"note: using the constitution shipped with the package ({path}); `constitution init principles` copies it here to edit", file=sys.stderr)
    return path


def write_jsonl(out: Path, lines: Iterable[str]) -> Path:
    """Write JSON lines to ``out`` atomically (a crash leaves the old file or the new one)."""
    return atomic_write_lines(out, (line + "\n" for line in lines))
