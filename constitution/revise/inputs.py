"""What ``revise`` starts from: a conversation and, where the input has one, the reply to revise.

A ``.txt`` file holds one prompt a line (read by :func:`constitution.generation.load_prompts`); a tabular file
(JSONL, JSON, CSV, Parquet, a `datasets` folder) holds rows that are either a response in its conversation, read by
the one rule of :func:`constitution.data.responses.response_row` (``prompt`` + ``response`` or ``completion``), or
a ``prompt`` alone, which the policy answers first. Ids: the ``id`` column, else a content hash; a repeated id is an
error naming both lines.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from constitution.data.dialogue import as_messages
from constitution.data.records import Message
from constitution.data.responses import response_row
from constitution.data.rows import iter_rows
from constitution.errors import InputError
from constitution.generation import load_prompts, prompt_id
from constitution.hashing import content_hash


class ChainInput(BaseModel):
    """One chain's start: the conversation, and the reply to revise (None: the policy writes it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    conversation: list[Message]
    response: str | None
    where: str


def _row_input(row: dict, where: str, index: int) -> ChainInput:
    if row.get("response") is not None or row.get("completion") is not None:
        read = response_row(row, where, index)
        if not read.conversation:
            raise InputError("a response to revise needs its conversation: a `prompt` column", where=where)
        given_id = row.get("id") not in (None, "")
        item_id = read.id if given_id else "r-" + content_hash([m.model_dump() for m in read.conversation], read.response)
        return ChainInput(id=item_id, conversation=read.conversation, response=read.response, where=where)
    if row.get("prompt") in (None, "", []):
        raise InputError("expected a `prompt` (answered by the policy first), with or without a `response` (or `completion`)", where=where)
    messages = as_messages(row["prompt"], where, "prompt")
    item_id = str(row["id"]) if row.get("id") not in (None, "") else prompt_id(messages)
    return ChainInput(id=item_id, conversation=messages, response=None, where=where)


def load_inputs(source: str | Path, *, limit: int | None = None) -> list[ChainInput]:
    """Every chain's start (the first ``limit``), in file order; bad rows raise InputError naming ``file:line``."""
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be at least 1, got {limit}")
    path = Path(source)
    if path.suffix.lower() == ".txt":
        return [ChainInput(id=p.id, conversation=p.messages, response=None, where=str(path)) for p in load_prompts(path)][:limit]
    items: list[ChainInput] = []
    first: dict[str, str] = {}
    for index, (where, row) in enumerate(iter_rows(path)):
        if limit is not None and len(items) >= limit:
            break
        item = _row_input(row, where, index)
        if item.id in first:
            raise InputError(f"id {item.id!r} appears twice (first at {first[item.id]})", where=where)
        first[item.id] = where
        items.append(item)
    if not items:
        raise InputError("no rows", where=str(path))
    return items
