"""Config files for every command that takes ``--config``: YAML (JSON is YAML too), validated by a pydantic model,
with ``file:line`` and the key in every error."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from constitution.errors import InputError, InputErrors
from constitution.yaml_lines import load_located_yaml, validate_located

M = TypeVar("M", bound=BaseModel)


def load_config_file(model: type[M], path: str | Path, overrides: dict | None = None) -> M:
    """Read ``path`` into ``model``; ``overrides`` (e.g. flags given on the command line) replace top-level keys."""
    doc = load_located_yaml(Path(path))
    if doc.data is None:
        doc.data = {}
    if not isinstance(doc.data, dict):
        raise InputError("expected a mapping of settings", where=doc.where(()))
    doc.data = {**doc.data, **(overrides or {})}
    config, errors = validate_located(model, doc)
    if errors:
        raise InputErrors(errors)
    return config  # type: ignore[return-value]
