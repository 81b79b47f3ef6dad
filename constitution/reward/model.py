"""RewardModel: a saved reward folder (transformers + ``constitution_reward.json``) that scores responses."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from constitution.batching import length_sorted_batches
from constitution.devices import bf16_supported
from constitution.data.records import Pair
from constitution.models import resolve_model
from constitution.reward.inputs import Item, encode, input_kind, item_text, pad_batch, prepare_tokenizer
from constitution.reward.metadata import RewardMetadata, read_metadata


class RewardModel:
    """Scores texts or (prompt, response) pairs with a sequence-classification model (num_labels=1)."""

    def __init__(self, model, tokenizer, metadata: RewardMetadata, *, bf16: bool | None = None) -> None:
        self.model = model.eval()
        self.tokenizer = prepare_tokenizer(tokenizer, metadata.max_length)
        if getattr(self.model.config, "pad_token_id", None) is None:
            self.model.config.pad_token_id = self.tokenizer.pad_token_id
        self.metadata = metadata
        self.device = next(model.parameters()).device
        self.bf16 = bf16_supported(self.device) if bf16 is None else bf16

    @classmethod
    def load(cls, path: str | Path, *, device: str | None = None, bf16: bool | None = None) -> RewardModel:
        """Load a reward folder (or any seq-classification model: alias, folder or hub id)."""
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        folder = resolve_model(str(path))
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=1, dtype=torch.float32)
        meta = read_metadata(folder) if Path(folder).is_dir() else None
        if meta is None:
            meta = RewardMetadata(
                base_model=str(path),
                architecture=type(model).__name__,
                input_format=input_kind(tokenizer, model.config),
                max_length=min(int(getattr(tokenizer, "model_max_length", 512) or 512), 4096),
            )
        target = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        return cls(model.to(target), tokenizer, meta, bf16=bf16)

    def texts(self, items: Sequence[Item]) -> list[str]:
        """The exact texts the model reads for the items."""
        kind = self.metadata.input_format
        return [item_text(self.tokenizer, kind, item) for item in items]

    def encode(self, items: Sequence[Item]) -> list[list[int]]:
        """Token ids (left-truncated to the model's max_length)."""
        return encode(self.tokenizer, self.metadata.input_format, self.texts(items), self.metadata.max_length)

    def normalize(self, rewards: Sequence[float]) -> list[float]:
        """(r - mean) / std with the training-set statistics from the metadata."""
        std = self.metadata.reward_std or 1.0
        return [(r - self.metadata.reward_mean) / std for r in rewards]

    @torch.inference_mode()
    def score_ids(self, ids: Sequence[Sequence[int]], batch_size: int = 64, progress: bool = False) -> list[float]:
        """Raw rewards for tokenised inputs, in input order.

        Batches are sorted by length, with a token budget of ``batch_size × max_length``: short inputs share
        bigger batches (up to 4 × batch_size rows) within the memory that ``batch_size`` long inputs would take.
        """
        from tqdm.auto import tqdm

        rewards = [0.0] * len(ids)
        budget = batch_size * self.metadata.max_length
        batches = length_sorted_batches([len(s) for s in ids], batch_size, max_tokens=budget, max_rows=4 * batch_size)
        pad = self.tokenizer.pad_token_id
        for batch in tqdm(batches, desc="scoring", unit="batch", disable=not progress):
            inputs = {k: v.to(self.device) for k, v in pad_batch([ids[i] for i in batch], pad).items()}
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                logits = self.model(**inputs).logits
            for i, r in zip(batch, logits[:, 0].float().tolist()):
                rewards[i] = r
        return rewards

    def score(
        self, items: Sequence[Item], *, batch_size: int = 64, normalize: bool = False, progress: bool = False
    ) -> list[float]:
        """Rewards for texts or (prompt, response) tuples; ``normalize`` applies the saved mean/std."""
        if not items:
            return []
        rewards = self.score_ids(self.encode(items), batch_size=batch_size, progress=progress)
        return self.normalize(rewards) if normalize else rewards

    def score_pairs(
        self, pairs: Sequence[Pair], *, batch_size: int = 64, normalize: bool = False, progress: bool = False
    ) -> tuple[list[float], list[float]]:
        """(rewards of response_a, rewards of response_b), both scored in one length-sorted run."""
        items: list[Item] = [(p.prompt, p.response_a) for p in pairs] + [(p.prompt, p.response_b) for p in pairs]
        rewards = self.score(items, batch_size=batch_size, normalize=normalize, progress=progress)
        return rewards[: len(pairs)], rewards[len(pairs) :]
