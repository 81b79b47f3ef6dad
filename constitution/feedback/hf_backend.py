"""transformers backend: a causal LM forward pass, batches sorted by length, left padding, fp32 log-softmax."""

from __future__ import annotations

from typing import Any

from constitution.feedback.base import (
    JudgeConfig,
    check_prompt_lengths,
    encode_prompts,
    load_tokenizer,
    model_label,
    option_token_ids,
    replicate,
    sample_count,
    truncate_at_stop,
)
from constitution.models import resolve_model


def length_sorted_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length (longest first), so padding is small."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


class HfBackend:
    """A judge/policy backed by ``transformers.AutoModelForCausalLM``."""

    def __init__(self, config: JudgeConfig | None = None, **overrides: Any) -> None:
        import torch
        from transformers import AutoModelForCausalLM

        self.config = (config or JudgeConfig()).model_copy(update={"backend": "hf", **overrides})
        self.judge_id = f"hf:{model_label(self.config.model)}"
        self.tokenizer = load_tokenizer(self.config.model)
        dtype = getattr(torch, self.config.dtype)
        self.model = AutoModelForCausalLM.from_pretrained(resolve_model(self.config.model), dtype=dtype)
        self.model.to(self.config.device).eval()
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
        device = self.config.device
        return ids.to(device), mask.to(device), positions.to(device)

    def option_logprobs(self, prompts: list[str], options: list[str]) -> list[list[float]]:
        """Next-token fp32 log-softmax at each prompt's last real position, for each option token."""
        import torch

        ids = option_token_ids(self.tokenizer, options)
        token_ids = encode_prompts(self.tokenizer, prompts)
        check_prompt_lengths(token_ids, self.config.max_model_len)
        results: list[list[float]] = [[] for _ in prompts]
        with torch.inference_mode():
            for batch in length_sorted_batches([len(t) for t in token_ids], self.config.batch_size):
                input_ids, mask, positions = self._left_pad([token_ids[i] for i in batch])
                logits = self.model(
                    input_ids=input_ids, attention_mask=mask, position_ids=positions, logits_to_keep=1
                ).logits[:, -1, :]
                logprobs = logits.float().log_softmax(-1)[:, ids].cpu().tolist()
                for i, row in zip(batch, logprobs):
                    results[i] = row
        return results

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
        check_prompt_lengths(token_ids, self.config.max_model_len)
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
