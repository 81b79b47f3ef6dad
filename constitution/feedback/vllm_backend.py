"""In-process vLLM backend: one engine, all prompts of a call submitted together so vLLM batches them.

Option scoring is one decode step per prompt: ``SamplingParams(max_tokens=1, logprob_token_ids=ids)`` returns the
log-probs of exactly those token ids. The engine runs with ``logprobs_mode="raw_logprobs"`` (log-softmax of the
raw logits, before temperature or any processor), and with bf16/fp16 weights the LM head is kept in fp32
(``hf_overrides={"head_dtype": "float32"}``) so soft labels do not collapse to a few values. On CPU the KV
block is 32 tokens (not 128) so that the prefix cache pays on shared prompt prefixes.

Scripts that build this backend with vLLM's multiprocessing on need an ``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import gc
import math
from typing import Any

from constitution.feedback.base import (
    FeedbackError,
    JudgeConfig,
    check_prompt_lengths,
    encode_prompts,
    load_tokenizer,
    model_label,
    option_token_ids,
    replicate,
    sample_count,
)
from constitution.feedback.vllm_env import apply_vllm_env, default_block_size
from constitution.models import resolve_model


def engine_kwargs(config: JudgeConfig, model_path: str) -> dict[str, Any]:
    """Keyword arguments for ``vllm.LLM`` from a judge config."""
    kwargs: dict[str, Any] = {
        "model": model_path,
        "tokenizer": model_path,
        "dtype": config.dtype,
        "enforce_eager": config.enforce_eager,
        "enable_prefix_caching": config.enable_prefix_caching,
        "seed": config.seed,
        "logprobs_mode": "raw_logprobs",
    }
    if config.max_model_len is not None:
        kwargs["max_model_len"] = config.max_model_len
    if config.dtype != "float32":
        kwargs["hf_overrides"] = {"head_dtype": "float32"}
    block_size = default_block_size(config.block_size)
    if block_size is not None:
        kwargs["block_size"] = block_size
    if config.gpu_memory_utilization is not None:
        kwargs["gpu_memory_utilization"] = config.gpu_memory_utilization
    return kwargs


class VllmBackend:
    """A judge/policy backed by an in-process ``vllm.LLM`` engine."""

    def __init__(self, config: JudgeConfig | None = None, **overrides: Any) -> None:
        self.config = (config or JudgeConfig()).model_copy(update={"backend": "vllm", **overrides})
        apply_vllm_env(kvcache_gib=self.config.kvcache_gib)
        from vllm import LLM

        path = resolve_model(self.config.model)
        self.judge_id = f"vllm:{model_label(self.config.model)}"
        self.tokenizer = load_tokenizer(self.config.model)
        self.llm = LLM(**engine_kwargs(self.config, path))

    def _run(self, prompts: list[str], params: Any, reserve: int) -> list[Any]:
        from vllm.inputs import TokensPrompt

        token_ids = encode_prompts(self.tokenizer, prompts)
        check_prompt_lengths(token_ids, self.config.max_model_len, reserve)
        requests = [TokensPrompt(prompt_token_ids=ids) for ids in token_ids]
        return self.llm.generate(requests, params, use_tqdm=False)

    def option_logprobs(self, prompts: list[str], options: list[str]) -> list[list[float]]:
        """Log-probs of each single-token option at the next position, one engine step per prompt."""
        from vllm import SamplingParams

        ids = option_token_ids(self.tokenizer, options)
        if not prompts:
            return []
        params = SamplingParams(max_tokens=1, temperature=0.0, logprob_token_ids=ids)
        results: list[list[float]] = []
        for index, output in enumerate(self._run(prompts, params, reserve=1)):
            steps = output.outputs[0].logprobs
            if not steps:
                raise FeedbackError(f"prompt {index}: vLLM returned no logprobs")
            step = steps[0]
            missing = [t for t in ids if t not in step]
            if missing:
                raise FeedbackError(f"prompt {index}: vLLM returned no logprob for option token(s) {missing}")
            values = [float(step[t].logprob) for t in ids]
            if any(math.isnan(v) or v > 0.0 for v in values):
                raise FeedbackError(f"prompt {index}: invalid option logprobs {values}")
            results.append(values)
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
        """``n`` sampled completions per prompt (greedy at temperature 0)."""
        from vllm import SamplingParams

        if not prompts:
            return []
        draws = sample_count(n, temperature)
        params = SamplingParams(n=draws, max_tokens=max_tokens, temperature=temperature, seed=seed, stop=stop or None)
        outputs = self._run(prompts, params, reserve=1)
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
