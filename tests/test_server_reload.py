"""One reload mechanism (issue 24 item 5, issue 23 item 4): an authenticated ``POST /reload`` swaps in a new model
folder or re-read constitution without a restart; every answer names the version that scored it. Real MiniLM
models behind a real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path

import httpx
import pytest

from constitution.client import ClientConfig, RewardClient
from constitution.loader import load_constitution
from constitution.model_identity import folder_identity
from constitution.reward.model import RewardModel
from constitution.serve.app import create_app
from constitution.serve.config import ServerConfig
from constitution.serve.main import load_first, load_served
from constitution.serve.served import ServedModel
from tests.helpers.local_server import LocalServer
from tests.helpers.reward_folders import headed_folder, shifted_folder
from tests.reward.principle_data import write_constitution

pytestmark = pytest.mark.reliability

KEY, ADMIN_KEY = "reload-key", "admin-key"
AUTH, ADMIN = {"Authorization": f"Bearer {KEY}"}, {"Authorization": f"Bearer {ADMIN_KEY}"}
SHIFT = 10.0
CLIENTS, REQUESTS = 8, 30


def _app(folder: Path, constitution_path: Path | None = None):
    constitution = load_constitution(constitution_path) if constitution_path else None
    model = RewardModel.load(folder, bf16=False, constitution=constitution)  # fp32: answers comparable to 1e-4
    served = ServedModel(model, version=1, folder=str(folder), constitution=constitution,
                         constitution_path=str(constitution_path) if constitution_path else None)  # fmt: skip
    return create_app(served, ServerConfig(api_key=KEY, admin_key=ADMIN_KEY, max_batch=16), loader=load_served)


async def _load(base_url: str, reload_after: int, reload_body: dict) -> tuple[list[tuple[str, float, float, httpx.Response]], dict]:
    """CLIENTS clients sending REQUESTS one-text /get_reward requests each; after ``reload_after`` answers, one
    reload. Returns (text, sent, answered, response) per request and the reload's times and response."""
    done: list[tuple[str, float, float, httpx.Response]] = []
    reload: dict = {}
    async with httpx.AsyncClient(base_url=base_url, headers=AUTH, timeout=120) as client:

        async def one(c: int) -> None:
            for i in range(REQUESTS):
                text = f"\n\nHuman: question {c}\n\nAssistant: answer number {i} " + "word " * (i % 7)
                sent = time.monotonic()
                response = await client.post("/get_reward", json={"query": [text]})
                done.append((text, sent, time.monotonic(), response))

        async def reloader() -> None:
            while len(done) < reload_after:
                await asyncio.sleep(0.005)
            reload["sent"] = time.monotonic()
            reload["response"] = await client.post("/reload", json=reload_body, headers=ADMIN)
            reload["answered"] = time.monotonic()

        await asyncio.gather(reloader(), *(one(c) for c in range(CLIENTS)))
    return done, reload


@pytest.mark.slow  # 240 requests through a real MiniLM
def test_a_reload_under_load_drops_nothing_and_every_answer_names_its_version(reward_folder, tmp_path):
    new = shifted_folder(reward_folder, tmp_path / "v2", SHIFT)
    app = _app(reward_folder)
    with LocalServer(app) as server:
        assert httpx.post(f"{server.base_url}/reload", json={"model": str(new)}, headers=AUTH).status_code == 401  # the admin key guards it
        done, reload = asyncio.run(_load(server.base_url, CLIENTS * REQUESTS // 3, {"model": str(new)}))
        health = httpx.get(f"{server.base_url}/health").json()
    assert reload["response"].status_code == 200, reload["response"].text
    reloaded = {"version": 2, "previous_version": 1, "model": "", "model_id": folder_identity(new), "constitution_hash": None}
    assert reload["response"].json() | {"model": ""} == reloaded
    assert health["version"] == 2

    assert len(done) == CLIENTS * REQUESTS and all(r.status_code == 200 for *_, r in done), "a request was dropped"
    old = RewardModel.load(reward_folder, bf16=False)
    want = dict(zip([t for t, *_ in done], old.score([t for t, *_ in done])))
    by_version: dict[int, int] = {1: 0, 2: 0}
    for text, sent, answered, response in done:
        body = response.json()
        version = body["version"]
        by_version[version] += 1
        assert body["model"] == str(reward_folder if version == 1 else new)
        expected = want[text] + (SHIFT if version == 2 else 0.0)
        assert body["rewards"] == pytest.approx([expected], abs=1e-3), (version, text)  # scored wholly by that version
        if sent > reload["answered"]:
            assert version == 2, "a request sent after the reload was scored by the old model"
        if answered < reload["sent"]:
            assert version == 1
    assert by_version[1] > 0 and by_version[2] > 0, by_version


def test_a_weight_edit_reaches_the_running_service(tmp_path):
    folder = headed_folder(tmp_path / "headed")
    principles = write_constitution(tmp_path / "principles", {"polite": 1.0, "cites": 1.0, "concise": 1.0})
    texts = ["\n\nHuman: hi\n\nAssistant: Thank you! Hello.", "\n\nHuman: hi\n\nAssistant: Whatever. Source: x.org"]
    with LocalServer(_app(folder, principles)) as server:
        post = lambda path, body: httpx.post(f"{server.base_url}{path}", json=body, headers=ADMIN if path == "/reload" else AUTH, timeout=120)  # noqa: E731
        before = post("/score", {"texts": texts}).json()
        write_constitution(principles, {"polite": 3.0, "cites": 1.0, "concise": 0.0})  # the edit, on disk
        reloaded = post("/reload", {}).json()
        after = post("/score", {"texts": texts}).json()
        bad = write_constitution(tmp_path / "bad", {"polite": 1.0, "harmless": 1.0})  # no head for `harmless`
        refused = post("/reload", {"constitution": str(bad)})
        still = post("/score", {"texts": texts}).json()
        training = post("/reload", {"training_weights": True}).json()

    edited = load_constitution(principles)
    assert (before["version"], reloaded["version"], after["version"]) == (1, 2, 2)
    assert after["constitution_hash"] == edited.hash != before["constitution_hash"]
    library = RewardModel.load(folder, bf16=False, constitution=edited)
    assert after["rewards"] == pytest.approx(library.score(texts, normalize=True), abs=1e-4)
    assert after["rewards"] != pytest.approx(before["rewards"], abs=1e-3)
    assert refused.status_code == 422 and "harmless" in refused.json()["error"] and "still serving version 2" in refused.json()["error"]
    assert still == after
    assert (training["version"], training["constitution_hash"]) == (3, None)


def test_a_reload_retried_by_the_client_loads_once_and_answers_its_first_answer(reward_folder, tmp_path):
    """Issue 32 item 1.6: the client retries a reload that timed out under the same Idempotency-Key; the server
    answers the retry with the first reload's answer (before: 409 "already in progress", or a second reload)."""
    new = shifted_folder(reward_folder, tmp_path / "v2", SHIFT)
    loads: list[str] = []

    def slow_loader(request, current, version):  # the real loader, slowed (the fault: a load outlasting the timeout)
        loads.append(request.model)
        time.sleep(1.0)
        return load_served(request, current, version)

    model = RewardModel.load(reward_folder, bf16=False)
    app = create_app(ServedModel(model, version=1, folder=str(reward_folder)), ServerConfig(api_key=KEY, admin_key=ADMIN_KEY), loader=slow_loader)
    patient = ClientConfig(timeout_s=0.2, max_retries=100, backoff_s=0.05, max_backoff_s=0.2)
    with LocalServer(app) as server, RewardClient(server.base_url, api_key=KEY, admin_key=ADMIN_KEY, config=patient) as client:
        answer = client.reload(str(new))
        health = client.health()
    assert client.policy.retries > 0, "the first attempt was expected to time out"
    assert (answer.version, answer.previous_version, health.version, loads) == (2, 1, 2, [str(new)])


def test_every_answer_names_the_models_content_identity(reward_folder, tmp_path):
    """Issue 32 item 1.9: a version number and a path do not say which weights answered; ``model_id`` does: copies of
    one folder share it, a folder rewritten in place gets a new one (reloaded from the same path), and a re-weighing
    of the served network keeps it."""
    folder = Path(shutil.copytree(reward_folder, tmp_path / "rm"))
    config = ServerConfig(api_key=KEY, admin_key=ADMIN_KEY)
    served, loader = load_first(str(folder), config, None)
    copy, _ = load_first(str(shutil.copytree(reward_folder, tmp_path / "copy")), config, None)
    with LocalServer(create_app(served, config, loader=loader)) as server:
        post = lambda path, body: httpx.post(f"{server.base_url}{path}", json=body, headers=ADMIN if path == "/reload" else AUTH, timeout=120)  # noqa: E731
        first = post("/score", {"texts": ["hi"]}).json()
        shifted_folder(reward_folder, tmp_path / "shifted", SHIFT)
        shutil.rmtree(folder)
        shutil.copytree(tmp_path / "shifted", folder)  # retrained in place: the same path, other weights
        reweighed = post("/reload", {"training_weights": True}).json()  # the served network, not the disk
        rewritten = post("/reload", {"model": str(folder)}).json()
        second = post("/score", {"texts": ["hi"]}).json()
        health = httpx.get(f"{server.base_url}/health").json()
    assert first["model_id"].startswith("sha256:") and first["model_id"] == copy.identity.model_id != folder_identity(folder)
    assert reweighed["model_id"] == first["model_id"] and (reweighed["version"], rewritten["version"]) == (2, 3)
    assert second["model"] == first["model"] and second["model_id"] == rewritten["model_id"] == folder_identity(folder)
    assert second["rewards"][0] == pytest.approx(first["rewards"][0] + SHIFT, abs=1e-3)  # the id changed with the weights
    assert health["model_id"] == second["model_id"] and str(folder) not in json.dumps(health)
