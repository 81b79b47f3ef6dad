"""In-process vLLM backend: one engine that schedules a large window of prompts itself.

Option scoring is one decode step per prompt: ``SamplingParams(max_tokens=1, logprob_token_ids=ids)`` returns the
log-probs of exactly those token ids. :meth:`VllmBackend.score_options` keeps up to ``max_inflight`` requests in the
engine (thousands: a GPU scheduler needs them), steps it, and yields each request as it finishes. The engine runs
with ``logprobs_mode="raw_logprobs"`` (log-softmax of the raw logits, before temperature or any processor); with
bf16/fp16 weights the LM head is kept in fp32 (``hf_overrides={"head_dtype": "float32"}``) so soft labels do not
collapse to a few values. On CPU the KV block is 32 tokens (not 128) so that the prefix cache pays on shared
prompt prefixes.

Scripts that build this backend with vLLM's multiprocessing on need an ``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import gc
import itertools
import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from constitution.llm.base import (
    OptionRequest,
    OptionResult,
    check_prompt_lengths,
    encode_prompts,
    replicate,
    sample_count,
)
from constitution.llm.config import VllmConfig
from constitution.llm.dtypes import resolve_dtype
from constitution.llm.lazy import Preview
from constitution.llm.options import OptionScoring
from constitution.llm.vllm_env import apply_vllm_env, default_block_size
from constitution.model_identity import model_identity
from constitution.embedded_models import display_name, resolve_model


def _name(config: VllmConfig) -> str:
    return f"vllm:{display_name(config.model)}"


def _identity(path: str, dtype: str) -> str:
    return f"vllm:{model_identity(path)}:{dtype}"


def engine_kwargs(config: VllmConfig, model_path: str, dtype: str) -> dict[str, Any]:
    """Keyword arguments for ``vllm.LLM`` from a config, the resolved model folder and the resolved dtype."""
    kwargs: dict[str, Any] = {
        "model": model_path,
        "tokenizer": model_path,
        "dtype": dtype,
        "enforce_eager": config.enforce_eager,
        "enable_prefix_caching": config.enable_prefix_caching,
        "seed": config.seed,
        "logprobs_mode": "raw_logprobs",
        "tensor_parallel_size": config.tensor_parallel_size,
    }
    if config.max_model_len is not None:
        kwargs["max_model_len"] = config.max_model_len
    if dtype != "float32":
        kwargs["hf_overrides"] = {"head_dtype": "float32"}
    block_size = default_block_size(config.block_size)
    if block_size is not None:
        kwargs["block_size"] = block_size
    if config.gpu_memory_utilization is not None:
        kwargs["gpu_memory_utilization"] = config.gpu_memory_utilization
    return kwargs


def _option_values(output: Any, ids: tuple[int, ...]) -> tuple[tuple[float, ...] | None, str | None]:
    steps = output.outputs[0].logprobs if output.outputs else None
    if not steps:
        return None, "vLLM returned no logprobs"
    step = steps[0]
    missing = [t for t in ids if t not in step]
    if missing:
        return None, f"vLLM returned no logprob for option token(s) {missing}"
    values = tuple(float(step[t].logprob) for t in ids)
    if any(math.isnan(v) or v > 0.0 for v in values):
        return None, f"invalid option logprobs {values}"
    return values, None


class VllmBackend(OptionScoring):
    """A judge/policy backed by an in-process ``vllm.LLM`` engine."""

    def __init__(self, config: VllmConfig | None = None, **overrides: Any) -> None:
        self.config = VllmConfig.model_validate({**(config or VllmConfig()).model_dump(), **overrides})
        apply_vllm_env(kvcache_gib=self.config.kvcache_gib)
        from transformers import AutoTokenizer
        from vllm import LLM

        path = resolve_model(self.config.model)
        self.dtype = resolve_dtype(self.config.dtype)
        self.name = _name(self.config)
        self.max_model_len = self.config.max_model_len
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.llm = LLM(**engine_kwargs(self.config, path, self.dtype))
        self.identity = _identity(path, self.dtype)  # after loading: a hub id's commit is the one loaded
        self._ids = itertools.count()

    @classmethod
    def preview(cls, config: VllmConfig) -> Preview | None:
        """Name, identity, tokenizer and context length without starting vLLM (None for a hub id: its commit is
        known once it is loaded)."""
        from transformers import AutoTokenizer

        path = resolve_model(config.model)
        if not Path(path).is_dir():
            return None
        tokenizer = AutoTokenizer.from_pretrained(path)
        return Preview(_name(config), _identity(path, resolve_dtype(config.dtype)), tokenizer, config.max_model_len)

    def score_options(self, requests: Iterable[OptionRequest]) -> Iterator[OptionResult]:
        """Stream option log-probs, keeping up to ``max_inflight`` prompts in the engine's scheduler."""
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt
        from vllm.sampling_params import RequestOutputKind

        engine = self.llm.llm_engine
        params: dict[tuple[int, ...], Any] = {}
        pending: dict[str, OptionRequest] = {}
        source = iter(requests)
        exhausted = False
        try:
            while True:
                while not exhausted and len(pending) < self.config.max_inflight:
                    request = next(source, None)
                    if request is None:
                        exhausted = True
                        break
                    if request.option_ids not in params:
                        params[request.option_ids] = SamplingParams(
                            max_tokens=1, temperature=0.0, logprob_token_ids=list(request.option_ids),
                            output_kind=RequestOutputKind.FINAL_ONLY,
                        )  # fmt: skip
                    request_id = f"o{next(self._ids)}"
                    engine.add_request(request_id, TokensPrompt(prompt_token_ids=request.token_ids), params[request.option_ids])
                    pending[request_id] = request
                if not pending:
                    return
                for output in engine.step():
                    if output.finished and output.request_id in pending:
                        request = pending.pop(output.request_id)
                        values, error = _option_values(output, request.option_ids)
                        yield OptionResult(request.key, values, error)
        finally:
            if pending:  # the consumer stopped early: leave nothing behind in the engine
                engine.abort_request(list(pending))

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
        """``n`` sampled completions per prompt (greedy at temperature 0)."""
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        if not prompts:
            return []
        token_ids = encode_prompts(self.tokenizer, prompts)
        check_prompt_lengths(token_ids, self.max_model_len, reserve=1)
        draws = sample_count(n, temperature)
        params = SamplingParams(n=draws, max_tokens=max_tokens, temperature=temperature, seed=seed, stop=stop or None)
        outputs = self.llm.generate([TokensPrompt(prompt_token_ids=ids) for ids in token_ids], params, use_tqdm=False)
        return [replicate([c.text for c in sorted(out.outputs, key=lambda c: c.index)], n) for out in outputs]

    def close(self) -> None:
        """Shut the engine down and free its memory."""
        llm = getattr(self, "llm", None)
        if llm is None:
            return
        self.llm = None
        engine = getattr(llm, "llm_engine", None)
        core = getattr(engine, "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()
        del llm, engine, core
        gc.collect()

