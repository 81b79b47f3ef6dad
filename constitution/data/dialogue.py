"""Conversations as text and back: HH-RLHF dialogue strings, chat-message lists, plain prompts."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from constitution.data.records import Message
from constitution.errors import InputError

_HH_TURN = re.compile(r"\n\n(Human|Assistant): ")


def parse_dialogue(text: str) -> list[Message]:
    """Split an HH-RLHF dialogue string into messages; raises ValueError if it has no turns."""
    parts = _HH_TURN.split(text)
    if len(parts) < 3 or parts[0].strip():
        raise ValueError("not an HH dialogue: expected '\\n\\nHuman: …\\n\\nAssistant: …'")
    roles = {"Human": "user", "Assistant": "assistant"}
    return [Message(role=roles[parts[i]], content=parts[i + 1]) for i in range(1, len(parts), 2)]


def format_dialogue(messages: Iterable[Message]) -> str:
    """Messages -> HH-style text (``\\n\\nHuman: …\\n\\nAssistant: …``), the plain format for encoders."""
    names = {"user": "Human", "assistant": "Assistant", "system": "System"}
    return "".join(f"\n\n{names[m.role]}: {m.content}" for m in messages)


def as_messages(value: Any, where: str | None = None, column: str = "prompt") -> list[Message]:
    """A prompt as Messages: a string (one user turn), Messages or chat-message dicts; else InputError at ``where``."""
    if isinstance(value, str):
        return [Message(role="user", content=value)]
    if isinstance(value, (list, tuple)) and all(isinstance(m, (Message, dict)) for m in value):
        messages = []
        for i, m in enumerate(value):
            try:
                messages.append(m if isinstance(m, Message) else Message.model_validate(m))
            except ValidationError as exc:
                err = exc.errors()[0]
                field = ".".join(str(part) for part in err["loc"])
                raise InputError(f"column {column!r}: chat message {i}: {field}: {err['msg']}", where=where) from exc
        return messages
    raise InputError(f"column {column!r}: expected a string or a list of chat messages", where=where)


def as_response(value: Any, where: str | None, column: str) -> str:
    """A response: a string, or the last turn of a message list when it is the assistant's."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and isinstance(value[-1], dict) and value[-1].get("role") == "assistant":
        return str(value[-1].get("content", ""))
    raise InputError(f"column {column!r}: expected a string or an assistant message", where=where)
