"""A server under test in its own process on 127.0.0.1 (``constitution serve`` or a pipeline peer), and the CPU
time it and its descendants spend."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

PEERS = Path(__file__).resolve().parent / "_service_peers.py"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu_seconds(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of ``pid`` and each of its descendants, by pid."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return {}
    out = {}
    for p in procs:
        try:
            t = p.cpu_times()
            out[p.pid] = t.user + t.system
        except psutil.Error:
            pass
    return out


class Server:
    """``constitution serve MODEL ARGS`` (or, with ``peer="naive"|"batching"``, a pipeline peer) in its own process
    on a free 127.0.0.1 port; ``with`` starts it and waits until /health answers, and stops it with SIGTERM (then
    ends any descendant left, e.g. a Ray cluster). The API key goes through the environment (the peers ignore it)."""

    def __init__(
        self, model: Path, *args: str, api_key: str | None = None, start_timeout: float = 180, peer: str | None = None
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        server = [str(PEERS), peer] if peer else ["-m", "constitution", "serve"]
        self.command = [sys.executable, *server, str(model), "--port", str(self.port), *args]
        self.env = {k: v for k, v in os.environ.items() if k != "CONSTITUTION_API_KEY"}
        if api_key is not None:
            self.env["CONSTITUTION_API_KEY"] = api_key
        self.start_timeout = start_timeout
        self.log = tempfile.TemporaryFile()
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        self.proc = subprocess.Popen(self.command, stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.time() + self.start_timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"server did not answer /health within {self.start_timeout} s:\n{self.output()}")

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.log.close()

    def cpu_seconds(self) -> dict[int, float]:
        """CPU seconds so far of the server process and each descendant, by pid (diff two with :func:`cpu_used`)."""
        assert self.proc is not None
        return _cpu_seconds(self.proc.pid)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM (in-flight requests finish), then the exit status; descendants still running are then killed."""
        import psutil

        assert self.proc is not None
        try:
            left = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            left = []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        for child in left:
            try:
                child.kill()
            except psutil.Error:
                pass
        return code

    def output(self) -> str:
        """Everything the server printed so far."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two :meth:`Server.cpu_seconds` snapshots (processes born meanwhile count whole)."""
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())
