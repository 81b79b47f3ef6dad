"""Review fixes for issue 32 (the service and its client): each test failed before its fix. Real MiniLM reward
folders behind a real server on 127.0.0.1 (uvicorn in a thread), except where a test injects a fault and says so."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from constitution.serve.app import create_app
from constitution.serve.config import ServerConfig
from constitution.serve.main import load_first
from tests.helpers.local_server import LocalServer

QUERY = "\n\nHuman: How do I boil an egg?\n\nAssistant: Eight minutes in boiling water."
PROMPT = "\n\nHuman: How do I boil an egg?\n\nAssistant:"

pytestmark = pytest.mark.reliability


@pytest.fixture(scope="module")
def server(reward_folder: Path) -> Iterator[LocalServer]:
    """The embedded MiniLM reward folder, served as `constitution serve` serves it."""
    config = ServerConfig()
    served, loader = load_first(str(reward_folder), config, None)
    with LocalServer(create_app(served, config, loader=loader)) as running:
        yield running


def test_get_reward_refuses_a_misspelled_field_naming_it(server):
    """Before: `prompt` (for `prompts`) was accepted and ignored, so the query was scored as raw text (200)."""
    with httpx.Client(base_url=server.base_url, timeout=60) as client:
        misspelled = client.post("/get_reward", json={"query": [QUERY], "prompt": [PROMPT]})
        missing = client.post("/get_reward", json={"queries": [QUERY], "prompts": [PROMPT]})
        openrlhf = client.post("/get_reward", json={"query": [QUERY], "prompts": [PROMPT], "labels": [None]})
    assert misspelled.status_code == 422, misspelled.text
    assert "`prompt`: Extra inputs are not permitted" in misspelled.json()["error"]
    assert "/get_reward takes `query` (required), `prompts`, `labels`" in misspelled.json()["error"]
    assert missing.status_code == 422 and "`query`: Field required" in missing.json()["error"]
    assert "`queries`" in missing.json()["error"]
    assert openrlhf.status_code == 200 and len(openrlhf.json()["rewards"]) == 1  # what OpenRLHF sends still works


def test_get_reward_takes_a_forks_extra_keys_beside_prompts_and_warns_once_per_key(server, caplog):
    """Before: any key beyond `query`, `prompts`, `labels` was a 422, which one OpenRLHF fork's wrapper turns into a
    reward of 0 for every sample. Beside `prompts` they are ignored (a warning once per key name); without `prompts`
    (a misspelled one) they are still refused, naming them."""
    queries = [QUERY, "\n\nHuman: Say hi.\n\nAssistant: Hi there!"]
    prompts = [PROMPT, "\n\nHuman: Say hi.\n\nAssistant:"]
    forks = {"datasources": ["hh", "hh"], "query_token_ids": [[1, 2], [3]], "prompt_token_lens": [4, 5], "metadata": [{"id": 1}, None]}
    plain = {"query": queries, "prompts": prompts, "labels": [None, None]}
    with caplog.at_level("WARNING", logger="constitution.serve.routes"), httpx.Client(base_url=server.base_url, timeout=60) as client:
        expected = client.post("/get_reward", json=plain)
        answers = [client.post("/get_reward", json=plain | forks) for _ in range(2)]
        misspelled = client.post("/get_reward", json={"query": queries, "prompt": prompts, "datasources": ["hh", "hh"]})
    assert expected.status_code == 200, expected.text
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert answer.json()["rewards"] == expected.json()["rewards"]
    warned = [r.getMessage() for r in caplog.records if "ignoring the key" in r.getMessage()]
    assert sorted(warned) == sorted(f"/get_reward: ignoring the key `{k}` (not one of OpenRLHF's `query`, `prompts`, `labels`)" for k in forks)
    assert misspelled.status_code == 422, misspelled.text
    error = misspelled.json()["error"]
    assert "`prompt`: Extra inputs are not permitted" in error and "`datasources`: Extra inputs are not permitted" in error


def _nan_for(poison: str):
    """Fault injection (a stand-in model): every text scores 1.0 but ``poison``, which scores NaN, as a diverged
    reward model would; the real models give no NaN to test with."""
    from tests.helpers.fake_reward import served

    return served(lambda items: [float("nan") if item == poison else 1.0 for item in items])


def test_a_nan_reward_is_a_500_naming_the_item_never_a_null():
    """Before: the NaN went out as JSON `null` with a 200 (and a retry under the same key got it again)."""
    with LocalServer(create_app(_nan_for("poison"), ServerConfig())) as server, httpx.Client(base_url=server.base_url, timeout=60) as client:
        answers = {
            route: client.post(route, json=body, headers={"Idempotency-Key": route})
            for route, body in (("/score", {"texts": ["ok", "poison"]}), ("/get_reward", {"query": ["ok", "ok", "poison"]}), ("/classify", {"texts": ["poison"]}))
        }
        healthy = client.post("/score", json={"texts": ["ok"]}, headers={"Idempotency-Key": "/score"})
    for route, item in (("/score", 1), ("/get_reward", 2), ("/classify", 0)):
        assert answers[route].status_code == 500, (route, answers[route].text)
        assert f"(item {item} of the request)" in answers[route].json()["error"] and "non-finite" in answers[route].json()["error"]
    assert "`rewards[1]`" in answers["/score"].json()["error"] and "`results[0].score`" in answers["/classify"].json()["error"]
    # the failure was not kept: its key is free for another request
    assert healthy.status_code == 200 and healthy.json()["rewards"] == [1.0]


def _fault_server(answer: dict | Callable[[dict], dict], max_items: int = 256):
    """Fault injection: a server that answers every /score with ``answer`` (or ``answer(body)``; written with NaN
    allowed), as a broken or older service might; its /health gives the real limits (``max_items`` per request)."""
    app = FastAPI()

    @app.get("/health")
    def health() -> dict:
        limits = {"max_items": max_items, "max_body_bytes": 1 << 20}
        return {"version": 1, "idempotency": True, "limits": limits, "batches": 0, "items_scored": 0, "queued_items": 0, "refused": 0}

    @app.post("/score")
    async def score(request: Request) -> Response:
        body = answer(await request.json()) if callable(answer) else answer
        return Response(json.dumps(body), media_type="application/json")

    return LocalServer(app)


@pytest.mark.parametrize("bad", [None, float("nan"), float("inf")])
def test_the_client_raises_on_a_null_or_nan_reward_naming_it(bad):
    """Before: a NaN (or infinity) was returned as a reward, and a null raised pydantic's ValidationError."""
    from constitution.client import RewardClient, ServiceError

    answer = {"version": 1, "model": "m", "rewards": [0.5, bad], "principles": {}, "normalization": None}
    with _fault_server(answer) as server, RewardClient(server.base_url) as client:
        with pytest.raises(ServiceError, match=r"POST /score: .*`rewards(\.1|\[1\])`") as raised:
            client.score(["a", "b"])
    assert type(raised.value).__name__ == "BadAnswer" and raised.value.status == 200


@pytest.mark.parametrize(
    ("rewards", "principles", "where"),
    [([0.5], {}, "1 `rewards`"), ([0.5, 0.1, 0.2], {}, "3 `rewards`"), ([0.5, 0.1], {"polite": [0.3]}, "1 `principles.polite`")],
)
def test_the_client_refuses_an_answer_with_more_or_fewer_scores_than_texts(rewards, principles, where):
    """Before: the client returned the answer as it came, so every reward after a missing one was read as the next
    text's."""
    from constitution.client import AsyncRewardClient, RewardClient, ServiceError

    answer = {"version": 1, "model": "m", "rewards": rewards, "principles": principles, "normalization": None}
    with _fault_server(answer) as server:
        with RewardClient(server.base_url) as client, pytest.raises(ServiceError, match=rf"POST /score: the answer has {where} for the 2 items sent"):
            client.score(["a", "b"])

        async def async_score() -> None:
            async with AsyncRewardClient(server.base_url) as client:
                await client.score(["a", "b"])

        with pytest.raises(ServiceError, match=rf"{where} for the 2 items sent"):
            asyncio.run(async_score())


@pytest.mark.parametrize("threshold", ["1.5", "-0.1", "nan"])
def test_a_threshold_outside_0_1_is_refused_naming_the_flag(threshold, reward_folder, tmp_path, capsys):
    """Before: `classify --threshold 1.5` ran and called every row safe (exit 0); an unsafe score is a probability.
    0 stays accepted: `classify --categories --threshold 0` is how every row gets category scores; so does 1 (see
    the next test)."""
    from constitution.cli import main
    from constitution.cli._flags import build
    from constitution.errors import InputError

    data = tmp_path / "rows.jsonl"
    data.write_text('{"text": "hi"}\n')
    assert main(["classify", str(data), "--out", str(tmp_path / "out.jsonl"), "--model", str(reward_folder), "--threshold", threshold]) == 2
    assert "classify: --threshold: Input should be" in capsys.readouterr().err
    assert main(["eval-safety", "--model", str(reward_folder), "--xstest", str(data), "--threshold", threshold]) == 2
    assert "eval-safety: --threshold: Input should be" in capsys.readouterr().err
    with pytest.raises(InputError, match="serve: --threshold: Input should be"):  # `serve --threshold` (/classify's)
        build(ServerConfig, {"threshold": float(threshold)}, "serve")


def test_a_threshold_of_1_is_accepted_as_classify_prints_it(reward_folder, tmp_path):
    """Before (bound `< 1`): a calibrated threshold of 0.99995 or more, which `classify` prints as `1.0000`, was
    refused when passed back (exit 2); 1 also means something in judge mode. Now [0, 1]."""
    from constitution.cli import main
    from constitution.cli._flags import build
    from constitution.safety.config import ClassifyConfig, SafetyEvalConfig

    data, out = tmp_path / "rows.jsonl", tmp_path / "out.jsonl"
    data.write_text('{"text": "hi"}\n')
    assert main(["classify", str(data), "--out", str(out), "--model", str(reward_folder), "--threshold", f"{0.99996:.4f}"]) == 0
    assert out.read_text().count("\n") == 1
    for config, flags in ((ClassifyConfig, "classify"), (SafetyEvalConfig, "eval-safety"), (ServerConfig, "serve")):
        assert build(config, {"threshold": 1.0}, flags).threshold == 1.0


def test_score_on_a_process_model_refuses_bare_texts_and_scores_items_as_score_steps_does(tmp_path):
    """Before: `/score {"texts": ...}` on a process model scored each text as steps after an empty "Human:" prompt
    turn (200), the prompt's own text read as steps. Now 422 pointing to /score_steps; `items` are scored with
    their prompt, exactly as /score_steps scores the same trace."""
    from tests.helpers.reward_folders import process_folder

    folder = process_folder(tmp_path / "prm")
    config = ServerConfig()
    served, loader = load_first(str(folder), config, None)
    prompt, steps = "Start at 3, then add 2, then double it.", ["3 + 2 = 5", "5 * 2 = 10", "So the answer is 10."]
    with LocalServer(create_app(served, config, loader=loader)) as server, httpx.Client(base_url=server.base_url, timeout=60) as client:
        texts = client.post("/score", json={"texts": [f"{prompt}\n\n" + "\n\n".join(steps)]})
        items = client.post("/score", json={"items": [{"prompt": prompt, "response": "\n\n".join(steps)}]})
        by_steps = client.post("/score_steps", json={"prompts": [prompt], "traces": [steps]})
    assert texts.status_code == 422 and "/score_steps" in texts.json()["error"] and "`items`" in texts.json()["error"]
    assert items.status_code == 200 and items.json()["rewards"] == pytest.approx(by_steps.json()["scores"], abs=1e-6)


def test_reload_is_refused_alike_whenever_this_service_cannot_reload(reward_folder):
    """Before: 403 on a server without an admin key, but 501 ("this service cannot reload models") from the app Ray
    Serve's replicas build (no loader: a reload would reach one replica). Now both are 403 "/reload is disabled: WHY".
    The Ray replica's app is built here as its replicas build it (create_app with no loader, engine "ray"), on a
    plain server: the refusal comes from the app, not from Ray."""
    served, loader = load_first(str(reward_folder), ServerConfig(), None)
    admin = {"Authorization": "Bearer admin-key"}
    apps = {
        "no admin key": create_app(served, ServerConfig(), loader=loader),
        "ray replica": create_app(served, ServerConfig(engine="ray", admin_key="admin-key"), loader=None),
        "no loader": create_app(served, ServerConfig(admin_key="admin-key"), loader=None),
    }
    answers = {}
    for name, app in apps.items():
        with LocalServer(app) as server:
            answers[name] = httpx.post(f"{server.base_url}/reload", json={}, headers=admin, timeout=60)
    assert {name: a.status_code for name, a in answers.items()} == dict.fromkeys(apps, 403)
    assert all(a.json()["error"].startswith("/reload is disabled: ") for a in answers.values())
    assert "--admin-key" in answers["no admin key"].json()["error"]
    assert "redeploy" in answers["ray replica"].json()["error"] and "--admin-key" not in answers["ray replica"].json()["error"]


def test_the_servers_non_finite_500_is_a_bad_answer_in_both_clients_and_not_retried():
    """Before: the client's docs said a NaN reward raises BadAnswer, but a current server answers one with a 500, which
    arrived as a plain ServiceError(status=500). Now the 500 carries `error_kind: non_finite` and the field, and both
    clients raise BadAnswer (status 500) after one attempt. Fault injection: the stand-in model of `_nan_for`."""
    from constitution.client import AsyncRewardClient, BadAnswer, RewardClient

    with LocalServer(create_app(_nan_for("poison"), ServerConfig())) as server:
        raw = httpx.post(f"{server.base_url}/score", json={"texts": ["ok", "poison"]}, timeout=60)
        with RewardClient(server.base_url) as client:
            with pytest.raises(BadAnswer, match=r"POST /score: 500 .*non-finite.*`rewards\[1\]`") as raised:
                client.score(["ok", "poison"])
            sync_attempts = client.policy.attempts

        async def async_score() -> int:
            async with AsyncRewardClient(server.base_url) as client:
                with pytest.raises(BadAnswer, match=r"POST /score: 500 .*`rewards\[1\]`") as raised_async:
                    await client.score(["ok", "poison"])
                assert raised_async.value.status == 500
                return client.policy.attempts

        async_attempts = asyncio.run(async_score())
    assert raw.status_code == 500 and raw.json()["error_kind"] == "non_finite" and raw.json()["field"] == "rewards[1]"
    assert raised.value.status == 500
    assert (sync_attempts, async_attempts) == (1, 1)  # not retried: the model would give the NaN again


def _both_clients(base_url: str, send: Callable) -> list[Exception]:
    """What ``send(client)`` raises with the sync client and with the async one (each must raise)."""
    from constitution.client import AsyncRewardClient, RewardClient

    raised: list[Exception] = []
    with RewardClient(base_url) as client:
        try:
            send(client)
        except Exception as exc:  # noqa: BLE001 - returned for the test to check
            raised.append(exc)

    async def in_async() -> None:
        async with AsyncRewardClient(base_url) as client:
            try:
                await send(client)
            except Exception as exc:  # noqa: BLE001
                raised.append(exc)

    asyncio.run(in_async())
    assert len(raised) == 2, raised
    return raised


def test_a_bad_answer_names_the_item_by_its_place_in_the_whole_call_not_in_its_part():
    """Before: the client sends a long call in parts, and an error named the item by its place in its part: with
    `max_items` 4 and 8 texts, a NaN at item 6 was "item 2 of the request" (`rewards[2]`). Now both clients name
    item 6. Fault injection: the stand-in model of `_nan_for` behind a real server with max_items 4."""
    texts = ["ok"] * 6 + ["poison", "ok"]
    with LocalServer(create_app(_nan_for("poison"), ServerConfig(max_items=4))) as server:
        scored = _both_clients(server.base_url, lambda client: client.score(texts))
        classified = _both_clients(server.base_url, lambda client: client.classify(texts))
    for raised in scored:
        assert type(raised).__name__ == "BadAnswer" and raised.status == 500
        assert "`rewards[6]` (item 6 of the call)" in str(raised), raised
    for raised in classified:
        assert "`results[6].score` (item 6 of the call)" in str(raised), raised


def test_the_clients_own_checks_name_the_item_by_its_place_in_the_whole_call():
    """Before: the client's own checks of a part's answer named the part's index (`rewards[1]`) and its size only.
    Fault injection: a server with max_items 2 that answers NaN for "poison", and one reward too few for a part
    holding "short"."""

    def answer(body: dict) -> dict:
        texts = body["texts"]
        rewards = [float("nan") if t == "poison" else 0.5 for t in texts][: len(texts) - ("short" in texts)]
        return {"version": 1, "model": "m", "rewards": rewards, "principles": {}, "normalization": None}

    with _fault_server(answer, max_items=2) as server:
        nan = _both_clients(server.base_url, lambda client: client.score(["a", "b", "c", "poison"]))
        short = _both_clients(server.base_url, lambda client: client.score(["a", "b", "c", "short"]))
    for raised in nan:
        assert "the answer's `rewards[3]` (item 3 of the call) is not a finite number" in str(raised), raised
    for raised in short:
        assert "the answer has 1 `rewards` for the 2 items sent (items 2 to 3 of the call)" in str(raised), raised
