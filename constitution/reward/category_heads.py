"""Safety-category heads: P(violates category c) from a reward model's frozen features, one logistic head per
category of the safety policy.

The labels are the judge's own per-category probabilities (judge-mode ``classify --categories``); each head is the
soft logistic regression of them on the features the reward heads read (:mod:`features`), so fitting takes one
forward pass per response and seconds of L-BFGS, and nothing of the reward model changes. The heads live beside the
model in ``category_heads.safetensors`` (weight C × H, bias C); ``RewardMetadata.category_heads`` names them. They
mirror the judge's category verdicts at reward-model cost — no better than the judge whose labels they learned.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel

from constitution.atomic import atomic_path
from constitution.errors import InputError
from constitution.reward.features import fit_logistic, head_features
from constitution.reward.inputs import Item
from constitution.reward.metadata import CATEGORY_FILE, read_metadata, write_metadata
from constitution.reward.model import RewardModel



class CategoryFit(BaseModel):
    """How one category's head was fitted."""

    category: str
    examples: int
    agreement: float | None  # in-sample: the head's P >= 0.5 vs the judge's, over examples the judge decided


class CategoryHeads:
    """Per-category logistic heads over a reward model's features."""

    def __init__(self, categories: Sequence[str], weight: torch.Tensor, bias: torch.Tensor) -> None:
        self.categories = list(categories)
        self.weight = weight.double()
        self.bias = bias.double()

    @classmethod
    def load(cls, folder: str | Path) -> CategoryHeads:
        """The heads saved with the reward model at ``folder`` (InputError when it has none)."""
        from safetensors.torch import load_file

        meta = read_metadata(folder)
        path = Path(folder) / CATEGORY_FILE
        if meta is None or not meta.category_heads or not path.exists():
            raise InputError(
                "the reward model has no safety-category heads: fit them with `constitution train INPUT --out MODEL "
                "--category-labels JUDGED` (JUDGED: judge-mode `classify --categories` output for INPUT)",
                where=str(folder),
            )
        tensors = load_file(path)
        return cls(meta.category_heads, tensors["weight"], tensors["bias"])

    def save(self, folder: str | Path) -> None:
        """Write the heads beside the model and name them in its metadata."""
        from safetensors.torch import save_file

        folder = Path(folder)
        meta = read_metadata(folder)
        if meta is None:
            raise InputError("not a reward-model folder (no constitution_reward.json)", where=str(folder))
        with atomic_path(folder / CATEGORY_FILE) as tmp:
            save_file({"weight": self.weight.float().contiguous(), "bias": self.bias.float().contiguous()}, str(tmp))
        meta.category_heads = self.categories
        write_metadata(folder, meta)

    def probabilities(self, model: RewardModel, items: Sequence[Item], batch_size: int = 64) -> list[dict[str, float]]:
        """P(violates category) per item and category."""
        if not items:
            return []
        logits = head_features(model, items, batch_size) @ self.weight.T + self.bias
        return [dict(zip(self.categories, row)) for row in torch.sigmoid(logits).tolist()]


def fit_category_heads(
    model: RewardModel, items: Sequence[Item], labels: Sequence[dict[str, float]], *, l2: float = 1e-3
) -> tuple[CategoryHeads, list[CategoryFit]]:
    """One head per category named in ``labels`` (item i's judge probabilities; a category missing from a row is
    unknown there, and that row does not train its head)."""
    categories = list(dict.fromkeys(c for row in labels for c in row))
    if not categories:
        raise InputError("no per-category labels to fit category heads on")
    features = head_features(model, items)
    weights, biases, fits = [], [], []
    for category in categories:
        rows = [i for i, row in enumerate(labels) if category in row]
        p = torch.tensor([labels[i][category] for i in rows], dtype=torch.float64)
        w, b = fit_logistic(features[rows], p, l2, intercept=True)
        weights.append(w)
        biases.append(b)
        predicted = (features[rows] @ w + b > 0).numpy()
        decided = p.numpy() != 0.5
        agreement = float(np.mean(predicted[decided] == (p.numpy()[decided] > 0.5))) if decided.any() else None
        fits.append(CategoryFit(category=category, examples=len(rows), agreement=agreement))
    return CategoryHeads(categories, torch.stack(weights), torch.tensor(biases, dtype=torch.float64)), fits
