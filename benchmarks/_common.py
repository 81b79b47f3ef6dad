"""Shared benchmark helpers: HH data split, child-process runs (own peak RSS each), results files."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import platform
import resource
import sys
from pathlib import Path
from typing import Any, Callable

# The shared evaluation data (HH-RLHF, OpenAI moderation, XSTest): $CONSTITUTION_SHARED_DATA, else ../shared/data
# beside the checkout. Tests read it from here too.
SHARED_DATA = Path(os.environ.get("CONSTITUTION_SHARED_DATA") or Path(__file__).resolve().parents[1].parent / "shared" / "data")
HH = SHARED_DATA / "hh-rlhf" / "harmless-base-test.jsonl.gz"


def hh_split(data: Path, n_train: int, n_test: int | None, split_train: int = 1800, seed: int = 0):
    """The deterministic split (seed 0: ``split_train`` train, rest test), then the first n of each side."""
    from constitution.data import load_pairs, split_pairs

    if not data.exists():
        sys.exit(f"benchmark data not found: {data} (pass --data)")
    pairs, _ = load_pairs(data)
    train, test = split_pairs(pairs, split_train, seed)
    return train[:n_train], test[:n_test] if n_test else test


def peak_rss_mib() -> float:
    """Peak resident memory of this process (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(fn: Callable[..., dict], kwargs: dict, queue) -> None:
    try:
        result = fn(**kwargs)
        result["peak_rss_mib"] = round(peak_rss_mib(), 1)
        queue.put(result)
    except BaseException as exc:  # report, never hang the parent
        queue.put({"error": f"{exc.__class__.__name__}: {exc}"})
        raise


def run_isolated(fn: Callable[..., dict], **kwargs: Any) -> dict:
    """Run fn(**kwargs) in a fresh spawned process so each contender's peak RSS is its own."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn, kwargs, queue))
    proc.start()
    result = queue.get()
    proc.join()
    if "error" in result:
        raise RuntimeError(result["error"])
    return result


def write_results(out: Path, name: str, blob: dict, echo: bool = True) -> Path:
    """Write ``<out>/<name>.json`` (with the run's :func:`provenance` first) and, with ``echo``, print it."""
    blob = {"provenance": provenance(), **blob} if "provenance" not in blob else blob
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    partial = path.with_suffix(".json.partial")  # replaced in one rename: a killed run never leaves half a file
    partial.write_text(json.dumps(blob, indent=2) + "\n")
    partial.replace(path)
    if echo:
        print(json.dumps(blob, indent=2))
    return path


def provenance() -> dict:
    """Command, git commit, date and machine (CPU model and its bf16/AVX-512 flags, cores, torch threads) of a run."""
    import datetime
    import shlex
    import subprocess

    import torch

    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        # changes to what produces results, not to results/ (where a run writes its own file, saved after every unit)
        dirty = bool(subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", ".", ":!benchmarks/results"],
                                    capture_output=True, text=True).stdout.strip())  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        commit, dirty = "unknown", False
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), platform.processor())
    flags = sorted({f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile") if f in cpuinfo.split()})
    return {
        "command": shlex.join([sys.executable.rsplit("/", 1)[-1], *sys.argv]),
        "git_commit": commit + (" (uncommitted changes)" if dirty else ""),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": model,
        "cpu_flags": flags,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
