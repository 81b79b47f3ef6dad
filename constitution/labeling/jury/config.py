"""A jury member: one judge's backend settings, its weight in the ensemble and the name of its output folder.

Written flat, as the pipeline's ``judges:`` list and the CLI's ``--judge MODEL,KEY=VALUE`` take it::

    judges:
      - {backend: hf, model: smollm2-135m-instruct, dtype: float32}
      - {backend: openai, model: Qwen/Qwen2.5-7B-Instruct, base_urls: [http://10.0.0.5:8000], weight: 2}
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_serializer, model_validator

from constitution.errors import InputError
from constitution.llm.config import LLMConfig

OWN_FIELDS = ("name", "weight")


class JudgeSpec(BaseModel):
    """One judge of a jury."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(
        None, pattern=r"^[A-Za-z0-9._-]+$", description="its folder under judges/ (default: backend-model, numbered when repeated)"
    )
    weight: float = Field(1.0, gt=0.0, description="its share in the jury's label")
    llm: LLMConfig

    @model_validator(mode="before")
    @classmethod
    def _flat(cls, data: Any) -> Any:
        """Accept the backend's fields beside ``name`` and ``weight`` (the written form)."""
        if isinstance(data, dict) and "llm" not in data:
            return {**{k: data[k] for k in OWN_FIELDS if k in data}, "llm": {k: v for k, v in data.items() if k not in OWN_FIELDS}}
        return data

    @model_serializer(mode="wrap")
    def _flatten(self, handler: Any) -> dict[str, Any]:
        dumped = handler(self)
        return {**{k: dumped[k] for k in OWN_FIELDS}, **dumped["llm"]}


def juror_names(judges: list[JudgeSpec]) -> list[str]:
    """Each judge's folder name: its ``name`` (InputError when taken), else ``backend-model`` (``-2``, ``-3`` … on
    repeats)."""
    names: list[str] = []
    for spec in judges:
        if spec.name in names:
            raise InputError(f"two judges are named {spec.name!r}: give each its own name")
        base = spec.name or re.sub(r"[^A-Za-z0-9._-]+", "-", f"{spec.llm.backend}-{Path(spec.llm.model).name}")
        name, k = base, 1
        while name in names:
            k += 1
            name = f"{base}-{k}"
        names.append(name)
    return names


def check_quorum(quorum: int | None, judges: int) -> int:
    """The quorum (default: every judge); InputError unless there are several judges and 1 <= quorum <= judges."""
    if quorum is None:
        return judges
    if judges < 2:
        raise InputError(f"a quorum is for a jury: give several judges (got {judges})")
    if not 1 <= quorum <= judges:
        raise InputError(f"quorum must be between 1 and the number of judges ({judges}), got {quorum}")
    return quorum
