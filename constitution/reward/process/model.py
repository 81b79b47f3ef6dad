"""ProcessRewardModel: a saved process reward folder (transformers token classification + ``constitution_process.json``)
that scores every step of a trace, P(step good), and aggregates them into one score per trace."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

import torch
from pydantic import BaseModel, ConfigDict, Field

from constitution.atomic import atomic_write_text
from constitution.batching import FIXED_ROWS, forward_batches
from constitution.data.steps import split_steps
from constitution.devices import bf16_supported
from constitution.errors import InputError
from constitution.reward.inputs import pad_batch, prepare_tokenizer
from constitution.reward.process.config import Aggregate
from constitution.reward.process.encoding import encode_traces, prompt_text
from constitution.reward.process.metrics import aggregate, first_error

PROCESS_FILE = "constitution_process.json"
Trace = tuple[Any, Sequence[str]]  # (prompt: text or chat messages, steps)


class ScoredTrace(NamedTuple):
    """A trace's step scores (P(step good), one per step) and how many of its steps were read without their whole
    prefix (the trace is longer than ``max_length``: :mod:`~constitution.reward.process.encoding`)."""

    scores: list[float]
    truncated_steps: int


class ProcessMetadata(BaseModel):
    """What a saved process reward model needs besides its transformers folder, and how it was trained."""

    model_config = ConfigDict(extra="forbid")

    format_version: int = 1
    kind: str = "process"
    base_model: str
    architecture: str = ""
    max_length: int = Field(256, description="Tokens per window; a longer trace is read in left-truncated windows.")
    marker_token_id: int = Field(description="The token that ends every step (the head is read just before it).")
    separator: str = Field("\n\n", description="How a plain response is split into steps.")
    aggregate: Aggregate = "min"
    threshold: float = 0.5
    train_data: str = ""
    train_traces: int = 0
    train_steps: int = 0
    train_steps_truncated: int = Field(0, description="steps trained in a truncated window (without their whole prefix)")
    train_traces_unlabelled: int = Field(0, description="traces of the training data without step labels: not trained on")
    step_principles_hash: list[str] = Field(default_factory=list, description="step_principles_hash values of the data.")
    eval_metrics: dict[str, float] = Field(default_factory=dict)
    training_config: dict[str, Any] = Field(default_factory=dict)
    created: str = Field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))


def is_process_model(folder: str | Path) -> bool:
    """Whether a folder is a process reward model."""
    return (Path(folder) / PROCESS_FILE).exists()


def write_process_metadata(folder: Path, meta: ProcessMetadata) -> None:
    atomic_write_text(folder / PROCESS_FILE, json.dumps(meta.model_dump(), indent=2) + "\n")


class ProcessRewardModel:
    """Step scores for traces (see the module docstring); ``aggregate`` and ``threshold`` default to the metadata's."""

    def __init__(self, model, tokenizer, metadata: ProcessMetadata, *, aggregate_by: Aggregate | None = None, bf16: bool | None = None) -> None:
        self.model = model.eval()
        self.tokenizer = prepare_tokenizer(tokenizer, metadata.max_length)
        self.metadata = metadata
        self.aggregate_by: Aggregate = aggregate_by or metadata.aggregate
        self.device = next(model.parameters()).device
        self.bf16 = bf16_supported(self.device) if bf16 is None else bf16

    @classmethod
    def load(cls, path: str | Path, *, device: str | None = None, aggregate_by: Aggregate | None = None) -> ProcessRewardModel:
        from transformers import AutoModelForTokenClassification, AutoTokenizer

        folder = Path(path)
        if not is_process_model(folder):
            raise InputError(f"not a process reward model (no {PROCESS_FILE}); train one with `constitution train --kind process`", where=str(folder))
        meta = ProcessMetadata.model_validate_json((folder / PROCESS_FILE).read_text())
        model = AutoModelForTokenClassification.from_pretrained(folder, dtype=torch.float32)
        target = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        return cls(model.to(target), AutoTokenizer.from_pretrained(folder), meta, aggregate_by=aggregate_by)

    @torch.inference_mode()
    def scored(self, traces: Sequence[Trace], batch_size: int = 32) -> list[ScoredTrace]:
        """P(step good) for every step of every (prompt, steps) trace, and how many steps were read truncated."""
        encoded = encode_traces(
            self.tokenizer, [prompt_text(p) for p, _ in traces], [list(s) for _, s in traces],
            self.metadata.max_length, self.metadata.marker_token_id,
        )  # fmt: skip
        windows = [(t, w) for t, e in enumerate(encoded) for w in e.windows]
        scores: list[list[float]] = [[0.0] * len(s) for _, s in traces]
        # under bf16 one forward shape for every window (FIXED_ROWS x max_length): a step's score then depends neither
        # on its batchmates nor on the steps after it in its window (a width set by the window's length would change
        # the bf16 reduction order when a step is appended, and move the earlier steps' scores)
        lengths = [len(w.ids) for _, w in windows]
        for batch, width in forward_batches(lengths, batch_size, fixed_shape=self.bf16, fixed_width=self.metadata.max_length):
            padded = pad_batch([windows[i][1].ids for i in batch], self.tokenizer.pad_token_id, width, FIXED_ROWS if width else None)
            inputs = {k: v.to(self.device) for k, v in padded.items()}
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                probs = torch.sigmoid(self.model(**inputs).logits[..., 0].float()).cpu()
            for row, i in enumerate(batch):
                t, window = windows[i]
                for k, pos in window.steps:
                    scores[t][k] = float(probs[row, pos])
        return [ScoredTrace(s, e.truncated_steps) for s, e in zip(scores, encoded)]

    def step_scores(self, traces: Sequence[Trace], batch_size: int = 32) -> list[list[float]]:
        """P(step good) for every step of every (prompt, steps) trace."""
        return [s.scores for s in self.scored(traces, batch_size)]

    def aggregate(self, scores: Sequence[float]) -> float:
        """One trace's score from its step scores."""
        return aggregate(scores, self.aggregate_by)

    def first_error(self, scores: Sequence[float], threshold: float | None = None) -> int:
        """The first step scored below the threshold, or -1."""
        return first_error(scores, self.metadata.threshold if threshold is None else threshold)

    def split(self, response: str) -> list[str]:
        """A plain response's steps (the model's separator); a response without one is one step."""
        return split_steps(response, self.metadata.separator) or [response]

    def score(self, items: Sequence[Any], *, batch_size: int = 32) -> list[float]:
        """Aggregate scores of (prompt, response) items, each response split into steps (best-of-n, RL)."""
        traces = [(p, self.split(r)) for p, r in items]
        return [self.aggregate(s) for s in self.step_scores(traces, batch_size)]
