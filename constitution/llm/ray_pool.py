"""A judge spread over Ray actors, each holding one in-process vLLM engine (``engine: ray``).

The labeler runs unchanged on the driver (planning, the judgment cache, records); only option scoring goes to the
actors. :meth:`RayJudge.score_options` sends batches of prompts (token ids) to the actors, two batches in flight
per actor so none waits, and yields each batch's answers as it comes back. Ray restarts an actor that dies
(``max_restarts``) and re-runs the call it was serving, so a lost worker costs time, never a judgment; a driver
killed mid-run resumes from the judgment cache.

On a cluster, install this package (and vLLM) on every node, start Ray (``ray start --head`` / ``--address``),
and pass ``address: auto`` with ``num_gpus_per_actor: 1`` for one judge per GPU.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from constitution.llm.base import FeedbackError, OptionRequest, OptionResult
from constitution.llm.config import RayConfig, VllmConfig
from constitution.llm.options import OptionScoring
from constitution.embedded_models import display_name, resolve_model

IN_FLIGHT_PER_ACTOR = 2
_ACTOR_ENV_PREFIXES = ("VLLM_", "OMP_", "TORCHINDUCTOR_", "HF_", "TOKENIZERS_")
_ACTOR_ENV_NAMES = ("CONSTITUTION_CACHE",)
_NOT_FOR_ACTORS = ("VLLM_RPC_BASE_PATH",)  # the driver's private socket folder: each actor makes its own


def actor_env(environ: dict[str, str]) -> dict[str, str]:
    """The variables the judge actors need (vLLM, threads, Hugging Face, the model cache), and nothing else: no
    service or endpoint key travels to the cluster's nodes."""
    return {
        k: v
        for k, v in environ.items()
        if (k.startswith(_ACTOR_ENV_PREFIXES) or k in _ACTOR_ENV_NAMES) and k not in _NOT_FOR_ACTORS
    }


class JudgeActor:
    """One in-process vLLM judge (the class Ray runs as an actor)."""

    def __init__(self, config: dict[str, Any]) -> None:
        from constitution.llm.vllm_backend import VllmBackend

        self.backend = VllmBackend(VllmConfig.model_validate(config))

    def identity(self) -> str:
        return self.backend.identity

    def pid(self) -> int:
        return os.getpid()

    def score(self, requests: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.backend.score_options(OptionRequest(*r) for r in requests)]

    def generate(self, prompts: list[str], kwargs: dict[str, Any]) -> list[list[str]]:
        return self.backend.generate(prompts, **kwargs)


class RayJudge(OptionScoring):
    """The LLM protocol over a pool of :class:`JudgeActor`."""

    def __init__(self, config: VllmConfig, ray_config: RayConfig) -> None:
        import ray
        from transformers import AutoTokenizer

        self.ray_config = ray_config
        self._started_ray = not ray.is_initialized()
        if self._started_ray:
            env = actor_env(dict(os.environ))
            ray.init(address=ray_config.address, runtime_env={"env_vars": env}, include_dashboard=False, log_to_driver=False)
        actor = ray.remote(
            num_cpus=ray_config.num_cpus_per_actor,
            num_gpus=ray_config.num_gpus_per_actor,
            max_restarts=ray_config.max_restarts,
            max_task_retries=ray_config.max_restarts,
        )(JudgeActor)
        self.actors: list[Any] = []
        try:
            self.actors = [actor.remote(config.model_dump()) for _ in range(ray_config.actors)]
            identities = set(ray.get([a.identity.remote() for a in self.actors]))
            if len(identities) != 1:
                raise FeedbackError(f"the judge actors load different models: {sorted(identities)}")
        except BaseException:
            self.close()  # no actor (or Ray cluster of ours) outlives a judge that failed to start
            raise
        self.identity = identities.pop()
        self.name = f"vllm:{display_name(config.model)}"
        self.max_model_len = config.max_model_len
        self.tokenizer = AutoTokenizer.from_pretrained(resolve_model(config.model))

    def score_options(self, requests: Iterable[OptionRequest]) -> Iterator[OptionResult]:
        """Stream answers, keeping ``IN_FLIGHT_PER_ACTOR`` batches at every actor."""
        import ray

        source = iter(requests)
        pending: dict[Any, int] = {}  # object ref -> actor index

        def submit(index: int) -> bool:
            batch = list(islice(source, self.ray_config.batch_requests))
            if batch:
                pending[self.actors[index].score.remote([tuple(r) for r in batch])] = index
            return bool(batch)

        for index in range(len(self.actors)):
            for _ in range(IN_FLIGHT_PER_ACTOR):
                submit(index)
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                index = pending.pop(ready[0])
                try:
                    answers = ray.get(ready[0])
                except ray.exceptions.RayActorError as exc:
                    raise FeedbackError(f"judge actor {index} died and could not be restarted: {exc}") from exc
                submit(index)
                yield from (OptionResult(*answer) for answer in answers)
        finally:
            for ref in pending:
                ray.cancel(ref)

    def generate(self, prompts: list[str], **kwargs: Any) -> list[list[str]]:
        """Completions from the actors, the prompts split evenly between them."""
        import ray

        share = -(-len(prompts) // len(self.actors)) or 1
        parts = [prompts[i : i + share] for i in range(0, len(prompts), share)]
        refs = [self.actors[k].generate.remote(part, kwargs) for k, part in enumerate(parts)]
        return [texts for part in ray.get(refs) for texts in part]

    def close(self) -> None:
        """Stop the actors (and the local Ray cluster this judge started)."""
        import ray

        for actor in self.actors:
            ray.kill(actor)
        self.actors = []
        if self._started_ray:
            ray.shutdown()
