"""The reward service's settings (limits, batching, the API key): a light module, so the CLI builds ``serve``'s
flags from it without importing the web stack."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ADMIN_KEY_ENV = "CONSTITUTION_ADMIN_KEY"


class ServerConfig(BaseModel):
    """Service limits and batching."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", description="bind address (127.0.0.1: this machine only)")
    port: int = Field(8000, description="TCP port")
    api_key: str | None = Field(None, description="require this key on every route but /health and /reload (also $CONSTITUTION_API_KEY)")
    admin_key: str | None = Field(
        None, description=f"require this key on /reload (also ${ADMIN_KEY_ENV}); without it /reload is disabled (403)"
    )
    max_body_bytes: int = Field(1 << 20, ge=1024, description="larger request bodies are refused with 413")
    max_items: int = Field(256, ge=1, description="more items in one request are refused with 413")
    max_batch: int = Field(64, ge=1, description="items scored together in one forward pass at most")
    max_wait_ms: float = Field(5.0, ge=0.0, description="how long a batch waits for more requests")
    max_queue_items: int = Field(
        4096, ge=1, description="items waiting for a batch at most; a request that would pass it gets 503 + Retry-After"
    )
    max_cached_answer_bytes: int = Field(
        64 << 20, ge=0, description="bytes of answers kept for retried requests (by Idempotency-Key); the oldest go first"
    )
    threshold: float | None = Field(None, ge=0, le=1, description="/classify threshold, in [0, 1]; default: the model's, else 0.5")
    engine: Literal["local", "ray"] = Field("local", description="local: one server process; ray: a Ray Serve deployment")
    replicas: int = Field(1, ge=1, description="Ray Serve replicas (--engine ray), each with its own copy of the model")
    replica_cpus: float = Field(1.0, gt=0, description="CPUs Ray reserves for each replica (--engine ray)")

    @property
    def idempotent(self) -> bool:
        """Whether a retry under the same Idempotency-Key is sure to get the first answer: not with several Ray Serve
        replicas, which keep their answers apart (a retry routed to another replica would be scored again)."""
        return self.engine == "local" or self.replicas == 1

    @model_validator(mode="after")
    def _consistent(self) -> ServerConfig:
        if self.max_queue_items < self.max_items:
            raise ValueError(f"max_queue_items ({self.max_queue_items}) must be at least max_items ({self.max_items})")
        if self.admin_key is not None and self.admin_key == self.api_key:
            raise ValueError("the admin key must differ from the API key (every scoring client holds the API key)")
        if self.engine == "local" and self.replicas != 1:
            raise ValueError("replicas need engine 'ray' (--engine ray)")
        return self
