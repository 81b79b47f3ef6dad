"""The LLM layer: judge and policy models behind one protocol, backends in one registry.

* ``vllm``: in-process ``vllm.LLM`` (:mod:`.vllm_backend`);
* ``openai``: one or more ``vllm serve`` endpoints over HTTP (:mod:`.openai_backend`);
* ``hf``: a transformers forward pass (:mod:`.hf_backend`);
* more by one call to :func:`register_backend`.

``make_llm(llm_config(backend=..., model=...))`` builds one; each streams fp32 option log-probs
(:meth:`LLM.score_options`) and generates text.
"""

from constitution.llm.base import LLM, FeedbackError, OptionRequest, OptionResult
from constitution.llm.config import (
    BackendSettings,
    HfConfig,
    LLMConfig,
    OpenAIConfig,
    VllmConfig,
    backends,
    llm_config,
    register_backend,
)
from constitution.llm.factory import make_llm
from constitution.llm.options import (
    OptionTokenError,
    option_logprobs,
    option_token_ids,
    two_way,
)

__all__ = [
    "LLM",
    "BackendSettings",
    "FeedbackError",
    "HfConfig",
    "LLMConfig",
    "OpenAIConfig",
    "OptionRequest",
    "OptionResult",
    "OptionTokenError",
    "VllmConfig",
    "llm_config",
    "make_llm",
    "option_logprobs",
    "option_token_ids",
    "backends",
    "register_backend",
    "two_way",
]
