"""transformers backend: a causal LM forward pass, batches sorted by length, left padding, fp32 option logits.

With bf16/fp16 weights the LM head runs in fp32 (an fp32 copy of its weight, applied to the upcast hidden states),
so the option log-probs keep their resolution, as vLLM's ``head_dtype`` override does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from constitution.batching import length_sorted_batches
from constitution.llm.base import (
    OptionRequest,
    OptionResult,
    batched_scores,
    check_prompt_lengths,
    encode_prompts,
    replicate,
    sample_count,
    truncate_at_stop,
)
from constitution.llm.config import HfConfig
from constitution.llm.dtypes import resolve_dtype
from constitution.llm.options import OptionScoring
from constitution.model_identity import model_identity
from constitution.embedded_models import display_name, resolve_model

SORT_WINDOW = 16  # batches' worth of requests sorted by length together


def _fp32_head(model: Any) -> None:
    """Replace the LM head by one that upcasts the hidden states and applies an fp32 copy of the weights."""
    import torch

    head = model.get_output_embeddings()

    class Fp32Head(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = torch.nn.Parameter(head.weight.detach().float(), requires_grad=False)
            bias = getattr(head, "bias", None)
            self.bias = None if bias is None else torch.nn.Parameter(bias.detach().float(), requires_grad=False)

        def forward(self, hidden: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.linear(hidden.float(), self.weight, self.bias)

    model.set_output_embeddings(Fp32Head())


class HfBackend(OptionScoring):
    """A judge/policy backed by ``transformers.AutoModelForCausalLM``."""

    def __init__(self, config: HfConfig | None = None, **overrides: Any) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.config = HfConfig.model_validate({**(config or HfConfig()).model_dump(), **overrides})
        device = self.config.device
        self.device = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
        self.dtype = resolve_dtype(self.config.dtype, cuda=self.device.startswith("cuda"))
        path = resolve_model(self.config.model)
        self.name = f"hf:{display_name(self.config.model)}"
        self.max_model_len = self.config.max_model_len
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, self.dtype))
        self.identity = f"hf:{model_identity(path)}:{self.dtype}"  # after loading: a hub id's commit is the one loaded
        if self.dtype != "float32":
            _fp32_head(self.model)
        self.model.to(self.device).eval()
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else (self.tokenizer.eos_token_id or 0)

    def _left_pad(self, seqs: list[list[int]]) -> tuple[Any, Any, Any]:
        """input_ids, attention_mask and position_ids for left-padded sequences."""
        import torch

        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for row, seq in enumerate(seqs):
            ids[row, width - len(seq) :] = torch.tensor(seq, dtype=torch.long)
            mask[row, width - len(seq) :] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        return ids.to(self.device), mask.to(self.device), positions.to(self.device)

    def _score(self, requests: list[OptionRequest]) -> Iterator[OptionResult]:
        """Next-token fp32 log-softmax at each prompt's last real position, for each option token; batch by batch."""
        import torch

        for batch in length_sorted_batches([len(r.token_ids) for r in requests], self.config.batch_size):
            with torch.inference_mode():
                input_ids, mask, positions = self._left_pad([requests[i].token_ids for i in batch])
                logits = self.model(
                    input_ids=input_ids, attention_mask=mask, position_ids=positions, logits_to_keep=1
                ).logits[:, -1, :]
                logprobs = logits.float().log_softmax(-1)
            for row, i in enumerate(batch):
                ids = list(requests[i].option_ids)
                yield OptionResult(requests[i].key, tuple(logprobs[row, ids].cpu().tolist()))

    def score_options(self, requests: Iterable[OptionRequest]) -> Iterator[OptionResult]:
        """Stream option log-probs: a window of requests is sorted by length, then scored a batch at a time."""
        return batched_scores(self._score, requests, self.config.batch_size * SORT_WINDOW)

    def generate(
        self,
        prompts: list[str],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        n: int = 1,
        seed: int | None = None,
        stop: list[str] | None = None,
    ) -> list[list[str]]:
        """``n`` completions per prompt with ``model.generate`` (greedy at temperature 0)."""
        import torch

        token_ids = encode_prompts(self.tokenizer, prompts)
        check_prompt_lengths(token_ids, self.max_model_len)
        draws = sample_count(n, temperature)
        sample = temperature > 0.0
        if seed is not None:
            torch.manual_seed(seed)
        results: list[list[str]] = [[] for _ in prompts]
        with torch.inference_mode():
            for batch in length_sorted_batches([len(t) for t in token_ids], self.config.batch_size):
                input_ids, mask, _ = self._left_pad([token_ids[i] for i in batch])
                out = self.model.generate(
                    input_ids=input_ids,
                    attention_mask=mask,
                    max_new_tokens=max_tokens,
                    do_sample=sample,
                    temperature=temperature if sample else None,
                    top_p=None,
                    top_k=None,
                    num_return_sequences=draws,
                    pad_token_id=self.pad_id,
                    stop_strings=stop or None,
                    tokenizer=self.tokenizer if stop else None,
                )
                texts = self.tokenizer.batch_decode(out[:, input_ids.shape[1] :], skip_special_tokens=True)
                for k, i in enumerate(batch):
                    mine = [truncate_at_stop(t, stop) for t in texts[k * draws : (k + 1) * draws]]
                    results[i] = replicate(mine, n)
        return results

    def close(self) -> None:
        """Drop the model."""
        self.model = None
