"""Single responses (to score or classify), one rule for every command that reads them.

A row gives the text to judge in ``response`` or ``completion`` (a string, or a message list whose last turn is
the assistant's), with an optional ``prompt`` (a string or chat messages) as its conversation; else in ``text``;
else ``prompt`` alone is the text (e.g. a prompt to classify), with no conversation.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from constitution.data.dialogue import as_messages, as_response
from constitution.data.records import Message
from constitution.errors import InputError


class ResponseRow(BaseModel):
    """One response in its conversation (empty for a text alone)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    conversation: list[Message] = Field(default_factory=list)
    response: str


def response_row(row: dict[str, Any], where: str, index: int) -> ResponseRow:
    """Read one row by the rule above; InputError at ``where`` when it has none of the columns."""
    row_id = str(row["id"]) if row.get("id") not in (None, "") else str(index)
    for column in ("response", "completion"):
        if row.get(column) is not None:
            prompt = row.get("prompt")
            conversation = as_messages(prompt, where, "prompt") if prompt not in (None, "") else []
            return ResponseRow(id=row_id, conversation=conversation, response=as_response(row[column], where, column))
    for column in ("text", "prompt"):
        value = row.get(column)
        if value is not None:
            if not isinstance(value, str):
                raise InputError(f"column {column!r}: expected a string", where=where)
            return ResponseRow(id=row_id, response=value)
    raise InputError("expected a `response` (or `completion`) with an optional `prompt`, or a `text` column", where=where)
