"""openai backend: a real `vllm serve` gives the in-process values; faults are retried, then reported."""

from __future__ import annotations

import asyncio
import json
import re
import threading

import pytest
from tests.llm.llm_helpers import FakeServer, always, healthy, judge_prompts, ok_body, slow

from constitution.llm.base import FeedbackError
from constitution.llm.config import OpenAIConfig
from constitution.llm.openai_backend import EndpointPool, OpenAIBackend, completions_url
from tests.helpers.vllm_server import free_port


_TOKENIZER = []


def client(*urls: str, **overrides) -> OpenAIBackend:
    """A fast-retrying client (the judge tokenizer is loaded once per module)."""
    settings = {"max_retries": 2, "backoff_s": 0.01, "timeout_s": 5.0, "endpoint_cooldown_s": 0.05, **overrides}
    backend = OpenAIBackend(
        OpenAIConfig(base_urls=list(urls), **settings),
        tokenizer=_TOKENIZER[0] if _TOKENIZER else None,
    )
    _TOKENIZER[:] = [backend.tokenizer]
    return backend


def dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


# --- a real server -----------------------------------------------------------------------------------------


@pytest.mark.vllm
@pytest.mark.slow
def test_real_server_matches_transformers_and_in_process_vllm(openai_judge, hf_judge, vllm_judge):
    prompts = judge_prompts(openai_judge.tokenizer, 10)
    got = openai_judge.option_logprobs(prompts, ["A", "B"])
    for other in (hf_judge, vllm_judge):
        want = other.option_logprobs(prompts, ["A", "B"])
        assert max(abs(a - b) for r, s in zip(got, want) for a, b in zip(r, s)) < 1e-3
    greedy = openai_judge.generate(prompts[:2], max_tokens=6)
    assert greedy == vllm_judge.generate(prompts[:2], max_tokens=6)
    sampled = openai_judge.generate(prompts[:1], max_tokens=6, temperature=1.0, n=3, seed=1)
    assert len(sampled[0]) == 3


@pytest.mark.vllm
@pytest.mark.slow
@pytest.mark.reliability
def test_a_dead_endpoint_does_not_stop_the_run(vllm_server, openai_judge):
    prompts = judge_prompts(openai_judge.tokenizer, 6)
    backend = client(dead_url(), vllm_server.base_url, max_retries=3, endpoint_cooldown_s=60)
    got = backend.option_logprobs(prompts, ["A", "B"])
    want = openai_judge.option_logprobs(prompts, ["A", "B"])
    assert max(abs(a - b) for r, s in zip(got, want) for a, b in zip(r, s)) < 1e-4


# --- injected faults (a fake server) -----------------------------------------------------------------------


@pytest.fixture()
def prompts(judge_tokenizer):
    return judge_prompts(judge_tokenizer, 4)


def test_request_shape_and_api_key(judge_model_path, prompts):
    with FakeServer(healthy) as fake:
        got = client(fake.base_url + "/v1", api_key="s3cret").option_logprobs(prompts[:1], ["A", "B"])
    assert got == [[-0.1, -0.2]]
    (payload,), (headers,) = fake.requests, fake.headers
    assert payload["logprob_token_ids"] == [49, 50] and payload["logprobs"] == 2 and payload["max_tokens"] == 1
    assert payload["return_tokens_as_token_ids"] is True and payload["add_special_tokens"] is False
    assert isinstance(payload["prompt"], list) and payload["prompt"][0] == 1 and payload["prompt"][1] != 1
    assert headers["Authorization"] == "Bearer s3cret"


def test_the_service_key_is_never_sent_to_judge_endpoints(judge_model_path, prompts, monkeypatch):
    """The CLI's judge flags: the endpoints get $CONSTITUTION_JUDGE_API_KEY, never the service's own key."""
    import argparse

    from constitution.cli._llm_flags import add_llm_flags, llm_from_args

    parser = argparse.ArgumentParser()
    add_llm_flags(parser, "judge", model_flag="--judge")
    monkeypatch.setenv("CONSTITUTION_API_KEY", "service-secret")
    sent = []
    for judge_key in (None, "endpoint-secret"):
        if judge_key:
            monkeypatch.setenv("CONSTITUTION_JUDGE_API_KEY", judge_key)
        with FakeServer(healthy) as fake:
            config = llm_from_args(parser.parse_args(["--backend", "openai", "--base-url", fake.base_url]), "judge")
            OpenAIBackend(config, tokenizer=_TOKENIZER[0] if _TOKENIZER else None).option_logprobs(prompts[:1], ["A", "B"])
        sent.append(fake.headers[0].get("Authorization"))
    assert sent == [None, "Bearer endpoint-secret"]


@pytest.mark.reliability
@pytest.mark.parametrize(
    "fault",
    [
        (500, b'{"error": "boom"}'),
        (503, b"overloaded"),
        (200, b"<html>not json</html>"),
        (200, b'{"choices": [{"index": 0, "logprobs": {"top_logprobs": [{"token_id:4'),  # truncated
        (200, json.dumps({"choices": [{"logprobs": {"top_logprobs": [{"token_id:49": -0.1}]}}]}).encode()),
        (200, json.dumps({"choices": []}).encode()),
        None,  # connection dropped without an answer
    ],
    ids=["500", "503", "garbage", "truncated", "missing-option", "no-choices", "dropped"],
)
def test_faults_are_retried_then_answered(judge_model_path, prompts, fault):
    def script(number, payload):
        return fault if number < 2 else (200, ok_body(payload))

    with FakeServer(script) as fake:
        got = client(fake.base_url, max_retries=2).option_logprobs(prompts[:1], ["A", "B"])
    assert got == [[-0.1, -0.2]] and len(fake.requests) == 3


@pytest.mark.reliability
@pytest.mark.parametrize(
    "fault",
    [(500, b"boom"), (200, b"{not json"), (200, json.dumps({"choices": [{"logprobs": None}]}).encode())],
    ids=["500", "garbage", "no-logprobs"],
)
def test_persistent_faults_raise_naming_endpoint_and_prompt(judge_model_path, prompts, fault):
    with FakeServer(always(*fault)) as fake:
        backend = client(fake.base_url, max_retries=2, max_concurrency=1)
        with pytest.raises(FeedbackError) as info:
            backend.option_logprobs(prompts[:1], ["A", "B"])
    message = str(info.value)
    assert "prompt 0" in message and fake.base_url in message and "3 attempt(s)" in message
    assert len(fake.requests) == 3


@pytest.mark.reliability
def test_timeouts_are_retried_then_reported(judge_model_path, prompts):
    with FakeServer(slow(1.0)) as fake:
        with pytest.raises(FeedbackError, match="Timeout"):
            client(fake.base_url, timeout_s=0.2, max_retries=1).option_logprobs(prompts[:1], ["A", "B"])
    assert len(fake.requests) == 2


@pytest.mark.reliability
def test_client_errors_are_not_retried(judge_model_path, prompts):
    with FakeServer(always(400, b'{"error": "prompt too long"}')) as fake:
        with pytest.raises(FeedbackError, match="prompt 0: .*rejected.*prompt too long"):
            client(fake.base_url).option_logprobs(prompts[:1], ["A", "B"])
    assert len(fake.requests) == 1


@pytest.mark.reliability
def test_server_dying_mid_run_is_reported_never_filled_in(judge_model_path, prompts):
    fake: FakeServer

    def script(number, payload):
        if number == 2:  # the third request kills the server; it is never answered
            threading.Thread(target=fake.stop).start()
            return None
        return 200, ok_body(payload)

    with FakeServer(script) as fake:
        backend = client(fake.base_url, max_retries=2, max_concurrency=1)
        with pytest.raises(FeedbackError) as info:
            backend.option_logprobs(prompts, ["A", "B"])
    # prompt 2 was in flight when it died (prompt 3 may exhaust its retries first); no value is made up
    assert re.search(r"prompt [23]: no valid answer", str(info.value)) and fake.base_url in str(info.value)


@pytest.mark.reliability
def test_failover_to_a_healthy_endpoint_when_one_dies_mid_run(judge_model_path, judge_tokenizer):
    many = judge_prompts(judge_tokenizer, 12)
    dying: FakeServer

    def script(number, payload):
        if number == 1:
            threading.Thread(target=dying.stop).start()
            return None
        return 200, ok_body(payload)

    with FakeServer(script) as dying, FakeServer(healthy) as good, FakeServer(always(500, b"x")) as broken:
        backend = client(dying.base_url, broken.base_url, good.base_url, max_retries=4, max_concurrency=2)
        got = backend.option_logprobs(many, ["A", "B"])
        texts = backend.generate(many[:3], max_tokens=4, temperature=1.0, n=2)
    assert got == [[-0.1, -0.2]] * len(many)
    assert texts == [["text 0", "text 1"]] * 3
    assert len(good.requests) >= len(many)


def test_endpoint_pool_round_robin_and_cooldown():
    pool = EndpointPool(["http://a", "http://b/v1", "http://c/v1/completions"], cooldown_s=60)
    assert [pool.pick() for _ in range(4)] == [
        "http://a/v1/completions", "http://b/v1/completions", "http://c/v1/completions", "http://a/v1/completions",
    ]  # fmt: skip
    pool.mark_down("http://b/v1/completions")
    assert [pool.pick() for _ in range(3)] == ["http://c/v1/completions", "http://a/v1/completions"] * 1 + [
        "http://c/v1/completions"
    ]
    assert pool.pick(avoid="http://a/v1/completions") == "http://c/v1/completions"
    assert completions_url("http://h:1/") == "http://h:1/v1/completions"


def test_sync_call_works_inside_a_running_event_loop(judge_model_path, prompts):
    with FakeServer(healthy) as fake:
        backend = client(fake.base_url)

        async def inside() -> list[list[float]]:
            return backend.option_logprobs(prompts[:2], ["A", "B"])

        assert asyncio.run(inside()) == [[-0.1, -0.2]] * 2
        backend.close()


def test_a_large_window_over_one_connection_pool(judge_model_path, judge_tokenizer):
    """Requests stream through a window of max_concurrency in flight, on connections kept for the whole run."""
    many = judge_prompts(judge_tokenizer, 48)
    with FakeServer(slow(0.2)) as fake:
        backend = client(fake.base_url, max_concurrency=24)
        for _ in range(3):
            assert backend.option_logprobs(many, ["A", "B"]) == [[-0.1, -0.2]] * len(many)
        backend.close()
    assert fake.peak_in_flight > 16  # more than the old fixed 16
    assert len(fake.client_ports) <= 24  # 144 requests over at most max_concurrency connections, reused across calls


def test_one_failed_request_is_a_result_not_a_stop(judge_model_path, judge_tokenizer):
    from constitution.llm.base import OptionRequest

    many = judge_prompts(judge_tokenizer, 6)
    poisoned = len(judge_tokenizer.encode(many[3], add_special_tokens=False))

    def script(number, payload):
        return (400, b'{"error": "bad prompt"}') if len(payload["prompt"]) == poisoned else (200, ok_body(payload))

    with FakeServer(script) as fake:
        backend = client(fake.base_url)
        ids = [judge_tokenizer.encode(p, add_special_tokens=False) for p in many]
        results = {r.key: r for r in backend.score_options(OptionRequest(i, p, t, (49, 50)) for i, (p, t) in enumerate(zip(many, ids)))}
        backend.close()
    assert set(results) == set(range(6))
    bad = [k for k, r in results.items() if r.error]
    assert 3 in bad and all("bad prompt" in results[k].error for k in bad)
    assert all(results[k].logprobs == (-0.1, -0.2) for k in results if k not in bad)


def test_server_command_uses_the_module_entry_point(judge_model_path):
    from tests.helpers.vllm_server import ServerConfig, server_command

    cmd = server_command(ServerConfig(model="smollm2-135m-instruct", api_key="k", dtype="bfloat16"), 8123)
    assert cmd[1:3] == ["-m", "vllm.entrypoints.openai.api_server"] and cmd[cmd.index("--model") + 1] == judge_model_path
    assert "--enforce-eager" in cmd and cmd[cmd.index("--port") + 1] == "8123" and cmd[cmd.index("--api-key") + 1] == "k"
    assert json.loads(cmd[cmd.index("--hf-overrides") + 1]) == {"head_dtype": "float32"}
    assert cmd[cmd.index("--block-size") + 1] == "32" and cmd[cmd.index("--host") + 1] == "127.0.0.1"
