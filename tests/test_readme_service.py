"""The README's service section runs as written (issue 33 item 4): every ``curl`` command in it is read with the
shell's quoting rules and sent, URL, headers and body as written, to a real server on 127.0.0.1 (a per-principle
MiniLM model whose metadata records its constitution, and a process model for ``/score_steps``); every route has an
example, and every example is answered 200. Also: a wrong field's 422 names the fields the route takes, and
``/health`` reports the constitution hash the model's metadata records."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from constitution.reward.metadata import read_metadata, write_metadata
from constitution.serve.app import create_app
from constitution.serve.config import ServerConfig
from constitution.serve.main import load_first
from tests.helpers.local_server import LocalServer
from tests.helpers.paths import ROOT
from tests.helpers.reward_folders import headed_folder, process_folder

KEY, ADMIN_KEY = "readme-key", "readme-admin-key"
README_URL = "http://127.0.0.1:8000"
TRAINED_UNDER = "c0ffee0123456789"


def _section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("\n## The reward service\n")
    return text[start : text.index("\n## ", start + 1)]


def _curls(section: str) -> list[list[str]]:
    """Each curl command of the section's ``sh`` blocks, split into words as the shell splits them (a block holds
    curl commands only, so a new one starts at each ``curl`` word)."""
    commands: list[list[str]] = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        words = shlex.split(block.replace("\\\n", " "))
        assert words[0] == "curl", block
        for word in words:
            if word == "curl":
                commands.append([])
            commands[-1].append(word)
    return commands


def _request(argv: list[str], env: dict[str, str]) -> tuple[str, str, dict[str, str], str | None]:
    """(method, URL, headers, body) of a curl command, with the shell variables of ``env`` expanded."""
    expand = lambda s: re.sub(r"\$(\w+)", lambda m: env[m.group(1)], s)  # noqa: E731
    url, headers, body = "", {}, None
    args = iter(argv[1:])
    for arg in args:
        if arg == "-H":
            name, value = expand(next(args)).split(":", 1)
            headers[name.strip()] = value.strip()
        elif arg == "-d":
            body = expand(next(args))
        elif arg.startswith("http"):
            url = arg
        else:
            assert arg == "-s", f"a curl option this test does not read: {arg}"
    return ("POST" if body is not None else "GET"), url, headers, body


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("readme")
    outcome = headed_folder(root / "headed")
    write_metadata(outcome, read_metadata(outcome).model_copy(update={"constitution_hash": [TRAINED_UNDER]}))
    return {"outcome": outcome, "process": process_folder(root / "prm"), "runs/rm_v2": Path(shutil.copytree(outcome, root / "rm_v2"))}


def _app(folder: Path):
    config = ServerConfig(api_key=KEY, admin_key=ADMIN_KEY)
    served, loader = load_first(str(folder), config, None)
    return create_app(served, config, loader=loader)


def test_every_curl_in_the_readme_service_section_is_answered(folders):
    section = _section()
    assert "listening on http://127.0.0.1:8000" in section
    requests = [_request(argv, {"KEY": KEY, "ADMIN_KEY": ADMIN_KEY}) for argv in _curls(section)]
    outcome_app = _app(folders["outcome"])
    routes = {route.path for route in outcome_app.routes if route.path not in {"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}}
    assert routes == {url.removeprefix(README_URL) for _, url, _, _ in requests}, "a route without an example, or an example of no route"
    answers: list[tuple[str, Any]] = []
    with LocalServer(outcome_app) as outcome, LocalServer(_app(folders["process"])) as process:
        for method, url, headers, body in requests:
            path = url.removeprefix(README_URL)
            base = process.base_url if path == "/score_steps" else outcome.base_url
            content = body.replace('"runs/rm_v2"', f'"{folders["runs/rm_v2"]}"') if body else None
            response = httpx.request(method, base + path, headers=headers, content=content, timeout=60)
            assert response.status_code == 200, (path, body, response.text)
            answers.append((path, response.json()))
    health = next(answer for path, answer in answers if path == "/health")
    assert health["constitution_hash"] == TRAINED_UNDER and "model" not in health  # the metadata's, and no folder
    score = [answer for path, answer in answers if path == "/score"]
    assert len(score[0]["rewards"]) == 2 and "contributions" in score[1] and score[1]["normalization"] is None


def test_a_wrong_field_gets_a_422_naming_the_fields_the_route_takes(folders):
    auth = {"Authorization": f"Bearer {KEY}"}
    with LocalServer(_app(folders["outcome"])) as server, httpx.Client(base_url=server.base_url, headers=auth, timeout=60) as client:
        text = client.post("/score", json={"text": ["hi"]})
        query = client.post("/get_reward", json={"queries": ["hi"]})
        steps = client.post("/score_steps", json={"prompts": ["hi"], "steps": [["a"]]})
    assert text.status_code == 422 and text.json()["error"].startswith("invalid request: `text`: Extra inputs are not permitted")
    assert "/score takes `items`, `texts`, `normalize`, `explain`" in text.json()["error"]
    assert query.status_code == 422 and "`query`: Field required; `queries`: Extra inputs" in query.json()["error"]
    assert "/get_reward takes `query` (required), `prompts`, `labels`" in query.json()["error"]
    assert steps.status_code == 422 and "`traces`, `completions`" in steps.json()["error"]
