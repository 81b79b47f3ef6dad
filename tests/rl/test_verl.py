"""verl's custom reward: ``compute_score`` / ``compute_score_batch`` backed by the in-process model or the service.

Where verl imports (it is not in the project's venv: it pins transformers < 5.11), the test drives the functions
through verl's own ``naive`` and ``batch`` reward managers on a real ``DataProto``; everywhere else the same functions
are checked against verl's documented interface (the keyword arguments its managers pass)."""

from __future__ import annotations

import json
import os
from functools import partial

import httpx
import pytest

from benchmarks.bench_service import Server
from constitution.errors import InputError
from constitution.rl import RewardFunction
from constitution.rl.verl import compute_score, compute_score_batch

PROMPTS = ["How do I boil an egg?", "Name a color."]
RESPONSES = ["Boil it for eight minutes.", "Blue."]
KEY = "verl-key-1"


def test_compute_score_follows_verls_signature_in_process(reward_folder):
    expected = RewardFunction.load(reward_folder)(PROMPTS, RESPONSES)
    one = compute_score(data_source="demo", solution_str=RESPONSES[0], ground_truth=None, extra_info={"prompt": PROMPTS[0]}, model=str(reward_folder))
    assert one == pytest.approx(expected[0])
    batch = compute_score_batch(data_sources=["demo"] * 2, solution_strs=RESPONSES, ground_truths=[None, None],
                                extra_infos=[{"prompt": p} for p in PROMPTS], model=str(reward_folder))  # fmt: skip
    assert batch == pytest.approx(expected)
    with pytest.raises(InputError, match="exactly one of"):
        compute_score("demo", "x", None, {}, model=str(reward_folder), url="http://127.0.0.1:1")


@pytest.mark.slow
def test_compute_score_through_the_service_matches_in_process(reward_folder):
    expected = compute_score_batch(["d"] * 2, RESPONSES, [None] * 2, [{"question": p} for p in PROMPTS], model=str(reward_folder))
    with Server(reward_folder, api_key=KEY) as server:
        remote = compute_score_batch(["d"] * 2, RESPONSES, [None] * 2, [{"question": p} for p in PROMPTS], url=server.base_url, api_key=KEY)
    assert remote == pytest.approx(expected, abs=2e-2)  # the service may batch in bf16


def _verl_batch(n: int) -> tuple[list[str], list[dict]]:
    """``n`` distinct responses of 60 B to 8 KB (a verl batch of reasoning answers) and their rows' extra_info."""
    openings = ["Sure", "No", "Maybe", "Certainly", "Sorry", "Well", "First", "Yes"]
    responses = [f"{openings[i % 8]}, answer {i}: " + "the reasoning goes on, step by step. " * (i % 223) + f"So it is {i}." for i in range(n)]
    return responses, [{"prompt": f"Question {i % 64}: how would you do task {i}?"} for i in range(n)]


def test_a_verl_batch_of_1024_is_sent_in_parts_that_fit_the_servers_limits(tmp_path):
    """Issue 32 item 1.2: a real server with its default limits (256 items, 1 MiB) and 1,024 responses (4 MiB):
    one request would be a 413; the parts fit, and every reward comes back in order."""
    from constitution.client import score_call, spans
    from constitution.reward.model import RewardModel
    from constitution.rl import verl
    from constitution.serve.app import create_app
    from constitution.serve.config import ServerConfig
    from constitution.serve.served import ServedModel
    from tests.helpers.local_server import LocalServer
    from tests.helpers.reward_folders import headed_folder

    folder = headed_folder(tmp_path / "headed")  # max_length 64: 1,024 responses score in seconds
    model = RewardModel.load(folder, bf16=False)
    config = ServerConfig(api_key=KEY)
    responses, infos = _verl_batch(1024)
    body = len(json.dumps({"items": [{"prompt": i["prompt"], "response": r} for r, i in zip(responses, infos)]}))
    assert body > config.max_body_bytes and len(responses) > config.max_items
    with LocalServer(create_app(ServedModel(model, version=1, folder=str(folder)), config)) as server:
        rewards = compute_score_batch(["d"] * 1024, responses, [None] * 1024, infos, url=server.base_url, api_key=KEY)
        health = httpx.get(f"{server.base_url}/health").json()
    sample = list(range(0, 1024, 31))
    expected = model.score([(infos[i]["prompt"], responses[i]) for i in sample], normalize=True)
    assert len(rewards) == 1024 and [rewards[i] for i in sample] == pytest.approx(expected, abs=1e-4)
    assert len({round(e, 3) for e in expected}) > 20  # the sample's rewards differ: a misordered part would not match
    policy = verl._client(server.base_url, KEY, 120.0, os.getpid()).policy
    parts = spans(score_call([(i["prompt"], r) for r, i in zip(responses, infos)]), policy.limits)
    assert (policy.limits.max_items, policy.limits.max_body_bytes) == (config.max_items, config.max_body_bytes)
    assert policy.attempts == len(parts) > 1024 // config.max_items  # one request per part (no 413), some split by bytes
    assert health["items_scored"] == 1024


def _scored_in_a_forked_worker(url: str, worker: int) -> list[tuple[float, float]]:
    """(reward, expected) for 20 responses scored through the service in a worker forked from a process that had
    already called it (verl's process-pool reward managers fork their workers from the trainer's process)."""
    responses = ["x" * (worker * 100 + i) for i in range(20)]
    return [(compute_score("d", r, None, {"prompt": "p"}, url=url), float(len(r))) for r in responses]


def test_workers_forked_after_a_call_score_through_their_own_connections():
    """Review: the service client was kept once per process (lru_cache), so a worker forked after the parent's first
    call inherited the parent's pooled keep-alive connection, and several workers wrote their requests onto that one
    socket at once: the server read garbage and answered 400, and that worker's reward call failed, or waited out
    its timeout for an answer another worker read (reproduced on every run with 4 workers). The fake scorer's reward is the response's length, so every reward is checkable."""
    import multiprocessing

    from constitution.serve.app import create_app
    from constitution.serve.config import ServerConfig
    from tests.helpers.fake_reward import served
    from tests.helpers.local_server import LocalServer

    app = create_app(served(lambda items: [float(len(response)) for _, response in items]), ServerConfig(max_wait_ms=0))
    with LocalServer(app) as server:
        assert compute_score("d", "abc", None, {"prompt": "p"}, url=server.base_url) == 3.0  # the parent's pooled connection
        with multiprocessing.get_context("fork").Pool(4) as pool:
            scored = [pair for worker in pool.map(partial(_scored_in_a_forked_worker, server.base_url), range(1, 9)) for pair in worker]
    assert len(scored) == 160 and all(reward == expected for reward, expected in scored)


def test_verls_own_reward_managers(reward_folder, judge_tokenizer):
    pytest.importorskip("verl", reason="verl is not installed here (it pins transformers < 5.11)")
    import numpy as np
    import torch
    from verl import DataProto
    from verl.workers.reward_manager.batch import BatchRewardManager
    from verl.workers.reward_manager.naive import NaiveRewardManager

    tok = judge_tokenizer
    prompts = [tok(p, add_special_tokens=False)["input_ids"] for p in PROMPTS]
    responses = [tok(r, add_special_tokens=False)["input_ids"] for r in RESPONSES]
    width_p, width_r = max(map(len, prompts)), max(map(len, responses))
    pad = tok.pad_token_id or 0
    prompt_ids = torch.tensor([[pad] * (width_p - len(p)) + p for p in prompts])  # verl left-pads prompts
    response_ids = torch.tensor([r + [pad] * (width_r - len(r)) for r in responses])  # and right-pads responses
    mask = torch.tensor([[0] * (width_p - len(p)) + [1] * len(p) + [1] * len(r) + [0] * (width_r - len(r)) for p, r in zip(prompts, responses)])
    data = DataProto.from_dict(
        tensors={"prompts": prompt_ids, "responses": response_ids, "attention_mask": mask},
        non_tensors={"data_source": np.array(["demo", "demo"], dtype=object),
                     "reward_model": np.array([{"ground_truth": None}] * 2, dtype=object),
                     "extra_info": np.array([{"prompt": p} for p in PROMPTS], dtype=object)},
    )  # fmt: skip
    expected = RewardFunction.load(reward_folder)(PROMPTS, RESPONSES)
    kwargs = {"model": str(reward_folder)}
    naive = NaiveRewardManager(tok, 0, compute_score=lambda **kw: compute_score(**kw, **kwargs))
    batch = BatchRewardManager(tok, 0, compute_score=compute_score_batch, **kwargs)
    for manager in (naive, batch):
        tensor = manager(data)
        lengths = [len(r) for r in responses]
        assert [float(tensor[i, n - 1]) for i, n in enumerate(lengths)] == pytest.approx(expected, abs=1e-4)
