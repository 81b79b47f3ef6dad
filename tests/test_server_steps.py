"""The service's step-scoring route (issue 25 item 4): a process reward model served by ``constitution serve``
answers ``/score_steps`` with each step's score and each trace's aggregate, exactly as the library scores them, behind
the same key, limits and idempotency as every route; ``/score`` and ``/get_reward`` answer the aggregate; ``/reload``
swaps process models only. Real MiniLM process folders (seeded heads, no training) behind a real server on 127.0.0.1."""

from __future__ import annotations

import math
from pathlib import Path

import httpx
import pytest

from constitution.data import Message
from constitution.errors import InputError
from constitution.loader import load_constitution
from constitution.model_identity import folder_identity
from constitution.reward.process.metrics import aggregate
from constitution.resources import default_principles
from constitution.reward.process.model import ProcessRewardModel
from constitution.serve.app import create_app
from constitution.serve.config import ServerConfig
from constitution.serve.main import load_first, load_served, load_served_process
from constitution.serve.served import ServedModel
from constitution.serve.served_process import ServedProcessModel
from tests.helpers.local_server import LocalServer
from tests.helpers.reward_folders import process_folder

KEY, ADMIN_KEY = "steps-key", "steps-admin-key"
AUTH, ADMIN = {"Authorization": f"Bearer {KEY}"}, {"Authorization": f"Bearer {ADMIN_KEY}"}
PROMPTS = ["Start at 3, then add 2, then double it.", "Start at 10 and subtract 4."]
TRACES = [["3 + 2 = 5", "5 * 2 = 10", "So the answer is 10."], ["10 - 4 = 6", "I guess it is about 7"]]


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("prm")
    return process_folder(root / "a"), process_folder(root / "b", bias=3.0, aggregate="product")


def _model(folder: Path) -> ProcessRewardModel:
    model = ProcessRewardModel.load(folder, device="cpu")
    model.bf16 = False  # fp32: answers comparable to 1e-5
    return model


def _app(model: ProcessRewardModel, folder: Path, **config):
    served = ServedProcessModel(model, version=1, folder=str(folder), batch_size=4)
    return create_app(served, ServerConfig(api_key=KEY, admin_key=ADMIN_KEY, **config), loader=load_served_process)


def test_score_steps_gives_the_librarys_step_scores_behind_the_same_guards(folders):
    folder = folders[0]
    model = _model(folder)
    chat = [Message(role="user", content=PROMPTS[1])]
    expected = model.step_scores([(PROMPTS[0], TRACES[0]), (chat, TRACES[1])])
    assert len({round(s, 4) for s in expected[0]}) == 3  # the seeded head tells the steps apart
    with LocalServer(_app(model, folder, max_items=3)) as server, httpx.Client(base_url=server.base_url, headers=AUTH, timeout=60) as client:
        prompts = [PROMPTS[0], [{"role": "user", "content": PROMPTS[1]}]]
        body = client.post("/score_steps", json={"prompts": prompts, "traces": TRACES}).json()
        last = client.post("/score_steps", json={"prompts": prompts, "traces": TRACES, "aggregate": "product"}).json()
        joined = client.post("/score_steps", json={"prompts": PROMPTS, "completions": ["\n\n".join(t) for t in TRACES]}).json()
        score = client.post("/score", json={"items": [{"prompt": p, "response": "\n\n".join(t)} for p, t in zip(PROMPTS, TRACES)]}).json()
        reward = client.post("/get_reward", json={"query": [PROMPTS[0] + "\n\n".join(TRACES[0])], "prompts": [PROMPTS[0]]}).json()
        no_prompts = client.post("/get_reward", json={"query": ["\n\n".join(TRACES[0])]})
        refusals = [
            httpx.post(f"{server.base_url}/score_steps", json={"prompts": PROMPTS, "traces": TRACES}).status_code,
            client.post("/score_steps", json={"prompts": PROMPTS * 2, "traces": TRACES * 2}).status_code,
            client.post("/score_steps", json={"prompts": PROMPTS, "traces": TRACES[:1]}).status_code,
            client.post("/score_steps", json={"prompts": PROMPTS, "traces": [TRACES[0], []]}).status_code,
            client.post("/score_steps", json={"prompts": PROMPTS, "traces": TRACES, "aggregate": "mean"}).status_code,
            client.post("/classify", json={"texts": ["a step"]}).status_code,
            client.post("/score", json={"texts": ["a step"], "explain": True}).status_code,
        ]
        once = [client.post("/score_steps", json={"prompts": PROMPTS, "traces": TRACES}, headers={"Idempotency-Key": "k1"}).json() for _ in range(2)]
        health = client.get("/health").json()

    assert body["version"] == 1 and body["model"] == str(folder) and body["aggregate"] == "min" and body["threshold"] == 0.5
    for got, want in zip(body["step_scores"], expected):
        assert got == pytest.approx(want, abs=1e-5)
    assert body["scores"] == pytest.approx([min(s) for s in expected], abs=1e-5) and body["truncated_steps"] == [0, 0]
    assert body["first_error"] == [model.first_error(s) for s in expected]
    assert last["aggregate"] == "product" and last["scores"] == pytest.approx([math.prod(s) for s in expected], abs=1e-5)
    assert last["step_scores"] == body["step_scores"]
    # Completions split at the model's separator, as best-of-n and the TRL reward split them.
    assert joined["step_scores"][0] == pytest.approx(expected[0], abs=1e-5)
    library = model.score([(p, "\n\n".join(t)) for p, t in zip(PROMPTS, TRACES)])
    assert score["rewards"] == pytest.approx(library, abs=1e-5) and score["principles"] == {} and score["normalization"] is None
    assert reward["rewards"] == pytest.approx([aggregate(expected[0], "min")], abs=1e-5)
    # Issue 34 item 7: without `prompts` the query was scored as steps with no prompt (the prompt's text as a step).
    assert no_prompts.status_code == 422 and "send `prompts`" in no_prompts.json()["error"]
    assert reward["normalization"] is None and reward["version"] == 1
    assert refusals == [401, 413, 422, 422, 422, 422, 422]
    assert once[0] == once[1] and health["items_scored"] == 2 + 2 + 2 + 2 + 1 + 2  # the retried request was not scored again


def test_reload_swaps_process_models_only_and_an_outcome_service_refuses_steps(folders, reward_folder):
    first, second = folders
    with LocalServer(_app(_model(first), first)) as server, httpx.Client(base_url=server.base_url, headers=AUTH, timeout=60) as client:
        request = {"prompts": PROMPTS, "traces": TRACES}
        before = client.post("/score_steps", json=request).json()
        refused = [
            client.post("/reload", json={"model": str(reward_folder)}, headers=ADMIN),
            client.post("/reload", json={"training_weights": True}, headers=ADMIN),
        ]
        reloaded = client.post("/reload", json={"model": str(second)}, headers=ADMIN).json()
        after = client.post("/score_steps", json=request).json()
        again = client.post("/reload", json={}, headers=ADMIN).json()  # the served folder read again from disk
    assert [r.status_code for r in refused] == [422, 422] and "still serving version 1" in refused[0].json()["error"]
    assert reloaded == {"version": 2, "model": str(second), "model_id": folder_identity(second), "constitution_hash": None, "previous_version": 1}
    want = _model(second).step_scores([(p, t) for p, t in zip(PROMPTS, TRACES)])
    assert after["version"] == 2 and after["aggregate"] == "product" and after["step_scores"][1] == pytest.approx(want[1], abs=1e-4)
    assert after["step_scores"] != before["step_scores"]
    assert again["version"] == 3 and again["model"] == str(second)

    outcome, loader = load_first(str(reward_folder), ServerConfig(), None)
    assert isinstance(outcome, ServedModel) and loader is load_served
    with LocalServer(create_app(outcome, ServerConfig(admin_key=ADMIN_KEY), loader=load_served)) as server:
        steps = httpx.post(f"{server.base_url}/score_steps", json=request, timeout=60)
        swap = httpx.post(f"{server.base_url}/reload", json={"model": str(first)}, headers=ADMIN, timeout=60)
    assert steps.status_code == 422 and "process reward model" in steps.json()["error"]
    assert swap.status_code == 422 and "process reward model" in swap.json()["error"]
    with pytest.raises(InputError, match="no principle heads|has none"):  # `serve PRM_DIR --constitution PATH`: exit 2
        load_first(str(first), ServerConfig(), load_constitution(default_principles()))


def test_a_process_service_names_the_step_principles_its_labels_were_made_under(tmp_path):
    """/health and answers report the hash its metadata records (issue 33 item 4, for process models too)."""
    from constitution.reward.process.model import PROCESS_FILE, ProcessMetadata, write_process_metadata
    from constitution.serve.config import ServerConfig
    from constitution.serve.main import load_first
    from tests.helpers.reward_folders import process_folder

    folder = process_folder(tmp_path / "prm")
    meta = ProcessMetadata.model_validate_json((folder / PROCESS_FILE).read_text())
    write_process_metadata(folder, meta.model_copy(update={"step_principles_hash": ["abc123"]}))
    served, _ = load_first(str(folder), ServerConfig(), None)
    assert served.identity.constitution_hash == "abc123"
