"""Pairs as training data: tokenised into a ``datasets.Dataset`` with their labels, and collated into batches whose
chosen and rejected rows go through one forward pass (rows ``[a_0..a_B, b_0..b_B]``, right-padded)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from constitution.data import Pair
from constitution.reward.inputs import build_text, encode, pad_batch

LABELS = ("p", "mask", "p_a")  # label columns: per-principle heads have all three, a scalar model only ``p``


@dataclass
class PairCollator:
    """Rows {input_ids_a, input_ids_b, p[, mask, p_a]} -> one right-padded batch of 2B sequences plus the labels:
    ``p`` (B, or B × K per-principle labels), ``mask`` (B × K: which principles judged the pair) and ``p_a``."""

    pad_token_id: int

    def __call__(self, rows: Sequence[dict]) -> dict[str, torch.Tensor]:
        batch = pad_batch([r["input_ids_a"] for r in rows] + [r["input_ids_b"] for r in rows], self.pad_token_id)
        for key in LABELS:
            if key in rows[0]:
                batch[key] = torch.tensor([r[key] for r in rows], dtype=torch.float32)
        return batch


def _hard(p: float) -> float:
    return p if p == 0.5 else float(p > 0.5)


def tokenize_pairs(
    tokenizer, kind: str, pairs: Sequence[Pair], max_length: int, hard_labels: bool = False, heads: Sequence[str] = ()
):
    """Pairs -> a ``datasets.Dataset`` (input_ids_a, input_ids_b, p, length) for the Trainer.

    With ``heads`` (per-principle pairs): ``p`` holds one label per head (0.5 where the principle did not judge the
    pair), ``mask`` marks the heads that did, and ``p_a`` keeps the ensembled label.
    """
    import datasets

    ids_a = encode(tokenizer, kind, [build_text(tokenizer, kind, p.prompt, p.response_a) for p in pairs], max_length)
    ids_b = encode(tokenizer, kind, [build_text(tokenizer, kind, p.prompt, p.response_b) for p in pairs], max_length)
    labels = [0.5 if p.p_a is None else p.p_a for p in pairs]
    if hard_labels:
        labels = [_hard(p) for p in labels]
    columns: dict[str, list] = {"input_ids_a": ids_a, "input_ids_b": ids_b, "p": labels}
    if heads:
        judged = [p.per_principle for p in pairs]  # type: ignore[attr-defined]
        per_head = [[j.get(h, 0.5) for h in heads] for j in judged]
        columns["p"] = [[_hard(x) for x in row] for row in per_head] if hard_labels else per_head
        columns["mask"] = [[float(h in j) for h in heads] for j in judged]
        columns["p_a"] = labels
    columns["length"] = [max(len(a), len(b)) for a, b in zip(ids_a, ids_b)]
    return datasets.Dataset.from_dict(columns)
