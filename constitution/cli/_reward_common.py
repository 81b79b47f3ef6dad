"""Helpers shared by the reward commands (train, eval, score)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pydantic import ValidationError

from constitution.errors import InputError

T = TypeVar("T")


def validated(build: Callable[[], T], what: str) -> T:
    """Build a pydantic object; a validation error becomes an InputError (exit 2) naming the field."""
    try:
        return build()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(x) for x in first["loc"])
        raise InputError(f"{what}: {field}: {first['msg']}") from exc
