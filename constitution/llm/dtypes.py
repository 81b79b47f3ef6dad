"""The weights' dtype a backend actually uses. ``auto``: bf16 where it is native (CUDA GPUs with bf16, CPUs with
AMX or AVX512-bf16), fp16 on older GPUs, fp32 on CPUs where bf16 is emulated.

Whatever the weights, the backends compute the option logits in fp32: with bf16 logits the A/B probabilities
collapse to a handful of values (BRIEF §5). Measured on the embedded judge (vLLM, 32 HH pairs, 8 judgments each):
bf16 weights with an fp32 head give labels within 0.008 of full fp32 (BENCHMARKS.md).
"""

from __future__ import annotations

from constitution.devices import bf16_supported


def resolve_dtype(dtype: str, *, cuda: bool | None = None) -> str:
    """``dtype`` itself, or what ``auto`` means on this machine (``cuda`` overrides the GPU detection)."""
    if dtype != "auto":
        return dtype
    if cuda is None:
        import torch

        cuda = torch.cuda.is_available()
    if cuda:
        return "bfloat16" if bf16_supported("cuda") else "float16"
    return "bfloat16" if bf16_supported("cpu") else "float32"
