"""The Ray judge pool's edges: a pool that fails to start leaves nothing behind (its actors are killed and the Ray
cluster it started is shut down), and the actors get only the environment variables they need. The fault (actors
that load different models) is injected by a stand-in actor class, a fake, so the tests need neither vLLM nor a
model."""

from __future__ import annotations

import os
import re
import sys
import time

import pytest

from constitution.llm.base import FeedbackError
from constitution.llm.config import RayConfig, VllmConfig



class MismatchedActor:
    """Stands in for JudgeActor (a fake, to inject the fault): every actor reports a model of its own."""

    def __init__(self, config: dict) -> None:
        self.config = config

    def identity(self) -> str:
        return f"fake:{os.getpid()}"

    def pid(self) -> int:
        return os.getpid()


def _gone(pid: int, wait_s: float = 60.0) -> bool:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
@pytest.mark.reliability
def test_actors_loading_different_models_are_killed_and_ray_shut_down(monkeypatch):
    ray = pytest.importorskip("ray", reason="ray is not installed")
    from ray import cloudpickle

    from constitution.llm import ray_pool

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import the tests package
    monkeypatch.setattr(ray_pool, "JudgeActor", MismatchedActor)
    assert not ray.is_initialized()
    try:
        with pytest.raises(FeedbackError, match="judge actors load different models") as info:
            ray_pool.RayJudge(VllmConfig(), RayConfig(actors=2, num_cpus_per_actor=0.1))
        assert not ray.is_initialized()  # the cluster the judge started is shut down
    finally:
        ray.shutdown()
    pids = [int(pid) for pid in re.findall(r"fake:(\d+)", str(info.value))]
    assert len(pids) == 2 and all(_gone(pid) for pid in pids)  # and its actors are gone


def test_actors_get_no_secrets(monkeypatch):
    """What the pool ships to the cluster's nodes (``ray.init`` is replaced by a fake that records its arguments)."""
    ray = pytest.importorskip("ray", reason="ray is not installed")
    from constitution.llm import ray_pool

    env = {"CONSTITUTION_API_KEY": "service-secret", "CONSTITUTION_JUDGE_API_KEY": "endpoint-secret",
           "CONSTITUTION_CACHE": "/models", "VLLM_CPU_KVCACHE_SPACE": "1", "HF_TOKEN": "hub-token",
           "OMP_NUM_THREADS": "1", "VLLM_RPC_BASE_PATH": "/tmp/driver-private", "AWS_SECRET_ACCESS_KEY": "x"}  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    calls: list[dict] = []

    def init(**kwargs):
        calls.append(kwargs)
        raise RuntimeError("stop before starting anything")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", init)
    with pytest.raises(RuntimeError, match="stop before"):
        ray_pool.RayJudge(VllmConfig(), RayConfig())
    shipped = calls[0]["runtime_env"]["env_vars"]
    assert {k: shipped[k] for k in env if k in shipped} == {
        "CONSTITUTION_CACHE": "/models", "VLLM_CPU_KVCACHE_SPACE": "1", "HF_TOKEN": "hub-token", "OMP_NUM_THREADS": "1"
    }  # fmt: skip
