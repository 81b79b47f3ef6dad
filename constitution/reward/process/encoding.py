"""What a process reward model reads: a trace -> token ids with a marker token after every step.

``[CLS] prompt [SEP] step 1 [M] step 2 [M] …``: the marker ``M`` (the tokenizer's separator token, else EOS) ends
each step, and the head's logit at the step's last token (just before its marker) is that step's score. (Read at the
marker itself, MiniLM's alike [SEP] states once collapsed to one score for every step, at lr 1e-3; the step's own
last token carries its content. An empty step is read at its marker.) A trace longer than ``max_length`` loses the start of its prompt first, then its earliest steps
(whose positions are then ``None``: they get no score).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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


def encode_traces(
    tokenizer, prompts: Sequence[str], steps: Sequence[Sequence[str]], max_length: int, marker: int
) -> list[tuple[list[int], list[int | None]]]:
    """(input ids, the position read per step: None for a step cut off) per trace; pieces tokenized in one batch."""
    pieces = [p for prompt, trace in zip(prompts, steps) for p in (prompt, *trace)]
    ids = tokenizer(pieces, add_special_tokens=False)["input_ids"] if pieces else []
    start = [tokenizer.cls_token_id] if tokenizer.cls_token_id is not None else ([tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else [])
    out, at = [], 0
    for trace in steps:
        prompt_ids, step_ids = ids[at], ids[at + 1 : at + 1 + len(trace)]
        at += 1 + len(trace)
        body = sum(len(s) + 1 for s in step_ids)
        first = 0
        while len(start) + 1 + body > max_length and first < len(step_ids) - 1:  # drop earliest steps
            body -= len(step_ids[first]) + 1
            first += 1
        room = max(0, max_length - len(start) - 1 - body)
        seq = start + (prompt_ids[max(0, len(prompt_ids) - room) :] if room else []) + [marker]
        positions: list[int | None] = [None] * first
        for s in step_ids[first:]:
            seq = seq + s[: max(0, max_length - len(seq) - 1)] + [marker]
            positions.append(len(seq) - 2 if s else len(seq) - 1)
        out.append((seq, positions))
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
                if pos >= 0:
                    labels[i, pos] = float(label)
        batch["labels"] = labels
        return batch
