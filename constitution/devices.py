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

