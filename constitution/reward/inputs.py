"""What a reward model reads: (prompt, response) -> text -> token ids, and padding into batches.

One place for it, so that training, scoring and the saved tokenizer agree: encoders read HH-style dialogue text
(``data.format_dialogue``), decoders with a chat template read the template's text; sequences longer than
``max_length`` lose their start (HH pairs differ only at the end), and batches are right-padded (decoders pool
the last non-pad token, and right padding keeps their position ids correct).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Union

import torch

from constitution.data import Message, as_messages, format_dialogue

InputKind = Literal["hh", "chat_template"]
PromptLike = Union[str, Sequence[Message], Sequence[dict]]
Item = Union[str, tuple[PromptLike, str]]


def input_kind(tokenizer, config) -> InputKind:
    """Decoders whose tokenizer has a chat template read it; everything else reads HH dialogue text."""
    return "chat_template" if is_decoder(config) and getattr(tokenizer, "chat_template", None) else "hh"


def build_text(tokenizer, kind: InputKind, prompt: PromptLike, response: str) -> str:
    """The text the model reads for one (prompt, response)."""
    messages = as_messages(prompt) + [Message(role="assistant", content=response)]
    if kind == "chat_template":
        return tokenizer.apply_chat_template([m.model_dump() for m in messages], tokenize=False)
    return format_dialogue(messages)


def item_text(tokenizer, kind: InputKind, item: Item) -> str:
    """A scoring item: a ready text, or a (prompt, response) tuple."""
    if isinstance(item, str):
        return item
    prompt, response = item
    return build_text(tokenizer, kind, prompt, response)


def prepare_tokenizer(tokenizer, max_length: int):
    """Left truncation, right padding, a pad token (decoders often lack one: reuse EOS/UNK)."""
    tokenizer.truncation_side = "left"
    tokenizer.padding_side = "right"
    tokenizer.model_max_length = max_length
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    if tokenizer.pad_token is None:
        raise ValueError("the tokenizer has no pad, EOS or UNK token to pad with")
    return tokenizer


def encode(tokenizer, kind: InputKind, texts: Sequence[str], max_length: int) -> list[list[int]]:
    """Token ids, truncated from the left to ``max_length`` (special tokens kept; chat text already has them)."""
    side = tokenizer.truncation_side
    tokenizer.truncation_side = "left"
    try:
        enc = tokenizer(
            list(texts), truncation=True, max_length=max_length, add_special_tokens=(kind == "hh"), padding=False
        )
    finally:
        tokenizer.truncation_side = side
    return enc["input_ids"]


def pad_batch(
    sequences: Sequence[Sequence[int]], pad_token_id: int, width: int | None = None, rows: int | None = None
) -> dict[str, torch.Tensor]:
    """Right-pad to ``width`` (default: the longest sequence): input_ids and attention_mask; with ``rows``, copies
    of the first sequence fill the batch up to that many rows (a fixed-shape forward pass)."""
    width = width or max(len(s) for s in sequences)
    sequences = list(sequences) + [sequences[0]] * ((rows or 0) - len(sequences))
    ids = torch.full((len(sequences), width), pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return {"input_ids": ids, "attention_mask": mask}


def is_decoder(config) -> bool:
    """A causal LM backbone (pools its last non-pad token), not a bidirectional encoder (masked-LM family)."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING_NAMES

    return config.model_type not in MODEL_FOR_MASKED_LM_MAPPING_NAMES
