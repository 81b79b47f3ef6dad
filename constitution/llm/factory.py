"""Build the backend a config names (heavy imports are lazy: vLLM or Ray only when asked for)."""

from __future__ import annotations

from typing import Literal

from constitution.embedded_models import resolve_model
from constitution.errors import InputError
from constitution.llm.base import LLM
from constitution.llm.lazy import LazyBackend
from constitution.llm.config import BackendSettings, RayConfig, VllmConfig, backend

Engine = Literal["local", "ray"]


def check_model(config: BackendSettings) -> None:
    """A :class:`~constitution.embedded_models.MissingModelError` (an InputError naming close embedded aliases) when
    ``config.model`` is not a folder, an embedded alias or a usable hub id; nothing for a backend whose model is an
    API's name (registered with ``local_model=False``)."""
    if backend(config.backend).local_model:
        resolve_model(config.model)


def make_llm(config: BackendSettings, engine: Engine = "local", ray: RayConfig | None = None, *, lazy: bool = True) -> LLM:
    """The backend for ``config`` (the constructor registered for its ``backend``); ``engine="ray"`` spreads an
    in-process vLLM judge over Ray actors (see :mod:`constitution.llm.ray_pool`). A missing or mistyped model is an
    :class:`InputError` here, before an engine starts or the hub is asked. ``lazy``: a local engine whose backend can
    preview itself starts on its first request (:mod:`constitution.llm.lazy`), so work that finds every answer
    cached never starts it."""
    check_model(config)
    if engine == "ray":
        if not isinstance(config, VllmConfig):
            raise InputError(
                f"engine 'ray' runs in-process vLLM judges on Ray actors, not backend {config.backend!r} "
                "(for several `vllm serve` endpoints use backend 'openai' with one base_url each)"
            )
        from constitution.llm.ray_pool import RayJudge

        return RayJudge(config, ray or RayConfig())
    build = backend(config.backend).constructor()
    preview = getattr(build, "preview", None) if lazy else None
    known = preview(config) if preview is not None else None
    return build(config) if known is None else LazyBackend(lambda: build(config), known)
