"""The guard in front of every route: the admin key on /reload (no admin key configured, or no way to load models:
/reload is disabled, 403 with the reason), the API key on every other path but /health, then the request-body size
bound."""

from __future__ import annotations

import hmac

from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message as AsgiMessage, Receive, Scope, Send

from constitution.serve.config import ADMIN_KEY_ENV

ADMIN_PATH = "/reload"
OPEN_PATH = "/health"
NO_ADMIN_KEY = f"start the server with --admin-key (or ${ADMIN_KEY_ENV}) to enable it"


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """Every error body is ``{"error": message}``."""
    return JSONResponse(status_code=status, content={"error": message}, headers=headers)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None as soon as it passes ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            break
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > limit:
            return None
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive channel that yields the buffered body first, then whatever the client sends next."""
    pending: list[AsgiMessage] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> AsgiMessage:
        return pending.pop() if pending else await receive()

    return replay


def _holds(headers: Headers, key: str | None) -> bool:
    """Whether the request carries ``key`` (``Authorization: Bearer KEY`` or ``X-API-Key: KEY``); no key: yes."""
    if not key:
        return True
    header = headers.get("authorization", "")
    given = header[7:] if header.lower().startswith("bearer ") else headers.get("x-api-key", "")
    return hmac.compare_digest(given.encode(), key.encode())


class Guard:
    """ASGI middleware in front of everything: the admin key on /reload, the API key on every other path but
    /health, then the body-size bound (from Content-Length, or counted while buffering a body sent without one).
    ``no_reload``: why this service cannot reload at all (/reload is then 403 with it, whatever the key)."""

    def __init__(self, app: ASGIApp, api_key: str | None, admin_key: str | None, max_body_bytes: int, no_reload: str | None = None) -> None:
        self.app = app
        self.api_key = api_key
        self.admin_key = admin_key
        self.max_body_bytes = max_body_bytes
        self.unauthorized = error(401, "missing or wrong API key")
        self.not_admin = error(401, f"missing or wrong admin key ({ADMIN_PATH} takes the admin key, not the API key)")
        disabled = no_reload or (None if admin_key else NO_ADMIN_KEY)
        self.reload_disabled = error(403, f"{ADMIN_PATH} is disabled: {disabled}") if disabled else None
        self.too_large = error(413, f"request body over {max_body_bytes} bytes")

    def _refusal(self, path: str, headers: Headers) -> JSONResponse | None:
        if path == ADMIN_PATH:
            if self.reload_disabled is not None:
                return self.reload_disabled
            return None if _holds(headers, self.admin_key) else self.not_admin
        return None if path == OPEN_PATH or _holds(headers, self.api_key) else self.unauthorized

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = self._refusal(scope["path"], headers)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        length = headers.get("content-length")
        if length is None:
            body = await _read_body(receive, self.max_body_bytes)
            if body is None:
                await self.too_large(scope, receive, send)
                return
            receive = _replay(body, receive)
        elif not length.isdigit() or int(length) > self.max_body_bytes:
            await self.too_large(scope, receive, send)
            return
        await self.app(scope, receive, send)
