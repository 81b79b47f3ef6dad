"""What a process reward model reads: a trace -> windows of token ids, each with the positions read for its steps.

``START prompt M step 1 M step 2 M …``: ``START`` is the tokenizer's ``[CLS]`` (encoders) or BOS (decoders), the
marker ``M`` (its separator token, else EOS) ends each step, and the head's logit at the step's last token (just
before its marker) is that step's score, as Math-Shepherd and Qwen2.5-Math-PRM read a causal model. (Read at the
marker itself, MiniLM's alike [SEP] states once collapsed to one score for every step, at lr 1e-3; the step's own
last token carries its content. An empty step is read at its marker.)

Every step is scored. A trace that fits ``max_length`` is one window. A longer one is read in windows, each a
left-truncated slice of the trace: the steps that end within ``max_length`` tokens are read in one window from the
trace's start; the next window starts half a window
before the first step not yet read (or later, where that step alone is longer than half a window), so each step sees
at least that much context before it; the window start token (``[CLS]``/BOS) opens every window. A step read in a
window that does not start at the trace's start is *truncated* (it does not see its whole prefix); the count is
reported with every score. A window depends only on the tokens before its steps' ends, so with a causal backbone
appending steps never changes an earlier step's score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch

from constitution.data import Message, as_messages, format_dialogue
from constitution.reward.inputs import pad_batch

IGNORE = -100.0


def marker_id(tokenizer) -> int:
    """The step-end marker: the separator token (encoders), else EOS (decoders)."""
    for token_id in (tokenizer.sep_token_id, tokenizer.eos_token_id):
        if token_id is not None:
            return int(token_id)
    raise ValueError("the tokenizer has neither a separator nor an EOS token to mark step ends")


def prompt_text(prompt: str | Sequence[Message] | Sequence[dict]) -> str:
    """The prompt as the model reads it (HH dialogue text)."""
    return format_dialogue(as_messages(prompt)).strip()


class Window(NamedTuple):
    """A slice of one trace as the model reads it: its token ids and (step index, position read) per step in it."""

    ids: list[int]
    steps: list[tuple[int, int]]
    truncated: bool


class EncodedTrace(NamedTuple):
    """A trace's windows (every step in exactly one)."""

    windows: list[Window]

    @property
    def truncated_steps(self) -> int:
        """Steps read without their whole prefix."""
        return sum(len(w.steps) for w in self.windows if w.truncated)


def _windows(start: list[int], body: list[int], starts: list[int], ends: list[int], reads: list[int], max_length: int) -> list[Window]:
    """Cut ``body`` (prompt and steps after the start tokens) into windows (see the module docstring)."""
    room = max_length - len(start)
    out: list[Window] = []
    k = 0
    while k < len(ends):
        first = 0 if ends[k] < room else max(ends[k] + 1 - room, starts[k] - room // 2)
        last = min(len(body), first + room)
        steps = []
        while k < len(ends) and ends[k] < last:
            steps.append((k, len(start) + reads[k] - first))
            k += 1
        out.append(Window(start + body[first:last], steps, first > 0))
    return out


def encode_traces(tokenizer, prompts: Sequence[str], steps: Sequence[Sequence[str]], max_length: int, marker: int) -> list[EncodedTrace]:
    """Each trace's windows; the pieces are tokenized in one batch."""
    pieces = [p for prompt, trace in zip(prompts, steps) for p in (prompt, *trace)]
    ids = tokenizer(pieces, add_special_tokens=False)["input_ids"] if pieces else []
    start = [tokenizer.cls_token_id] if tokenizer.cls_token_id is not None else ([tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else [])
    out, at = [], 0
    for trace in steps:
        body, starts, ends, reads = list(ids[at]) + [marker], [], [], []
        for s in ids[at + 1 : at + 1 + len(trace)]:
            starts.append(len(body))
            body += [*s, marker]
            ends.append(len(body) - 1)
            reads.append(len(body) - 2 if s else len(body) - 1)
        at += 1 + len(trace)
        out.append(EncodedTrace(_windows(start, body, starts, ends, reads, max_length)))
    return out


@dataclass
class StepCollator:
    """Rows {input_ids, positions, labels} -> a right-padded batch; ``labels`` is B × T, IGNORE off the markers."""

    pad_token_id: int

    def __call__(self, rows: Sequence[dict]) -> dict[str, torch.Tensor]:
        batch = pad_batch([r["input_ids"] for r in rows], self.pad_token_id)
        labels = torch.full(batch["input_ids"].shape, IGNORE, dtype=torch.float32)
        for i, r in enumerate(rows):
            for pos, label in zip(r["positions"], r["labels"]):
                labels[i, pos] = float(label)
        batch["labels"] = labels
        return batch
