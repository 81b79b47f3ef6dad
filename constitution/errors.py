"""Error types shared by the library and the CLI (exit code 2 = invalid input, 1 = anything else)."""

from __future__ import annotations


class InputError(ValueError):
    """Invalid user input; the message names the file and line, or the row, that is wrong."""

    def __init__(self, message: str, *, where: str | None = None) -> None:
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class InputErrors(InputError):
    """Several input errors found in one pass (e.g. every problem in a principles folder)."""

    def __init__(self, errors: list[InputError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))
