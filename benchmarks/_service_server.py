"""A server under test in its own process on 127.0.0.1 (``constitution serve`` or a pipeline peer), the CPU time it
and its descendants spend, and ours' padding fill.

The fill (real tokens / tokens computed in the forward passes) is counted inside ours' process: run as
``python _service_server.py FILL_FILE serve ...``, this module starts ``constitution`` with the reward model's
``forward_batches`` wrapped so that, after each call, the running totals (forward passes, real and computed tokens)
replace ``FILL_FILE``. The wrapper adds a sum over at most a few hundred lengths and one small file write per server
batch to what is measured; the batches themselves are ours' own.
"""

from __future__ import annotations

import json
import os
import runpy
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
        self, model: Path, *args: str, api_key: str | None = None, start_timeout: float = 180, peer: str | None = None,
        fill_file: Path | None = None,
    ) -> None:  # fmt: skip
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.fill_file = fill_file
        ours = [__file__, str(fill_file), "serve"] if fill_file else ["-m", "constitution", "serve"]
        server = [str(PEERS), peer] if peer else ours
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

    def fill_totals(self) -> dict[str, int]:
        """Ours' forward passes, real and computed tokens so far (zeros before the first batch; needs ``fill_file``)."""
        assert self.fill_file is not None
        try:
            return json.loads(self.fill_file.read_text())
        except FileNotFoundError:
            return {"forward_passes": 0, "real_tokens": 0, "computed_tokens": 0}

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


def padding_fill(before: dict[str, int], after: dict[str, int]) -> float | None:
    """Real tokens / computed tokens of the forward passes between two :meth:`Server.fill_totals` snapshots."""
    computed = after["computed_tokens"] - before["computed_tokens"]
    return (after["real_tokens"] - before["real_tokens"]) / computed if computed else None


def _serve_counting_fill(fill_file: Path, cli_args: list[str]) -> None:
    """``constitution CLI_ARGS`` with the reward model's forward batches counted into ``fill_file``."""
    import constitution.reward.model as reward_model
    from constitution.batching import FIXED_ROWS

    forward_batches = reward_model.forward_batches
    totals = {"forward_passes": 0, "real_tokens": 0, "computed_tokens": 0}
    partial = fill_file.with_suffix(".partial")

    def counted(lengths, batch_size, **kwargs):
        batches = forward_batches(lengths, batch_size, **kwargs)
        for rows, width in batches:  # a fixed-shape pass (width set) runs FIXED_ROWS rows, copies filling a short one
            totals["forward_passes"] += 1
            totals["real_tokens"] += sum(lengths[i] for i in rows)
            totals["computed_tokens"] += FIXED_ROWS * width if width else len(rows) * max(lengths[i] for i in rows)
        partial.write_text(json.dumps(totals))
        partial.replace(fill_file)
        return batches

    reward_model.forward_batches = counted
    sys.argv = ["constitution", *cli_args]
    runpy.run_module("constitution", run_name="__main__")


if __name__ == "__main__":
    _serve_counting_fill(Path(sys.argv[1]), sys.argv[2:])
