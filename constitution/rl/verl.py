"""verl custom reward functions: ``compute_score`` (one response) and ``compute_score_batch`` (verl's ``batch`` reward
manager), backed by the in-process reward model (loaded once per process and kept) or by ``constitution serve``.

verl passes the decoded response (``solution_str``), the data source, the ground truth and the row's ``extra_info``;
it does not pass the prompt, so put it in ``extra_info["prompt"]`` (a string or chat messages) when preparing the
data (``extra_info["question"]`` is read too); without it the response is scored alone. Where the model lives comes
from ``custom_reward_function.reward_kwargs``: ``model`` (a reward folder; ``constitution``: a principles folder for
a per-principle model's weights) or ``url`` (the service's base URL; ``api_key``, else ``$CONSTITUTION_API_KEY``).
The service is called through :class:`~constitution.client.RewardClient`: a verl batch (hundreds to thousands of
responses) is sent in parts that fit the server's limits, and a busy server's 503 is retried. The reward is the
normalised one. See the README for the config snippet.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from constitution.client import ClientConfig, RewardClient
from constitution.errors import InputError
from constitution.rl.reward import RewardFunction

API_KEY_ENV = "CONSTITUTION_API_KEY"
_LOCK = threading.Lock()


@lru_cache(maxsize=4)
def _local(model: str, constitution: str | None) -> RewardFunction:
    from constitution.loader import load_constitution

    return RewardFunction.load(model, constitution=load_constitution(constitution) if constitution else None)


def _prompt(extra_info: Any) -> Any:
    info = extra_info if isinstance(extra_info, dict) else {}
    return info.get("prompt") or info.get("question") or ""


@lru_cache(maxsize=4)
def _client(url: str, api_key: str | None, timeout_s: float, pid: int) -> RewardClient:
    """One client per service and process (its connections and the server's limits kept between verl's steps);
    ``pid`` keys it to this process: a worker forked from it (verl's process-pool reward managers) builds its own
    instead of writing onto the parent's pooled connections."""
    return RewardClient(url, api_key=api_key, config=ClientConfig(timeout_s=timeout_s))


def compute_score_batch(
    data_sources: Sequence[Any],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Any] | None = None,
    *,
    model: str | None = None,
    url: str | None = None,
    constitution: str | None = None,
    api_key: str | None = None,
    timeout_s: float = 120.0,
    **_: Any,
) -> list[float]:
    """Normalised rewards for a batch of responses (verl's ``batch`` reward manager signature)."""
    if (model is None) == (url is None):
        raise InputError("the verl reward needs exactly one of reward_kwargs.model (a reward folder) or reward_kwargs.url (the service)")
    infos = list(extra_infos) if extra_infos is not None else [None] * len(solution_strs)
    prompts = [_prompt(info) for info in infos]
    if url is not None:
        client = _client(url.rstrip("/"), api_key or os.environ.get(API_KEY_ENV), timeout_s, os.getpid())
        return client.score(list(zip(prompts, solution_strs))).rewards
    with _LOCK:  # one model per process, shared by verl's reward threads
        reward = _local(str(model), constitution)
        return reward.score(list(zip(prompts, solution_strs)))


def compute_score(
    data_source: Any, solution_str: str, ground_truth: Any, extra_info: Any = None, **kwargs: Any
) -> float:
    """Normalised reward of one response (verl's custom ``compute_score`` signature; ``naive`` reward manager)."""
    return compute_score_batch([data_source], [solution_str], [ground_truth], [extra_info], **kwargs)[0]
