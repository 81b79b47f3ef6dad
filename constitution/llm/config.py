"""How to run a model (a judge or a policy): one config per backend, told apart by ``backend``.

``vllm`` runs an in-process ``vllm.LLM`` engine, ``openai`` talks to one or more ``vllm serve`` endpoints, ``hf`` runs
a transformers forward pass. Fields shared by all three live in :class:`ModelSettings`. :data:`LLMConfig` is the
union that configs and YAML files use (``backend`` defaults to ``vllm``); :func:`llm_config` builds one from fields.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter

from constitution.embedded_models import JUDGE_ALIAS

BackendName = Literal["vllm", "openai", "hf"]
BACKENDS: tuple[str, ...] = ("vllm", "openai", "hf")
DType = Literal["auto", "float32", "bfloat16", "float16"]


class ModelSettings(BaseModel):
    """What every backend needs: the model and the context length."""

    model_config = ConfigDict(extra="forbid")
    runtime_fields: ClassVar[frozenset[str]] = frozenset()
    """Fields that change how fast answers come, never what they are."""

    model: str = Field(JUDGE_ALIAS, description="embedded alias, local folder or hub id (also the tokenizer)")
    max_model_len: int | None = Field(4096, ge=16, description="longest prompt + completion, in tokens")


class VllmConfig(ModelSettings):
    """An in-process ``vllm.LLM`` engine."""

    runtime_fields: ClassVar[frozenset[str]] = frozenset(
        {"enforce_eager", "enable_prefix_caching", "kvcache_gib", "block_size", "gpu_memory_utilization",
         "tensor_parallel_size", "max_inflight"}
    )  # fmt: skip
    backend: Literal["vllm"] = "vllm"
    dtype: DType = Field(
        "auto",
        description="weights dtype; 'auto': bf16 where native (GPUs with bf16, CPUs with AMX/AVX512-bf16), fp16 on "
        "older GPUs, fp32 elsewhere; the option logits are computed in fp32 whatever the weights",
    )
    seed: int = Field(0, description="the engine's seed (sampling calls pass their own)")
    enforce_eager: bool = Field(True, description="skip CUDA graphs / torch.compile (engine ready in seconds on CPU)")
    enable_prefix_caching: bool = Field(True, description="reuse the KV cache of shared prompt prefixes")
    kvcache_gib: int = Field(2, ge=1, description="CPU only: VLLM_CPU_KVCACHE_SPACE when unset")
    block_size: int | None = Field(None, ge=16, description="KV block in tokens (prefix caching reuses whole blocks); None: 32 on CPU")
    gpu_memory_utilization: float | None = Field(None, gt=0.0, le=1.0, description="share of GPU memory for vLLM; None: its default")
    tensor_parallel_size: int = Field(1, ge=1, description="GPUs one engine shards the model over")
    max_inflight: int = Field(
        4096, ge=1, description="prompts handed to the engine at once (it schedules them itself); more keep a GPU busy"
    )


class OpenAIConfig(ModelSettings):
    """One or more ``vllm serve`` endpoints (OpenAI-compatible ``/v1/completions``)."""

    runtime_fields: ClassVar[frozenset[str]] = frozenset(
        {"base_urls", "api_key", "max_concurrency", "timeout_s", "max_retries", "backoff_s", "endpoint_cooldown_s"}
    )
    backend: Literal["openai"] = "openai"
    base_urls: list[str] = Field(default_factory=list, description="e.g. http://127.0.0.1:8000 (with or without /v1)")
    api_key: str | None = Field(None, description="sent as a bearer token (also read from $CONSTITUTION_JUDGE_API_KEY by the CLI)")
    served_model_name: str | None = Field(None, description="the `model` field sent; default: the server's only model")
    max_concurrency: int = Field(256, ge=1, description="requests in flight over all endpoints (one connection pool per run)")
    timeout_s: float = Field(120.0, gt=0.0, description="per request")
    max_retries: int = Field(4, ge=0, description="retries per prompt after the first attempt")
    backoff_s: float = Field(0.5, ge=0.0, description="first retry delay; doubles per retry (capped at 8 s)")
    endpoint_cooldown_s: float = Field(5.0, ge=0.0, description="skip an endpoint this long after it failed")


class HfConfig(ModelSettings):
    """A transformers causal LM."""

    runtime_fields: ClassVar[frozenset[str]] = frozenset({"batch_size", "device"})
    backend: Literal["hf"] = "hf"
    dtype: DType = Field(
        "auto",
        description="weights dtype; 'auto': bf16 where native (GPUs with bf16, CPUs with AMX/AVX512-bf16), fp16 on "
        "older GPUs, fp32 elsewhere; the option logits are computed in fp32 whatever the weights",
    )
    batch_size: int = Field(8, ge=1, description="prompts per forward pass")
    device: str = Field("auto", description="torch device; 'auto': cuda when available, else cpu")


class RayConfig(BaseModel):
    """Judge actors on a Ray cluster (``engine: ray``): each actor holds one in-process vLLM judge."""

    model_config = ConfigDict(extra="forbid")

    actors: int = Field(2, ge=1, description="judge actors (on GPUs: one per GPU)")
    address: str | None = Field(None, description="cluster address ('auto': the running cluster); None: start a local one")
    num_gpus_per_actor: float = Field(0.0, ge=0.0, description="GPUs each actor reserves (1 for one judge per GPU)")
    num_cpus_per_actor: float = Field(1.0, gt=0.0, description="CPUs each actor reserves")
    batch_requests: int = Field(256, ge=1, description="prompts sent to an actor per call (two calls in flight per actor)")
    max_restarts: int = Field(2, ge=0, description="times Ray restarts an actor that died (its batch is sent again)")


def answer_fields(config: ModelSettings) -> dict[str, Any]:
    """The settings that decide a model's answers (for stage fingerprints): all but the runtime ones."""
    return config.model_dump(mode="json", exclude=set(config.runtime_fields))


def _backend_of(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("backend", "vllm"))
    return str(getattr(value, "backend", "vllm"))


LLMConfig = Annotated[
    Union[Annotated[VllmConfig, Tag("vllm")], Annotated[OpenAIConfig, Tag("openai")], Annotated[HfConfig, Tag("hf")]],
    Discriminator(_backend_of),
]
"""Any backend's config; ``backend`` picks the class (default ``vllm``)."""

CONFIGS: dict[str, type[ModelSettings]] = {"vllm": VllmConfig, "openai": OpenAIConfig, "hf": HfConfig}
_ADAPTER: TypeAdapter[Any] = TypeAdapter(LLMConfig)


def llm_config(**fields: Any) -> VllmConfig | OpenAIConfig | HfConfig:
    """The config for ``fields["backend"]`` (default ``vllm``), validated (unknown fields are errors)."""
    return _ADAPTER.validate_python(fields)


def with_model(config: VllmConfig | OpenAIConfig | HfConfig, model: str, **changes: Any) -> VllmConfig | OpenAIConfig | HfConfig:
    """The same backend settings for another model (e.g. the policy beside the judge), re-validated."""
    return type(config).model_validate({**config.model_dump(), "model": model, **changes})
