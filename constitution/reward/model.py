"""RewardModel: a saved reward folder (transformers + ``constitution_reward.json``) that scores responses."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from constitution.batching import FIXED_ROWS, forward_batches
from constitution.devices import bf16_supported
from constitution.data.records import Pair
from constitution.errors import InputError
from constitution.embedded_models import resolve_model
from constitution.principles import Constitution
from constitution.reward.fp32_head import keep_head_fp32
from constitution.reward.heads import combine, contributions, head_weights, reward_stats
from constitution.reward.inputs import Item, encode, input_kind, item_text, pad_batch, prepare_tokenizer
from constitution.reward.metadata import RewardMetadata, read_metadata

# a row shorter than this share of its batch's longest starts a new batch (at most half of a batch is padding)
MIN_FILL = 0.5


class RewardModel:
    """Scores texts or (prompt, response) pairs with a sequence-classification model.

    A scalar model (``num_labels=1``) gives its one output. A per-principle model (``metadata.heads``) gives the
    weighted mean of its heads under a constitution's weights (:mod:`constitution.reward.heads`): pass
    ``constitution`` to :meth:`load` or call :meth:`use_constitution`; without one, the training weights apply.
    """

    def __init__(
        self, model, tokenizer, metadata: RewardMetadata, *, bf16: bool | None = None, constitution: Constitution | None = None
    ) -> None:
        self.model = model.eval()
        keep_head_fp32(self.model, self.model.config.num_labels)  # bf16 autocast may run the backbone, never the head
        self.tokenizer = prepare_tokenizer(tokenizer, metadata.max_length)
        if getattr(self.model.config, "pad_token_id", None) is None:
            self.model.config.pad_token_id = self.tokenizer.pad_token_id
        self.metadata = metadata
        self.device = next(model.parameters()).device
        self.bf16 = bf16_supported(self.device) if bf16 is None else bf16
        self.use_constitution(constitution)

    @classmethod
    def load(
        cls, path: str | Path, *, device: str | None = None, bf16: bool | None = None, constitution: Constitution | None = None
    ) -> RewardModel:
        """Load a reward folder (or any seq-classification model: alias, folder or hub id)."""
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        folder = resolve_model(str(path))
        meta = read_metadata(folder) if Path(folder).is_dir() else None
        tokenizer = AutoTokenizer.from_pretrained(folder)
        num_labels = len(meta.heads) if meta is not None and meta.heads else 1
        model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=num_labels, dtype=torch.float32)
        if meta is None:
            meta = RewardMetadata(
                base_model=str(path),
                architecture=type(model).__name__,
                input_format=input_kind(tokenizer, model.config),
                max_length=min(int(getattr(tokenizer, "model_max_length", 512) or 512), 4096),
            )
        target = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        return cls(model.to(target), tokenizer, meta, bf16=bf16, constitution=constitution)

    @property
    def heads(self) -> list[str]:
        """Principle ids of the heads, in output order (empty for a scalar model)."""
        return self.metadata.heads

    def use_constitution(self, constitution: Constitution | None) -> None:
        """Weigh the heads by ``constitution`` from now on (None: the training weights). Nothing is recomputed but
        the weights and the reward's mean/std; a scalar model refuses a constitution (InputError)."""
        meta = self.metadata
        if not meta.heads:
            if constitution is not None:
                raise InputError(
                    "a constitution re-weighs per-principle heads, and this is a scalar reward model (one head); "
                    "train one with `constitution train --heads per_principle`",
                    where=meta.base_model if not meta.train_data else meta.train_data,
                )
            self.weights = np.ones(1)
            self.reward_mean, self.reward_std = meta.reward_mean, meta.reward_std or 1.0
            return
        self.weights = head_weights(meta, constitution)
        self.reward_mean, self.reward_std = reward_stats(meta, self.weights)

    def texts(self, items: Sequence[Item]) -> list[str]:
        """The exact texts the model reads for the items."""
        kind = self.metadata.input_format
        return [item_text(self.tokenizer, kind, item) for item in items]

    def encode(self, items: Sequence[Item]) -> list[list[int]]:
        """Token ids (left-truncated to the model's max_length)."""
        return encode(self.tokenizer, self.metadata.input_format, self.texts(items), self.metadata.max_length)

    def normalize(self, rewards: Sequence[float]) -> list[float]:
        """(r - mean) / std with the training-set statistics (of the weighted heads, for a per-principle model)."""
        return [(r - self.reward_mean) / self.reward_std for r in rewards]

    @torch.inference_mode()
    def head_matrix(self, ids: Sequence[Sequence[int]], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """Raw outputs for tokenised inputs, in input order: one row per input, one column per head.

        An input's reward depends on that input alone, whatever else is in the call (a server's batch holds whatever
        requests arrived together). Equal inputs are scored once, so a tie is exact. In fp32, batches are sorted by
        length with a token budget of ``batch_size × max_length`` (short inputs share bigger batches, up to
        4 × batch_size rows; no row is shorter than half its batch's longest): batchmates move a reward by float
        rounding only (≤ 1e-6). Under bf16 (the backbone under autocast, the head in fp32, :mod:`fp32_head`) the
        kernels' reduction order follows the whole batch's shape, so every forward pass has one shape per input
        length (:func:`~constitution.batching.fixed_shape_batches`): a reward is then the same
        bit for bit in any batch.
        """
        from tqdm.auto import tqdm

        rows: dict[tuple[int, ...], int] = {}  # each distinct input scored once: equal inputs get equal rewards
        where = [rows.setdefault(tuple(s), len(rows)) for s in ids]
        unique = list(rows)
        out = np.zeros((len(unique), len(self.weights)), dtype=np.float64)
        budget = batch_size * self.metadata.max_length
        batches = forward_batches(
            [len(s) for s in unique], batch_size, fixed_shape=self.bf16, max_tokens=budget, max_rows=4 * batch_size, min_fill=MIN_FILL
        )
        pad = self.tokenizer.pad_token_id
        for batch, width in tqdm(batches, desc="scoring", unit="batch", disable=not progress):
            padded = pad_batch([unique[i] for i in batch], pad, width, FIXED_ROWS if width else None)
            inputs = {k: v.to(self.device) for k, v in padded.items()}
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                logits = self.model(**inputs).logits
            out[batch] = logits[: len(batch)].float().cpu().numpy()
        return out[where]

    def score_ids(self, ids: Sequence[Sequence[int]], batch_size: int = 64, progress: bool = False) -> list[float]:
        """Raw rewards for tokenised inputs, in input order (see :meth:`head_matrix` for the batching)."""
        return combine(self.head_matrix(ids, batch_size, progress), self.weights).tolist()

    def score(
        self, items: Sequence[Item], *, batch_size: int = 64, normalize: bool = False, progress: bool = False
    ) -> list[float]:
        """Rewards for texts or (prompt, response) tuples; ``normalize`` applies the saved mean/std."""
        if not items:
            return []
        rewards = self.score_ids(self.encode(items), batch_size=batch_size, progress=progress)
        return self.normalize(rewards) if normalize else rewards

    def score_heads(self, items: Sequence[Item], *, batch_size: int = 64, progress: bool = False) -> list[list[float]]:
        """Raw per-head rewards: K per item, in ``metadata.heads`` order (one for a scalar model). The reward under
        any constitution is ``heads.combine`` of these with ``heads.head_weights(metadata, constitution)``."""
        if not items:
            return []
        return self.head_matrix(self.encode(items), batch_size, progress).tolist()

    def explain(
        self, items: Sequence[Item], *, batch_size: int = 64, normalize: bool = False, progress: bool = False
    ) -> tuple[list[float], list[dict[str, float]]]:
        """Rewards and, per item, each weighted principle's contribution to it (they sum to the reward; normalised
        with ``normalize``, see :func:`heads.contributions`). Needs a per-principle model (InputError otherwise)."""
        if not self.heads:
            raise InputError("explanations need a per-principle reward model (`constitution train --heads per_principle`)")
        if not items:
            return [], []
        matrix = self.head_matrix(self.encode(items), batch_size, progress)
        rewards = combine(matrix, self.weights).tolist()
        stats = {"mean": self.metadata.head_mean, "std": self.reward_std} if normalize else {}
        return (self.normalize(rewards) if normalize else rewards), contributions(matrix, self.weights, self.heads, **stats)

    def score_pairs(
        self, pairs: Sequence[Pair], *, batch_size: int = 64, normalize: bool = False, progress: bool = False
    ) -> tuple[list[float], list[float]]:
        """(rewards of response_a, rewards of response_b), both scored in one length-sorted run."""
        items: list[Item] = [(p.prompt, p.response_a) for p in pairs] + [(p.prompt, p.response_b) for p in pairs]
        rewards = self.score(items, batch_size=batch_size, normalize=normalize, progress=progress)
        return rewards[: len(pairs)], rewards[len(pairs) :]
