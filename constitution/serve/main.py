"""``serve``: load a reward model and run the service with uvicorn."""

from __future__ import annotations

import logging
from typing import Any

from constitution.principles import Constitution
from constitution.serve.app import create_app
from constitution.serve.config import ServerConfig


def serve(model_path: str, config: ServerConfig, constitution: Constitution | None = None) -> None:
    """Load a reward model (a per-principle one weighted by ``constitution``; None: its training weights) and serve
    it with uvicorn until SIGINT/SIGTERM (in-flight requests finish)."""
    import uvicorn

    from constitution.reward.model import RewardModel

    # Our warnings and the id'ed 500s go to stderr with a timestamp (uvicorn configures only its own loggers).
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    model = RewardModel.load(model_path, constitution=constitution)

    def score(items: list[Any]) -> list[float]:
        return model.score(items, batch_size=config.max_batch)

    app = create_app(
        score,
        config,
        normalize=model.normalize,
        model_name=str(model_path),
        default_threshold=getattr(model.metadata, "safety_threshold", None),
        explain=(lambda items, norm: model.explain(items, batch_size=config.max_batch, normalize=norm)) if model.heads else None,
    )
    uvicorn.run(app, host=config.host, port=config.port, log_level="warning", timeout_graceful_shutdown=10)
