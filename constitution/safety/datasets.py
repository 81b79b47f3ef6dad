"""Safety inputs and evaluation sets: generic classify input, OpenAI moderation, XSTest prompts."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from constitution.data.records import Message
from constitution.data.responses import response_row
from constitution.data.rows import iter_rows
from constitution.errors import InputError

MODERATION_CATEGORIES = ("S", "H", "V", "HR", "SH", "S3", "H2", "V2")


class SafetyExample(BaseModel):
    """Something to classify: a text alone, or a response in a conversation; with labels where known."""

    model_config = ConfigDict(extra="forbid")

    id: str
    text: str = Field(description="the text (or response) to classify")
    conversation: list[Message] = Field(default_factory=list, description="the prompt, when `text` is a response")
    label: int | None = Field(None, description="1 unsafe, 0 safe, None unknown")
    categories: dict[str, int] = Field(default_factory=dict, description="labelled categories only (missing = unknown)")
    source: str = ""


def _label(value, where: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        lowered = value.strip().lower()
        mapping = {"unsafe": 1, "safe": 0, "1": 1, "0": 0, "true": 1, "false": 0}
        if lowered in mapping:
            return mapping[lowered]
    elif value in (0, 1):
        return int(value)
    raise InputError(f"label must be safe/unsafe or 0/1, got {value!r}", where=where)


def load_examples(source: str | Path, limit: int | None = None) -> list[SafetyExample]:
    """Rows read by the single-response rule (:mod:`constitution.data.responses`), with an optional ``label``
    (safe/unsafe or 0/1)."""
    examples: list[SafetyExample] = []
    for index, (where, row) in enumerate(iter_rows(source)):
        if limit is not None and len(examples) >= limit:
            break
        item = response_row(row, where, index)
        examples.append(
            SafetyExample(
                id=item.id, text=item.response, conversation=item.conversation, label=_label(row.get("label"), where), source=str(source)
            )
        )
    if not examples:
        raise InputError("no rows", where=str(source))
    return examples


def load_moderation(path: str | Path) -> list[SafetyExample]:
    """OpenAI moderation samples: unsafe if any labelled category is 1; safe only if all 8 are labelled 0."""
    examples = []
    for index, (where, row) in enumerate(iter_rows(path)):
        if "prompt" not in row:
            raise InputError("missing column 'prompt'", where=where)
        cats = {c: int(row[c]) for c in MODERATION_CATEGORIES if row.get(c) is not None}
        if any(cats.values()):
            label: int | None = 1
        elif len(cats) == len(MODERATION_CATEGORIES):
            label = 0
        else:
            label = None  # a missing key means unknown, not 0
        examples.append(SafetyExample(id=f"mod-{index}", text=row["prompt"], label=label, categories=cats, source=str(path)))
    return examples


def load_xstest_prompts(path: str | Path) -> list[SafetyExample]:
    """XSTest prompts with their safe/unsafe labels (the safe ones only look unsafe)."""
    return [
        SafetyExample(id=f"xstest-{row['id']}", text=row["prompt"], label=_label(row["label"], where), source=str(path))
        for where, row in iter_rows(path)
    ]
