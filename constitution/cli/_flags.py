"""Command-line flags built from pydantic config fields, so a default or a description is written once.

``add_fields`` adds one ``--kebab-case`` option per field (help = the field's description and its default), all with
``default=None``: a flag only overrides what it was given, and the config model supplies every default.
``given`` collects the flags that were given, by field name; ``build`` validates them into the config, turning a
validation error into an :class:`InputError` that names the flag.
"""

from __future__ import annotations

import argparse
import types
import typing
from collections.abc import Iterable
from typing import Any, Literal, TypeVar, Union

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from constitution.errors import InputError

M = TypeVar("M", bound=BaseModel)


def flag_name(field: str) -> str:
    """``max_model_len`` -> ``--max-model-len``."""
    return "--" + field.replace("_", "-")


def _unwrap_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _default_text(field: FieldInfo) -> str:
    if field.default is not PydanticUndefined:
        return repr(field.default) if isinstance(field.default, str) else str(field.default)
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
        return "none" if value in ([], {}) else str(value)
    return "required"


def _option(field: FieldInfo, metavar: str, suffix: str = "") -> dict[str, Any]:
    """argparse keyword arguments for a field's type."""
    help_text = f"{field.description or ''} (default: {_default_text(field)}){suffix}".strip()
    kwargs: dict[str, Any] = {"default": None, "help": help_text.replace("%", "%%"), "metavar": metavar}
    annotation = _unwrap_optional(field.annotation)
    origin = typing.get_origin(annotation)
    if annotation is bool:
        kwargs["action"] = argparse.BooleanOptionalAction
        del kwargs["metavar"]
    elif origin is Literal:
        kwargs["choices"] = list(typing.get_args(annotation))
        del kwargs["metavar"]
    elif origin is list:
        kwargs["action"] = "append"
    elif origin is tuple:
        items = typing.get_args(annotation)
        kwargs["nargs"] = len(items)
        kwargs["type"] = items[0]
    elif annotation in (int, float, str):
        kwargs["type"] = annotation
    return kwargs


def add_fields(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    model: type[BaseModel],
    fields: Iterable[str] | None = None,
    *,
    names: dict[str, str] | None = None,
    prefix: str = "",
    suffix: str = "",
    skip: Iterable[str] = (),
    seen: set[str] | None = None,
) -> None:
    """One option per field of ``model`` (``fields`` to pick some; ``names`` to rename a flag; ``dest`` is
    ``prefix + field``; ``seen`` collects the dests added, so a field shared by several models is added once)."""
    names = names or {}
    chosen = list(fields) if fields is not None else list(model.model_fields)
    for name in chosen:
        if name in skip:
            continue
        dest = prefix + name
        if seen is not None:
            if dest in seen:
                continue
            seen.add(dest)
        field = model.model_fields[name]
        flag = names.get(name, flag_name(name))
        parser.add_argument(flag, dest=dest, **_option(field, flag[2:].replace("-", "_").upper(), suffix))


def given(args: argparse.Namespace, fields: Iterable[str], prefix: str = "") -> dict[str, Any]:
    """The fields whose flags were given on the command line."""
    out = {}
    for name in fields:
        value = getattr(args, prefix + name, None)
        if value is not None:
            out[name] = value
    return out


def build(model: type[M], values: dict[str, Any], what: str, names: dict[str, str] | None = None) -> M:
    """Validate ``values`` into ``model``; an error names the flag (``names`` maps fields to flags)."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(x) for x in first["loc"]]
        field = loc[-1] if loc and loc[-1] in model.model_fields else (loc[0] if loc else "")
        flag = (names or {}).get(field, flag_name(field)) if field else what
        raise InputError(f"{what}: {flag}: {first['msg']}") from exc
