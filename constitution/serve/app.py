"""The ASGI app: the guard, the error handlers, the routers, and the batcher's lifetime."""

from __future__ import annotations

import logging
import uuid
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from constitution.serve.auth import Guard, error
from constitution.serve.batcher import Batching, local_batcher
from constitution.serve.config import ServerConfig
from constitution.serve.routes import NonFiniteAnswer, ScoringFailed, Service, admin_router, scoring_router, steps_router
from constitution.serve.schema import NON_FINITE
from constitution.serve.slot import Loader, ModelSlot, Served

log = logging.getLogger(__name__)

RAY_NO_RELOAD = "a reload would reach one Ray Serve replica only; redeploy to change the model"


def _internal_error(request: Request, exc: BaseException, what: str = "internal error", **fields: str) -> JSONResponse:
    """A 500 that says ``what`` failed and names a request id (``fields`` added to its body); the exception and its
    traceback are logged under that id."""
    request_id = uuid.uuid4().hex
    log.error("request %s (%s %s) failed", request_id, request.method, request.url.path, exc_info=(type(exc), exc, exc.__traceback__))
    return JSONResponse(
        status_code=500,
        content={"error": f"{what} (request id {request_id}; the server log has the details)", "request_id": request_id, **fields},
        headers={"X-Request-ID": request_id},
    )


def _expected_fields(request: Request) -> str:
    """What the route's body takes, e.g. "/score takes `items` or `texts`, `normalize`, `explain`" (required fields
    marked), or "" for a route without a body model."""
    field = getattr(request.scope.get("route"), "body_field", None)
    model = getattr(getattr(field, "field_info", None), "annotation", None)
    if not isinstance(model, type) or not issubclass(model, BaseModel):
        return ""
    names = [f"`{name}`" + (" (required)" if info.is_required() else "") for name, info in model.model_fields.items()]
    return f"; {request.url.path} takes {', '.join(names)}"


def _problem(e: dict[str, Any]) -> str:
    where = ".".join(str(part) for part in e["loc"][1:])
    return f"`{where}`: {e['msg']}" if where else e["msg"]


def _handle_errors(app: FastAPI) -> None:
    """Every error body is ``{"error": message}``: 400 malformed JSON, 422 wrong shape (naming what is wrong and the
    fields the route takes), 500 with a request id (naming the item, ``error_kind: non_finite`` and the ``field`` when
    the model scored it NaN or infinite)."""

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return error(400, "malformed JSON")
        message = "invalid request: " + "; ".join(_problem(e) for e in errors) + _expected_fields(request)
        return JSONResponse(status_code=422, content={"error": message, "detail": [{"loc": e["loc"], "msg": e["msg"]} for e in errors]})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(ScoringFailed)
    async def scoring_failed(request: Request, exc: ScoringFailed) -> JSONResponse:
        return _internal_error(request, exc.__cause__ or exc)

    @app.exception_handler(NonFiniteAnswer)
    async def non_finite_answer(request: Request, exc: NonFiniteAnswer) -> JSONResponse:
        return _internal_error(request, exc, str(exc), error_kind=NON_FINITE, field=exc.where)

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> JSONResponse:
        return _internal_error(request, exc)


def create_app(served: Served, config: ServerConfig, *, loader: Loader | None = None, batching: Batching | None = None) -> FastAPI:
    """The ASGI app serving ``served`` (version 1, normally); ``loader`` builds the models that ``/reload`` swaps in
    (without one, ``/reload`` is disabled: 403 with the reason, as without an admin key); ``batching`` makes the batcher in front of the model (default: this
    process's :class:`Batcher`; Ray Serve's replicas use ``@serve.batch``)."""
    slot = ModelSlot(served, loader)
    batcher = (batching or local_batcher)(slot.score, config)
    service = Service(config, slot, batcher)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        batcher.start()
        yield
        await batcher.stop()

    # With a key, no docs or schema: a browser's Swagger UI could not send the key anyway.
    docs: dict[str, Any] = {"docs_url": None, "redoc_url": None, "openapi_url": None} if config.api_key else {}
    app = FastAPI(title="constitution reward service", lifespan=lifespan, **docs)
    app.state.service = service
    app.state.batcher = batcher
    no_reload = None if loader is not None else (RAY_NO_RELOAD if config.engine == "ray" else "this service was started without a model loader")
    app.add_middleware(Guard, api_key=config.api_key, admin_key=config.admin_key, max_body_bytes=config.max_body_bytes, no_reload=no_reload)
    _handle_errors(app)
    app.include_router(admin_router(service))
    app.include_router(scoring_router(service))
    app.include_router(steps_router(service))
    return app
