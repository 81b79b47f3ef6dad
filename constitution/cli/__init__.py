"""The ``constitution`` command: a thin layer over the library, one module per subcommand.

Each module in ``COMMANDS`` defines ``register(subparsers)``, which adds its parser and sets ``func`` to a
``run(args) -> int``. Modules import only configs at the top (no torch, transformers or vLLM), so ``--help`` and the
commands that need no model start fast. Exit codes: 0 success, 2 invalid input (the message names file:line or
row), 1 other failure.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from constitution.cli._suggest import SuggestingParser
from constitution.cli._verbosity import add_verbose_flag, quiet_libraries
from constitution.errors import InputError

COMMANDS = [
    "init",
    "validate",
    "render",
    "generate",
    "revise",
    "label",
    "label-steps",
    "diff",
    "run",
    "train",
    "eval",
    "score",
    "score-steps",
    "classify",
    "eval-safety",
    "best-of-n",
    "rl",
    "bench",
    "audit",
    "serve",
    "export",
]


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand registered."""
    parser = SuggestingParser(prog="constitution", description="Turn a written constitution into a reward model.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"constitution.cli.{name.replace('-', '_')}").register(sub)
    for command in sub.choices.values():
        add_verbose_flag(command)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse, run, and map errors to exit codes."""
    parser = build_parser()
    args = parser.parse_args(argv)
    quiet_libraries(args.verbose)
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:  # a path the user gave (--config, an input file) that is not there
        print(f"error: {exc.filename or exc}: no such file or folder", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI's last line of defence: one clear line, exit 1
        print(f"error: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 1
