"""``--judge MODEL[,KEY=VALUE...]``, repeatable: one judge, or a jury of several.

The judge flags (``--backend``, ``--dtype``, ``--base-url`` …) apply to every judge; a judge's own ``KEY=VALUE``
settings override them: any field of its backend's config (``dtype=bfloat16``, ``backend=openai``,
``base_url=http://host:8000`` (repeat it for several), ``max_retries=0`` …), its ``weight`` in the jury and its
``name`` (its folder under ``judges/``). A key may be written as the field or as its flag (``hf-batch-size``).
"""

from __future__ import annotations

import argparse
import copy
import typing

from pydantic import ValidationError

from constitution.cli._llm_flags import NAMES, llm_from_args
from constitution.errors import InputError
from constitution.labeling.jury.config import OWN_FIELDS, JudgeSpec
from constitution.llm.config import backend, backends

ALIASES = {flag.lstrip("-").replace("-", "_"): field for field, flag in NAMES.items()}


def add_judge_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--judge", dest="judges", action="append", default=None, metavar="MODEL[,KEY=VALUE...]",
        help="the judge: alias, local folder or hub id, with its own settings after commas (e.g. "
        "smollm2-135m-instruct,dtype=bfloat16,weight=2); repeat it for a jury of judges",
    )  # fmt: skip
    parser.add_argument("--quorum", type=int, default=None, help="judges that must label a pair for the jury's label (default: all of them)")


def _settings(text: str) -> tuple[str, dict[str, str | list[str]]]:
    """``MODEL,key=value,...`` -> the model ("" when left out) and the settings (list fields collect repeats)."""
    fields = {field: info for name in backends() for field, info in backend(name).config.model_fields.items()}
    model, settings = "", {}
    for k, item in enumerate(text.split(",")):
        if "=" not in item:
            if k:
                raise InputError(f"--judge {text}: {item!r} is not KEY=VALUE")
            model = item.strip()
            continue
        key, value = (s.strip() for s in item.split("=", 1))
        field = ALIASES.get(key.replace("-", "_"), key.replace("-", "_"))
        if field not in fields and field not in OWN_FIELDS:
            raise InputError(f"--judge {text}: unknown setting {key!r}; known: {', '.join(sorted([*fields, *OWN_FIELDS]))}")
        if field in fields and typing.get_origin(fields[field].annotation) is list:
            settings.setdefault(field, []).append(value)  # type: ignore[union-attr]
        else:
            settings[field] = value
    return model, settings


def judges_from_args(args: argparse.Namespace) -> list[JudgeSpec]:
    """One spec per ``--judge`` (the default judge when none is given), the judge flags under each."""
    specs = []
    for text in args.judges or [""]:
        model, settings = _settings(text)
        flags = copy.copy(args)
        if model:
            flags.judge_model = model
        for field, value in settings.items():
            if field not in OWN_FIELDS:
                setattr(flags, f"judge_{field}", value)
        try:
            llm = llm_from_args(flags, "judge")
            specs.append(JudgeSpec(llm=llm, **{k: v for k, v in settings.items() if k in OWN_FIELDS}))
        except InputError as exc:
            if not text:
                raise
            raise InputError(f"--judge {text}: {exc}") from exc
        except ValidationError as exc:
            raise InputError(f"--judge {text}: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}") from exc
    return specs
