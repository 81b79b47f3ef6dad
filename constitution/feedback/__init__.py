"""Feedback models (the judge): one protocol, three backends.

* ``vllm``: in-process ``vllm.LLM`` (:mod:`.vllm_backend`);
* ``openai``: one or more ``vllm serve`` endpoints over HTTP (:mod:`.openai_backend`, server helper in :mod:`.serve`);
* ``hf``: a transformers forward pass (:mod:`.hf_backend`).

``make_backend(JudgeConfig(backend=..., model=...))`` builds one; each returns fp32 option log-probs.
"""

from constitution.feedback.base import (
    FeedbackBackend,
    FeedbackError,
    JudgeConfig,
    OptionTokenError,
    make_backend,
)
from constitution.feedback.vllm_env import apply_vllm_env

__all__ = [
    "FeedbackBackend",
    "FeedbackError",
    "JudgeConfig",
    "OptionTokenError",
    "apply_vllm_env",
    "make_backend",
]
