"""Flags for one model role of a command (the judge or the policy), built from the backends' config fields.

Shared fields (dtype, seed, max-model-len) and each backend's own fields are grouped in ``--help``; a flag that
belongs to another backend than the one chosen is an error that says which backend reads it. The API key of the
``openai`` backend falls back to ``$CONSTITUTION_JUDGE_API_KEY`` (keeps it out of the process list); the service's
own key, ``$CONSTITUTION_API_KEY``, is never sent to judge endpoints.
"""

from __future__ import annotations

import argparse
import os

from constitution.cli._flags import add_fields, build, flag_name
from constitution.errors import InputError
from constitution.labeling import reward_judge  # noqa: F401  (registers backend "reward" before --backend is built)
from constitution.llm.config import DEFAULT_BACKEND, backend, backends
from constitution.embedded_models import JUDGE_ALIAS

API_KEY_ENV = "CONSTITUTION_API_KEY"  # the service's key (`constitution serve`)
JUDGE_API_KEY_ENV = "CONSTITUTION_JUDGE_API_KEY"  # the bearer token sent to `--backend openai` judge endpoints
NAMES = {"batch_size": "--hf-batch-size", "base_urls": "--base-url"}


def add_llm_flags(
    parser: argparse.ArgumentParser,
    role: str,
    *,
    model_flag: str | None,
    skip: tuple[str, ...] = (),
) -> None:
    """``model_flag`` (e.g. ``--judge``; None when the command adds its own), ``--backend`` (the registered backends;
    for the ``policy`` role those that generate) and the backends' fields: those of every backend first, then those
    of some backends, each marked with the backends that read it."""
    names = backends(generates=True if role == "policy" else None)
    prefix = f"{role}_"
    group = parser.add_argument_group(f"{role} model")
    if model_flag:
        group.add_argument(model_flag, dest=f"{prefix}model", default=None, metavar="MODEL", help=f"alias, local folder or hub id (default: {JUDGE_ALIAS})")
    group.add_argument("--backend", dest=f"{prefix}backend", choices=list(names), default=None, help=f"default: {DEFAULT_BACKEND}")
    readers: dict[str, list[str]] = {}
    for name in names:
        for field in backend(name).config.model_fields:
            if field not in ("model", "backend") and field not in skip:
                readers.setdefault(field, []).append(name)
    groups = {names: group}
    for field, users in readers.items():
        key = tuple(users)
        if key not in groups:
            groups[key] = parser.add_argument_group(f"{role} model, --backend {' or '.join(users)}")
        suffix = "" if len(users) == len(names) else f" [{', '.join(users)}]"
        add_fields(groups[key], backend(users[0]).config, [field], prefix=prefix, names=NAMES, suffix=suffix)


def llm_from_args(args: argparse.Namespace, role: str, **fixed: object):
    """The role's config from the flags given (``fixed``: values the command sets, where the backend has them)."""
    prefix = f"{role}_"
    chosen = getattr(args, f"{prefix}backend", None) or DEFAULT_BACKEND
    config = backend(chosen).config
    values: dict[str, object] = {"backend": chosen}
    for name in backends():
        for field in backend(name).config.model_fields:
            value = getattr(args, prefix + field, None)
            if value is None or field == "backend":
                continue
            if field not in config.model_fields:
                raise InputError(f"{NAMES.get(field, flag_name(field))} applies to --backend {name}, not {chosen}")
            values[field] = value
    if chosen == "openai" and values.get("api_key") is None and os.environ.get(JUDGE_API_KEY_ENV):
        values["api_key"] = os.environ[JUDGE_API_KEY_ENV]
    values.update({k: v for k, v in fixed.items() if k in config.model_fields})
    return build(config, values, f"{role} model", {**NAMES, "model": f"--{role}"})
