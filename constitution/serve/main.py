"""``serve``: load a reward model and run the service with uvicorn; the loader that ``/reload`` uses."""

from __future__ import annotations

import logging
from pathlib import Path

from constitution.errors import InputError
from constitution.principles import Constitution
from constitution.serve.app import create_app
from constitution.serve.config import ServerConfig
from constitution.serve.schema import ReloadRequest
from constitution.serve.served import ServedModel


def load_served(request: ReloadRequest, current: ServedModel, version: int) -> ServedModel:
    """The model ``request`` names, fully loaded beside ``current`` (same device, precision and batch size): a new
    folder read from disk, or ``current``'s network under re-read weights (the constitution given, else the files of
    the one served, else the training weights)."""
    from constitution.loader import load_constitution
    from constitution.reward.model import RewardModel

    source = None if request.training_weights else (request.constitution or current.constitution_path)
    constitution = load_constitution(source) if source else None
    old = current.model
    if request.model is not None:
        if not Path(request.model).is_dir():
            raise InputError("not a reward model folder", where=request.model)
        model = RewardModel.load(request.model, device=str(old.device), bf16=old.bf16, constitution=constitution)
    else:
        model = RewardModel(old.model, old.tokenizer, old.metadata, bf16=old.bf16, constitution=constitution)
    folder = request.model or current.identity.model
    return ServedModel(model, version=version, folder=folder, constitution=constitution, constitution_path=source, batch_size=current.batch_size)


def serve(model_path: str, config: ServerConfig, constitution: Constitution | None = None) -> None:
    """Load a reward model (a per-principle one weighted by ``constitution``; None: its training weights) and serve
    it with uvicorn until SIGINT/SIGTERM (in-flight requests finish). ``/reload`` re-reads the constitution's files."""
    import uvicorn

    from constitution.reward.model import RewardModel

    # Our warnings and the id'ed 500s go to stderr with a timestamp (uvicorn configures only its own loggers).
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    model = RewardModel.load(model_path, constitution=constitution)
    files = list(constitution.files) if constitution is not None else None
    served = ServedModel(
        model, version=1, folder=str(model_path), constitution=constitution, constitution_path=files, batch_size=config.max_batch
    )
    app = create_app(served, config, loader=load_served)
    uvicorn.run(app, host=config.host, port=config.port, log_level="warning", timeout_graceful_shutdown=10)
