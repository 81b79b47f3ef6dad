"""A server under test in its own process on 127.0.0.1 (``constitution serve`` or a pipeline peer), the CPU time it
and its descendants spend, and ours' padding fill.

The fill (real tokens / tokens computed in the forward passes) is counted inside ours' process from what actually
runs: run as ``python _service_server.py FILL_FILE serve ...``, this module starts ``constitution`` with a forward
pre-hook on every reward model it loads (:func:`count_forward_tokens`): per forward pass, ``input_ids.numel()``
tokens computed, ``attention_mask.sum()`` tokens attended, and the real tokens (those of the pass's distinct rows: a
fixed-shape pass fills a short batch with copies of its first row, and the model scores equal inputs once); after
each pass the running totals replace ``FILL_FILE``. The hook adds a few tensor sums and one small file write per
forward pass to what is measured; the batches themselves are ours' own.
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
            return {"forward_passes": 0, "real_tokens": 0, "attended_tokens": 0, "computed_tokens": 0}

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


def count_forward_tokens(model, totals: dict[str, int], after=None):
    """Count each forward pass of ``model`` into ``totals`` (``forward_passes``, ``computed_tokens`` = input_ids.numel(),
    ``attended_tokens`` = attention_mask.sum(), ``real_tokens`` = the attended tokens of its distinct rows), then
    call ``after(totals)``; returns the hook's handle."""
    import torch

    def hook(module, args, kwargs):
        ids, mask = kwargs["input_ids"], kwargs["attention_mask"]
        distinct = torch.unique(ids, dim=0, return_inverse=True)[1]
        lengths = torch.zeros(int(distinct.max()) + 1, dtype=torch.long).scatter_(0, distinct, mask.sum(1))
        totals["forward_passes"] = totals.get("forward_passes", 0) + 1
        totals["computed_tokens"] = totals.get("computed_tokens", 0) + ids.numel()
        totals["attended_tokens"] = totals.get("attended_tokens", 0) + int(mask.sum())
        totals["real_tokens"] = totals.get("real_tokens", 0) + int(lengths.sum())
        if after is not None:
            after(totals)

    return model.register_forward_pre_hook(hook, with_kwargs=True)


def _serve_counting_fill(fill_file: Path, cli_args: list[str]) -> None:
    """``constitution CLI_ARGS`` with every reward model's forward passes counted into ``fill_file``."""
    from constitution.reward.model import RewardModel

    totals: dict[str, int] = {}
    partial = fill_file.with_suffix(".partial")

    def write(totals: dict[str, int]) -> None:
        partial.write_text(json.dumps(totals))
        partial.replace(fill_file)

    init = RewardModel.__init__

    def counting_init(self, *args, **kwargs) -> None:
        init(self, *args, **kwargs)
        count_forward_tokens(self.model, totals, write)

    RewardModel.__init__ = counting_init
    sys.argv = ["constitution", *cli_args]
    runpy.run_module("constitution", run_name="__main__")


if __name__ == "__main__":
    _serve_counting_fill(Path(sys.argv[1]), sys.argv[2:])
