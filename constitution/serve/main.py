"""``serve``: load a reward model (outcome or process) and run the service with uvicorn; the loaders that ``/reload``
uses (a service keeps its model kind: an outcome service reloads outcome models, a process service process models)."""

from __future__ import annotations

import logging
from pathlib import Path

from constitution.errors import InputError
from constitution.embedded_models import resolve_model
from constitution.model_identity import model_identity
from constitution.principles import Constitution
from constitution.serve.app import create_app
from constitution.serve.config import ServerConfig
from constitution.serve.schema import ReloadRequest
from constitution.serve.served import ServedModel
from constitution.serve.served_process import ServedProcessModel
from constitution.serve.slot import Loader, Served


def identified(served: Served, model_id: str | None) -> Served:
    """``served`` named by its model's content identity (see :mod:`constitution.model_identity`: the same files
    anywhere have one, a folder rewritten in place a new one); set once, before it is served."""
    served.identity = served.identity.model_copy(update={"model_id": model_id})
    return served


def load_served(request: ReloadRequest, current: ServedModel, version: int) -> ServedModel:
    """The model ``request`` names, fully loaded beside ``current`` (same device, precision and batch size): a new
    folder read from disk, or ``current``'s network under re-read weights (the constitution given, else the files of
    the one served, else the training weights)."""
    from constitution.loader import load_constitution
    from constitution.reward.model import RewardModel
    from constitution.reward.process.model import is_process_model

    if request.model is not None and is_process_model(request.model):
        raise InputError("a process reward model; this service serves outcome models (serve it with its own `constitution serve`)", where=request.model)
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
    served = ServedModel(model, version=version, folder=folder, constitution=constitution, constitution_path=source, batch_size=current.batch_size)
    # a folder read from disk has its files' identity; the served network, re-weighed, keeps its own
    return identified(served, model_identity(folder) if request.model is not None else current.identity.model_id)


def load_served_process(request: ReloadRequest, current: Served, version: int) -> ServedProcessModel:
    """The process model folder ``request`` names (default: the served folder, read again from disk), fully loaded
    beside ``current`` on its device with its batch size. A process model has no heads to weigh: ``constitution``
    and ``training_weights`` are refused."""
    from constitution.reward.process.model import ProcessRewardModel, is_process_model

    if request.constitution is not None or request.training_weights:
        raise InputError("a process reward model has no principle heads to weigh; give only `model`")
    folder = request.model or current.identity.model
    if not is_process_model(folder):
        raise InputError("not a process reward model folder (this service serves process models)", where=folder)
    model = ProcessRewardModel.load(folder, device=str(current.model.device))
    return identified(ServedProcessModel(model, version=version, folder=folder, batch_size=current.batch_size), model_identity(folder))


def load_first(model_path: str, config: ServerConfig, constitution: Constitution | None) -> tuple[Served, Loader]:
    """Version 1 of the served model and its reload loader: a process reward model folder (no constitution), or an
    outcome one (a per-principle one weighted by ``constitution``; None: its training weights)."""
    from constitution.reward.model import RewardModel
    from constitution.reward.process.model import ProcessRewardModel, is_process_model

    if is_process_model(model_path):
        if constitution is not None:
            raise InputError("--constitution weighs an outcome model's heads; a process reward model has none", where=model_path)
        served = ServedProcessModel(ProcessRewardModel.load(model_path), version=1, folder=str(model_path), batch_size=config.max_batch)
        return identified(served, model_identity(resolve_model(str(model_path)))), load_served_process
    model = RewardModel.load(model_path, constitution=constitution)
    files = list(constitution.files) if constitution is not None else None
    served = ServedModel(
        model, version=1, folder=str(model_path), constitution=constitution, constitution_path=files, batch_size=config.max_batch
    )
    return identified(served, model_identity(resolve_model(str(model_path)))), load_served


def announce(host: str, port: int) -> None:
    """Say where the service listens, once it does (on stdout: the line a user or a script waits for)."""
    print(f"listening on http://{f'[{host}]' if ':' in host else host}:{port}", flush=True)


def serve(model_path: str, config: ServerConfig, constitution: Constitution | None = None) -> None:
    """Load a reward model (see :func:`load_first`) and serve it with uvicorn until SIGINT/SIGTERM (in-flight
    requests finish), printing "listening on http://HOST:PORT" once it listens. ``/reload`` re-reads the
    constitution's files, or the process model's folder."""
    import uvicorn

    class AnnouncingServer(uvicorn.Server):
        async def startup(self, sockets=None) -> None:  # noqa: ANN001 - uvicorn's signature
            await super().startup(sockets)
            if self.started:
                announce(*self.servers[0].sockets[0].getsockname()[:2])

    # Our warnings and the id'ed 500s go to stderr with a timestamp (uvicorn configures only its own loggers).
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    served, loader = load_first(model_path, config, constitution)
    app = create_app(served, config, loader=loader)
    settings = uvicorn.Config(app, host=config.host, port=config.port, log_level="warning", timeout_graceful_shutdown=10)
    AnnouncingServer(settings).run()
