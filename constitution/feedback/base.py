"""The feedback-model protocol every judge backend implements, its config, and the backend factory.

Prompts reaching a backend are fully rendered text (chat template applied by :mod:`constitution.prompts`), so
every backend tokenizes them with ``add_special_tokens=False``: the rendered text is the exact model input and a
template that already starts with BOS never gets a second one. (SmolLM2's tokenizer adds no special tokens either
way; Llama-3-style tokenizers would.)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from constitution.errors import InputError
from constitution.models import EMBEDDED, JUDGE_ALIAS, resolve_model

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

BackendName = Literal["vllm", "openai", "hf"]
DType = Literal["float32", "bfloat16", "float16"]


@runtime_checkable
class FeedbackBackend(Protocol):
    """A judge/policy model: option log-probs for scoring, text generation for rationales and sampling."""

    judge_id: str
    tokenizer: PreTrainedTokenizerBase

    def option_logprobs(self, prompts: list[str], options: list[str]) -> list[list[float]]:
        """fp32 log-softmax (full vocab, next position) of each single-token option, per rendered prompt."""
        ...

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
        """``n`` completions per rendered prompt (stop strings are not included in the text)."""
        ...

    def close(self) -> None:
        """Release the model / engine / connections."""
        ...


class JudgeConfig(BaseModel):
    """How to run a judge (or policy) model; fields are grouped by the backend that reads them."""

    model_config = ConfigDict(extra="forbid")

    backend: BackendName = "vllm"
    model: str = Field(JUDGE_ALIAS, description="embedded alias, local folder or hub id (also the tokenizer)")
    dtype: DType = Field("float32", description="weights dtype; option logits are always cast to fp32")
    seed: int = 0
    max_model_len: int | None = Field(4096, ge=16, description="longest prompt + completion, in tokens")
    # vllm (in-process)
    enforce_eager: bool = Field(True, description="skip torch.compile (engine ready in seconds on CPU)")
    enable_prefix_caching: bool = True
    kvcache_gib: int = Field(2, ge=1, description="VLLM_CPU_KVCACHE_SPACE when unset")
    block_size: int | None = Field(
        None, ge=16, description="KV block in tokens (prefix caching reuses whole blocks); None: 32 on CPU"
    )
    gpu_memory_utilization: float | None = Field(None, gt=0.0, le=1.0, description="vLLM on GPU; None: its default")
    # hf
    batch_size: int = Field(8, ge=1, description="hf: prompts per forward pass")
    device: str = Field("cpu", description="hf: torch device")
    # openai (vllm serve endpoints)
    base_urls: list[str] = Field(default_factory=list, description="e.g. http://127.0.0.1:8000 (with or without /v1)")
    api_key: str | None = None
    served_model_name: str | None = Field(None, description="the `model` field sent; default: the server's only model")
    max_concurrency: int = Field(16, ge=1, description="in-flight requests over all endpoints")
    timeout_s: float = Field(120.0, gt=0.0, description="per request")
    max_retries: int = Field(4, ge=0, description="retries per prompt after the first attempt")
    backoff_s: float = Field(0.5, ge=0.0, description="first retry delay; doubles per retry (capped at 8 s)")
    endpoint_cooldown_s: float = Field(5.0, ge=0.0, description="skip an endpoint this long after it failed")


class OptionTokenError(InputError):
    """An option is not exactly one token of the judge's tokenizer."""


class FeedbackError(RuntimeError):
    """The judge could not produce a value (e.g. every retry against the servers failed)."""


def model_label(model: str) -> str:
    """Provenance name of a model: the alias, the hub id, or a local folder's name (never a temp path)."""
    key = model.strip().lower()
    if key in EMBEDDED:
        return key
    path = Path(model)
    return path.name if path.exists() else model


def load_tokenizer(model: str) -> PreTrainedTokenizerBase:
    """The tokenizer of a model (alias, folder or hub id), loaded locally."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(resolve_model(model))


def encode_prompts(tokenizer: PreTrainedTokenizerBase, prompts: list[str]) -> list[list[int]]:
    """Token ids of rendered prompts, without adding special tokens (the template already has them)."""
    if not prompts:
        return []
    return [list(ids) for ids in tokenizer(list(prompts), add_special_tokens=False)["input_ids"]]


def option_token_ids(tokenizer: PreTrainedTokenizerBase, options: list[str]) -> list[int]:
    """The single token id of each option; raises OptionTokenError if one is not exactly one token."""
    if not options:
        raise OptionTokenError("no options given")
    ids: list[int] = []
    for option in options:
        tokens = tokenizer.encode(option, add_special_tokens=False)
        if len(tokens) != 1:
            pieces = tokenizer.convert_ids_to_tokens(tokens)
            raise OptionTokenError(
                f"option {option!r} is {len(tokens)} tokens {pieces} for this tokenizer; "
                "options must be exactly one token (e.g. 'A', 'B', ' Yes')"
            )
        ids.append(tokens[0])
    if len(set(ids)) != len(ids):
        raise OptionTokenError(f"options {options} do not map to distinct tokens: {ids}")
    return ids


def check_prompt_lengths(token_ids: list[list[int]], max_len: int | None, reserve: int = 1) -> None:
    """Raise InputError naming the first prompt that leaves fewer than ``reserve`` positions, or is empty."""
    for index, ids in enumerate(token_ids):
        if not ids:
            raise InputError("empty prompt", where=f"prompt {index}")
        if max_len is not None and len(ids) + reserve > max_len:
            raise InputError(
                f"prompt is {len(ids)} tokens; with {reserve} new token(s) it exceeds max_model_len={max_len}",
                where=f"prompt {index}",
            )


def truncate_at_stop(text: str, stop: list[str] | None) -> str:
    """Cut a completion at the first stop string (the stop string itself is dropped), like vLLM does."""
    if not stop:
        return text
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=len(text))
    return text[:cut]


def sample_count(n: int, temperature: float) -> int:
    """How many completions to actually draw: greedy decoding (temperature 0) gives n identical ones, so 1."""
    if n < 1:
        raise InputError(f"n must be >= 1, got {n}")
    return n if temperature > 0.0 else 1


def replicate(texts: list[str], n: int) -> list[str]:
    """A greedy single completion repeated to the ``n`` the caller asked for."""
    return texts if len(texts) == n else texts * n


def make_backend(config: JudgeConfig) -> FeedbackBackend:
    """Build the backend named by ``config.backend`` (imports are lazy: vLLM only when asked for)."""
    if config.backend == "vllm":
        from constitution.feedback.vllm_backend import VllmBackend

        return VllmBackend(config)
    if config.backend == "openai":
        from constitution.feedback.openai_backend import OpenAIBackend

        return OpenAIBackend(config)
    if config.backend == "hf":
        from constitution.feedback.hf_backend import HfBackend

        return HfBackend(config)
    raise InputError(f"unknown backend {config.backend!r}")  # unreachable: pydantic validates the literal
