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
from constitution.llm.config import BACKENDS, CONFIGS
from constitution.embedded_models import JUDGE_ALIAS

API_KEY_ENV = "CONSTITUTION_API_KEY"  # the service's key (`constitution serve`)
JUDGE_API_KEY_ENV = "CONSTITUTION_JUDGE_API_KEY"  # the bearer token sent to `--backend openai` judge endpoints
NAMES = {"batch_size": "--hf-batch-size", "base_urls": "--base-url"}


def add_llm_flags(
    parser: argparse.ArgumentParser,
    role: str,
    *,
    model_flag: str | None,
    backends: tuple[str, ...] = BACKENDS,
    skip: tuple[str, ...] = (),
) -> None:
    """``model_flag`` (e.g. ``--judge``; None when the command adds its own), ``--backend`` and the backends' fields:
    those of every backend first, then those of some backends, each marked with the backends that read it."""
    prefix = f"{role}_"
    group = parser.add_argument_group(f"{role} model")
    if model_flag:
        group.add_argument(model_flag, dest=f"{prefix}model", default=None, metavar="MODEL", help=f"alias, local folder or hub id (default: {JUDGE_ALIAS})")
    group.add_argument("--backend", dest=f"{prefix}backend", choices=list(backends), default=None, help="default: vllm")
    readers: dict[str, list[str]] = {}
    for backend in backends:
        for field in CONFIGS[backend].model_fields:
            if field not in ("model", "backend") and field not in skip:
                readers.setdefault(field, []).append(backend)
    groups = {tuple(backends): group}
    for field, users in readers.items():
        key = tuple(users)
        if key not in groups:
            groups[key] = parser.add_argument_group(f"{role} model, --backend {' or '.join(users)}")
        suffix = "" if len(users) == len(backends) else f" [{', '.join(users)}]"
        add_fields(groups[key], CONFIGS[users[0]], [field], prefix=prefix, names=NAMES, suffix=suffix)


def llm_from_args(args: argparse.Namespace, role: str, **fixed: object):
    """The role's config from the flags given (``fixed``: values the command sets, where the backend has them)."""
    prefix = f"{role}_"
    backend = getattr(args, f"{prefix}backend", None) or "vllm"
    values: dict[str, object] = {"backend": backend}
    for name, cls in CONFIGS.items():
        for field in cls.model_fields:
            value = getattr(args, prefix + field, None)
            if value is None or field == "backend":
                continue
            if field not in CONFIGS[backend].model_fields:
                raise InputError(f"{NAMES.get(field, flag_name(field))} applies to --backend {name}, not {backend}")
            values[field] = value
    if backend == "openai" and values.get("api_key") is None and os.environ.get(JUDGE_API_KEY_ENV):
        values["api_key"] = os.environ[JUDGE_API_KEY_ENV]
    values.update({k: v for k, v in fixed.items() if k in CONFIGS[backend].model_fields})
    return build(CONFIGS[backend], values, f"{role} model", NAMES)
