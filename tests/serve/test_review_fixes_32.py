"""Review fixes for issue 32 (the service and its client): each test failed before its fix. Real MiniLM reward
folders behind a real server on 127.0.0.1 (uvicorn in a thread), except where a test injects a fault and says so."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

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
