"""What the machine does fast: bf16 is native on CUDA GPUs with bf16 and on CPUs with AMX or AVX512-bf16;
elsewhere it is emulated and slower than fp32."""

from __future__ import annotations

from pathlib import Path


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AMX-BF16 or AVX512-BF16 in /proc/cpuinfo)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def bf16_supported(device: object) -> bool:
    """bf16 pays off on ``device`` (a torch.device or its type string)."""
    kind = getattr(device, "type", device)
    if kind == "cuda":
        import torch

        return bool(torch.cuda.is_bf16_supported())
    return cpu_has_native_bf16()


def bf16_scoring(device: object) -> bool:
    """Reward and process models score under bf16 autocast by default on CUDA GPUs with bf16 only.

    Scoring must be batch-invariant (a reward service answers a text the same under any load), and under bf16 that
    takes one forward shape per input length (:func:`constitution.batching.fixed_shape_batches`). On CPUs, AMX
    included, that ran slower than fp32's length-sorted batches (``benchmarks/bench_reward_dtype.py``, BENCHMARKS.md
    "Reward scoring: fp32 or bf16"), and fp32 is invariant to 1e-6 by itself; training keeps bf16 where native.
    """
    return getattr(device, "type", device) == "cuda" and bf16_supported(device)
