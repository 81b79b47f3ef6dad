"""An empty batch (issue 33 item 2): every scoring route answers ``{"texts": []}``-like requests as it answers a
one-item request (200 with empty lists, or the route's own 422 for a model kind it does not serve), never a 500.
Real MiniLM folders (a per-principle outcome model and a process model) behind a real server on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from constitution.serve.app import create_app
from constitution.serve.config import ServerConfig
from constitution.serve.main import load_first
from tests.helpers.local_server import LocalServer
from tests.helpers.reward_folders import headed_folder, process_folder

# (empty body, the same body with one item) per scoring route
CASES: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {
    "/score": [
        ({"texts": []}, {"texts": ["hi"]}),
        ({"items": []}, {"items": [{"prompt": "hi", "response": "hello"}]}),
        ({"items": [], "normalize": False}, {"items": [{"response": "hello"}], "normalize": False}),
        ({"texts": [], "explain": True}, {"texts": ["hi"], "explain": True}),
    ],
    "/classify": [({"texts": []}, {"texts": ["hi"]}), ({"items": []}, {"items": [{"response": "hello"}]})],
    "/get_reward": [({"query": []}, {"query": ["hi"]}), ({"query": [], "prompts": []}, {"query": ["Q: hi A: ok"], "prompts": ["Q: hi A:"]})],
    "/score_steps": [
        ({"prompts": [], "traces": []}, {"prompts": ["1 + 1?"], "traces": [["1 + 1 = 2", "So 2."]]}),
        ({"prompts": [], "completions": [], "aggregate": "min"}, {"prompts": ["1 + 1?"], "completions": ["1 + 1 = 2\n\nSo 2."], "aggregate": "min"}),
    ],
}


def _lists(value: Any) -> list[list]:
    """Every list inside an answer (lists of lists count once, as the outer list)."""
    if isinstance(value, list):
        return [value]
    if isinstance(value, dict):
        return [found for v in value.values() for found in _lists(v)]
    return []


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("empty")
    return {"outcome": headed_folder(root / "headed"), "process": process_folder(root / "prm")}


@pytest.mark.parametrize("kind", ["outcome", "process"])
def test_every_route_answers_an_empty_batch_as_it_answers_one_item(folders, kind):
    config = ServerConfig()
    served, loader = load_first(str(folders[kind]), config, None)
    app = create_app(served, config, loader=loader)
    scoring = {route.path for route in app.routes if "POST" in getattr(route, "methods", ())} - {"/reload"}
    assert scoring == CASES.keys(), "a scoring route without an empty-batch case here"
    with LocalServer(app) as server, httpx.Client(base_url=server.base_url, timeout=60) as client:
        for route, cases in CASES.items():
            for empty, one in cases:
                got, want = client.post(route, json=empty), client.post(route, json=one)
                assert got.status_code == want.status_code, (kind, route, empty, got.text, want.text)
                if got.status_code != 200:
                    assert got.status_code == 422 and got.json()["error"] == want.json()["error"]
                    continue
                answer, full = got.json(), want.json()
                assert answer.keys() == full.keys() and answer["version"] == 1, (route, answer)
                assert _lists(answer) and all(found == [] for found in _lists(answer)), (route, answer)
                assert len(_lists(answer)) == len(_lists(full))  # the same lists (one per principle, too), empty
