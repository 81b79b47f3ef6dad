"""Per-principle reward vectors from the service (issue 24 item 1): ``/score`` and OpenRLHF's ``/get_reward`` give
each principle's reward (``extra_logs``: one list per principle) beside the combined reward, normalised, with the
statistics used. A real per-principle MiniLM folder behind a real server on 127.0.0.1."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from constitution.data import Message
from constitution.reward.model import RewardModel
from constitution.serve.app import create_app
from constitution.serve.config import ServerConfig
from constitution.serve.served import ServedModel
from tests.helpers.local_server import LocalServer
from tests.helpers.reward_folders import PRINCIPLES, headed_folder

PROMPTS = ["\n\nHuman: How do I boil an egg?\n\nAssistant:", "\n\nHuman: Who wrote Hamlet?\n\nAssistant:"]
RESPONSES = ["Thank you for asking! Boil it for eight minutes.", "Shakespeare. Source: https://example.org"]


def test_get_reward_and_score_return_each_principles_reward_with_the_statistics(tmp_path):
    folder = headed_folder(tmp_path / "headed")
    model = RewardModel.load(folder, bf16=False)  # fp32: answers comparable to 1e-4
    queries = [p + " " + r + "<|im_end|>" for p, r in zip(PROMPTS, RESPONSES)]  # as OpenRLHF sends them, EOS included
    with LocalServer(create_app(ServedModel(model, version=1, folder=str(folder)), ServerConfig())) as server:
        body = httpx.post(f"{server.base_url}/get_reward", json={"query": queries, "prompts": PROMPTS, "labels": ["", ""]}, timeout=60).json()
        raw = httpx.post(f"{server.base_url}/score", json={"texts": queries, "normalize": False}, timeout=60).json()
        explained = httpx.post(f"{server.base_url}/score", json={"texts": queries, "explain": True}, timeout=60).json()

    items = [([Message(role="user", content=p.split("Human: ")[1].split("\n\n")[0])], r) for p, r in zip(PROMPTS, RESPONSES)]
    heads = np.asarray(model.score_heads(items))
    mean, std = np.asarray(model.metadata.head_mean), np.sqrt(np.diag(model.metadata.head_cov))
    assert set(body) >= {"rewards", "scores", "extra_logs", "normalization", "version"}
    assert body["rewards"] == pytest.approx(model.score(items, normalize=True), abs=1e-4) and body["scores"] == body["rewards"]
    assert list(body["extra_logs"]) == PRINCIPLES and all(len(v) == len(queries) for v in body["extra_logs"].values())
    for k, principle in enumerate(PRINCIPLES):
        assert body["extra_logs"][principle] == pytest.approx(((heads[:, k] - mean[k]) / std[k]).tolist(), abs=1e-4)
        assert body["normalization"]["principles"][principle] == pytest.approx({"mean": mean[k], "std": std[k]})
    assert body["normalization"]["reward"] == pytest.approx({"mean": model.reward_mean, "std": model.reward_std})
    # un-normalised: each principle's raw head output, and the combined reward from them under the weights
    text_heads = np.asarray(model.score_heads(queries))
    assert np.allclose([raw["principles"][p] for p in PRINCIPLES], text_heads.T, atol=1e-4)
    assert raw["rewards"] == pytest.approx(model.score(queries), abs=1e-4) and raw["normalization"] is None
    assert [sum(c.values()) for c in explained["contributions"]] == pytest.approx(explained["rewards"], abs=1e-6)
