"""How to run a model (a judge or a policy): one config per backend, told apart by ``backend``, and the registry
of backends.

``vllm`` runs an in-process ``vllm.LLM`` engine, ``openai`` talks to one or more ``vllm serve`` endpoints, ``hf`` runs
a transformers forward pass. A backend is added by ONE call, :func:`register_backend` (its name, its config class and
its constructor); configs, YAML files (:data:`LLMConfig`, ``backend`` defaulting to ``vllm``), :func:`llm_config`,
:func:`~constitution.llm.factory.make_llm` and the CLI's ``--backend`` choices all read the registry when they run.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Annotated, Any, ClassVar, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, GetJsonSchemaHandler, TypeAdapter
from pydantic_core import PydanticCustomError, core_schema

from constitution.errors import InputError
from constitution.embedded_models import JUDGE_ALIAS

DType = Literal["auto", "float32", "bfloat16", "float16"]
DEFAULT_BACKEND = "vllm"


class BackendSettings(BaseModel):
    """What every backend's config has: its name (``backend``, a one-value Literal) and the model it runs."""

    model_config = ConfigDict(extra="forbid")
    runtime_fields: ClassVar[frozenset[str]] = frozenset()
    """Fields that change how fast answers come, never what they are."""

    backend: str
    model: str = Field(JUDGE_ALIAS, description="embedded alias, local folder or hub id (also the tokenizer)")


class ModelSettings(BackendSettings):
    """What every language-model backend needs: the model and the context length."""

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


def answer_fields(config: BackendSettings) -> dict[str, Any]:
    """The settings that decide a model's answers (for stage fingerprints): all but the runtime ones."""
    return config.model_dump(mode="json", exclude=set(config.runtime_fields))


class Backend(NamedTuple):
    """A registered backend: its config class and how to build it from that config."""

    name: str
    config: type[BackendSettings]
    build: Callable[[Any], Any] | str
    """``config -> LLM``, or ``"module:attr"`` imported on first use (heavy engines load only when asked for)."""
    generates: bool = True
    """It writes text (can be a policy); False for a judge that only compares pairs."""
    local_model: bool = True
    """Its ``model`` is loaded here (a folder, an embedded alias or a hub id: checked before anything starts); False
    for a backend whose ``model`` is a name only its remote API knows."""

    def constructor(self) -> Callable[[Any], Any]:
        """The callable that builds the backend (importing its module if it was registered by name)."""
        if callable(self.build):
            return self.build
        module, _, attr = self.build.partition(":")
        return getattr(import_module(module), attr)


_REGISTRY: dict[str, Backend] = {}


def register_backend(
    name: str, config: type[BackendSettings], build: Callable[[Any], Any] | str, *, generates: bool = True, local_model: bool = True
) -> Backend:
    """Make backend ``name`` usable everywhere: in configs and YAML (``backend: name``), :func:`llm_config`,
    ``make_llm`` and the CLI's ``--backend``. ``config`` must declare ``backend: Literal[name] = name``.
    ``local_model=False``: its ``model`` is an API's name, not looked for on this machine."""
    field = config.model_fields.get("backend")
    if field is None or field.default != name:
        raise ValueError(f"{config.__name__} must declare backend: Literal[{name!r}] = {name!r}")
    if name in _REGISTRY and _REGISTRY[name].config is not config:
        raise ValueError(f"backend {name!r} is already registered with {_REGISTRY[name].config.__name__}")
    _REGISTRY[name] = Backend(name, config, build, generates, local_model)
    return _REGISTRY[name]


def backends(*, generates: bool | None = None) -> tuple[str, ...]:
    """Registered backend names, in registration order (``generates=True``: those that can be a policy)."""
    return tuple(n for n, b in _REGISTRY.items() if generates is None or b.generates == generates)


def backend(name: str) -> Backend:
    """The registered backend ``name`` (InputError naming the registered ones otherwise)."""
    if name not in _REGISTRY:
        raise InputError(f"unknown backend {name!r}; registered: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def _validate(value: Any) -> BackendSettings:
    if isinstance(value, BackendSettings):
        return value
    if not isinstance(value, dict):
        raise PydanticCustomError("backend_config", "a backend's settings must be a mapping, got {kind}", {"kind": type(value).__name__})
    name = str(value.get("backend", DEFAULT_BACKEND))
    if name not in _REGISTRY:
        raise PydanticCustomError("unknown_backend", "unknown backend '{name}'; registered: {known}", {"name": name, "known": ", ".join(_REGISTRY)})
    return _REGISTRY[name].config.model_validate(value)


class _AnyBackend:
    """Pydantic hooks: validate with the class the registry holds for ``backend`` at validation time."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(_validate)  # dumped as what it is (pydantic's inference)

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return {"oneOf": [handler(b.config.__pydantic_core_schema__) for b in _REGISTRY.values()]}


LLMConfig = Annotated[BackendSettings, _AnyBackend]
"""Any registered backend's config; ``backend`` picks the class (default ``vllm``)."""


def llm_config(**fields: Any) -> BackendSettings:
    """The config for ``fields["backend"]`` (default ``vllm``), validated (unknown fields are errors)."""
    return _ADAPTER.validate_python(fields)


def with_model(config: BackendSettings, model: str, **changes: Any) -> BackendSettings:
    """The same backend settings for another model (e.g. the policy beside the judge), re-validated."""
    return type(config).model_validate({**config.model_dump(), "model": model, **changes})


_ADAPTER: TypeAdapter[Any] = TypeAdapter(LLMConfig)

register_backend("vllm", VllmConfig, "constitution.llm.vllm_backend:VllmBackend")
register_backend("openai", OpenAIConfig, "constitution.llm.openai_backend:OpenAIBackend")
register_backend("hf", HfConfig, "constitution.llm.hf_backend:HfBackend")
