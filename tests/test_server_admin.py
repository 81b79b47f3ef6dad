"""The admin key (issue 32 item 1.7): /reload takes only the admin key, and without one it is disabled; the scoring
key cannot reload; /health (no key) names no folder. A real MiniLM reward folder behind a real server on 127.0.0.1."""

from __future__ import annotations

import httpx
import pytest

from constitution.client import AuthError, RewardClient
from constitution.reward.model import RewardModel
from constitution.serve.app import create_app
from constitution.serve.config import ServerConfig
from constitution.serve.main import load_served
from constitution.serve.served import ServedModel
from tests.helpers.local_server import LocalServer

pytestmark = pytest.mark.reliability

KEY, ADMIN = "scoring-key", "admin-key"


@pytest.fixture(scope="module")
def model(reward_folder):
    return RewardModel.load(reward_folder, bf16=False)


def _server(model, folder, **keys) -> LocalServer:
    return LocalServer(create_app(ServedModel(model, version=1, folder=str(folder)), ServerConfig(**keys), loader=load_served))


def _post(server: LocalServer, path: str, key: str | None, body: dict) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(f"{server.base_url}{path}", json=body, headers=headers, timeout=60)


@pytest.mark.parametrize("keys", [{"api_key": KEY}, {}], ids=["scoring key only", "no keys"])
def test_without_an_admin_key_reload_is_disabled(model, reward_folder, keys):
    with _server(model, reward_folder, **keys) as server:
        refused = [_post(server, "/reload", key, {}) for key in (None, KEY, ADMIN)]
        scored = _post(server, "/score", keys.get("api_key"), {"texts": ["hi"]})
    assert {r.status_code for r in refused} == {403} and scored.status_code == 200
    assert "/reload is disabled" in refused[0].json()["error"] and "--admin-key" in refused[0].json()["error"]


def test_reload_takes_the_admin_key_and_nothing_else(model, reward_folder):
    with _server(model, reward_folder, api_key=KEY, admin_key=ADMIN) as server:
        by_key = {key: _post(server, "/reload", key, {}) for key in (None, KEY, "wrong")}
        scoring_with_admin = _post(server, "/score", ADMIN, {"texts": ["hi"]})
        reloaded = _post(server, "/reload", ADMIN, {})
        with RewardClient(server.base_url, api_key=KEY) as scorer, pytest.raises(AuthError, match="admin key"):
            scorer.reload()
        with RewardClient(server.base_url, api_key=KEY, admin_key=ADMIN) as admin:
            again = admin.reload()
            assert admin.score(["hi"]).version == 3  # the scoring routes still take the API key
        health = httpx.get(f"{server.base_url}/health")
    assert {r.status_code for r in by_key.values()} == {401} and "admin key" in by_key[KEY].json()["error"]
    assert scoring_with_admin.status_code == 401  # the admin key is not a scoring key
    assert (reloaded.status_code, reloaded.json()["version"], again.version) == (200, 2, 3)
    assert health.json()["version"] == 3 and str(reward_folder) not in health.text and "model" not in health.json()


def test_the_admin_key_must_differ_from_the_api_key():
    with pytest.raises(ValueError, match="must differ"):
        ServerConfig(api_key="same", admin_key="same")
