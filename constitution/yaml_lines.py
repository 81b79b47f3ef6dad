"""YAML loading that remembers where every key and item came from, so errors can name file:line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from constitution.errors import InputError

Loc = tuple[str | int, ...]


class LocatedYaml:
    """Parsed YAML data plus the 1-based line of every key path (``("principles", 3, "text")`` -> 12)."""

    def __init__(self, path: Path, data: Any, lines: dict[Loc, int]) -> None:
        self.path = path
        self.data = data
        self.lines = lines

    def line_of(self, loc: Loc) -> int:
        """Line of the longest known prefix of ``loc`` (a missing key reports its parent's line)."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return 1

    def where(self, loc: Loc) -> str:
        """``file:line`` for a key path."""
        return f"{self.path}:{self.line_of(loc)}"


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int], path: Path) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                raise InputError(f"duplicate key {key!r} (first at line {seen[key]})", where=f"{path}:{line}")
            seen[key] = line
            lines[loc + (key,)] = line
            _walk(value_node, loc + (key,), lines, path)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[loc + (index,)] = item.start_mark.line + 1
            _walk(item, loc + (index,), lines, path)


def load_located_yaml(path: Path) -> LocatedYaml:
    """Parse one YAML file; syntax errors and duplicate keys raise InputError with file:line."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError("not valid UTF-8", where=f"{path}:1") from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        # An unterminated quote or bracket is only noticed at the end of the file: point at where it started.
        at_end = "end of stream" in (exc.problem or "")
        mark = (exc.context_mark if at_end else None) or exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        what = "; ".join(part for part in (exc.context, exc.problem) if part)
        raise InputError(f"YAML syntax error: {what}", where=f"{path}:{line}") from exc
    except yaml.YAMLError as exc:
        raise InputError(f"YAML error: {exc}", where=f"{path}:1") from exc
    lines: dict[Loc, int] = {(): 1}
    if node is not None:
        _walk(node, (), lines, path)
    return LocatedYaml(path, data, lines)


def validate_located(model: type[BaseModel], doc: LocatedYaml) -> tuple[BaseModel | None, list[InputError]]:
    """Validate YAML data against a pydantic model; each error names file:line and the key path."""
    try:
        return model.model_validate(doc.data), []
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            key = ".".join(str(part) for part in loc) or "(top level)"
            errors.append(InputError(f"{key}: {err['msg']}", where=doc.where(loc)))
        return None, errors
