"""Build the backend a config names (heavy imports are lazy: vLLM or Ray only when asked for)."""

from __future__ import annotations

from typing import Literal

from constitution.errors import InputError
from constitution.llm.base import LLM
from constitution.llm.config import HfConfig, OpenAIConfig, RayConfig, VllmConfig

Engine = Literal["local", "ray"]


def make_llm(config: VllmConfig | OpenAIConfig | HfConfig, engine: Engine = "local", ray: RayConfig | None = None) -> LLM:
    """The backend for ``config`` (its class decides which); ``engine="ray"`` spreads an in-process vLLM judge over
    Ray actors (see :mod:`constitution.llm.ray_pool`)."""
    if engine == "ray":
        if not isinstance(config, VllmConfig):
            raise InputError(
                f"engine 'ray' runs in-process vLLM judges on Ray actors, not backend {config.backend!r} "
                "(for several `vllm serve` endpoints use backend 'openai' with one base_url each)"
            )
        from constitution.llm.ray_pool import RayJudge

        return RayJudge(config, ray or RayConfig())
    if isinstance(config, VllmConfig):
        from constitution.llm.vllm_backend import VllmBackend

        return VllmBackend(config)
    if isinstance(config, OpenAIConfig):
        from constitution.llm.openai_backend import OpenAIBackend

        return OpenAIBackend(config)
    from constitution.llm.hf_backend import HfBackend

    return HfBackend(config)
