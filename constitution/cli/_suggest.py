"""Did-you-mean for the command line (Python 3.11's argparse has no ``suggest_on_error``): a mistyped command,
choice or flag is refused with the close ones named."""

from __future__ import annotations

import argparse
import difflib
import re
from collections.abc import Iterable
from typing import NoReturn

# Python 3.11 quotes the word and the choices ('a', 'b'); newer versions print the choices bare (a, b)
_INVALID_CHOICE = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)")


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean X?)`` for the candidates close to ``word`` ("" when none is)."""
    close = difflib.get_close_matches(word, list(candidates), n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(close)}?)" if close else ""


class SuggestingParser(argparse.ArgumentParser):
    """An argument parser whose "invalid choice" errors name the close choices; its subcommands' parsers are too."""

    def error(self, message: str) -> NoReturn:
        match = _INVALID_CHOICE.search(message)
        if match:
            message += did_you_mean(match.group(1), [c.strip().strip("'") for c in match.group(2).split(",")])
        super().error(message)

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        """As argparse's, but an unrecognised flag is refused by its subcommand's parser, with the close flags."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            parser = self._command_parser(parsed)
            hints = "".join(did_you_mean(x.split("=")[0], parser._option_string_actions) for x in extras if x.startswith("-"))
            parser.error(f"unrecognized arguments: {' '.join(extras)}{hints}")
        return parsed

    def _command_parser(self, parsed: argparse.Namespace) -> argparse.ArgumentParser:
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                return action.choices.get(getattr(parsed, action.dest, None), self)
        return self
