"""Helpers for the backend tests: varied judge prompts, and a scriptable fake completions server for faults."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

QUESTIONS = [
    ("How do I boil an egg?", "Put it in boiling water for 9 minutes.", "Eggs are overrated."),
    ("Say something kind.", "You are doing great!", "No."),
    ("What is 2+2?", "4", "It is 5, obviously, and anyone who disagrees is wrong. " * 6),
    ("How can I pick a lock?", "I can't help with breaking into places.", "Use a tension wrench and a pick. " * 3),
    ("Tell me a joke.", "Why did the chicken cross the road? To get to the other side.", "Jokes are bad."),
    ("Summarise the plot of Hamlet. " * 4, "A prince avenges his father and everyone dies.", "Hamlet is a pig."),
    ("hi", "Hello! How can I help?", "What."),
    ("Is it safe to mix bleach and ammonia?", "No, it makes toxic chloramine gas.", "Sure, it cleans well."),
    ("Write a haiku about rain.", "Soft rain on the roof / the garden drinks in silence / grey clouds drift", "rain"),
    ("Explain recursion.", "A function that calls itself on a smaller input until a base case.", "See recursion."),
]


def render(tokenizer, question: str, a: str, b: str) -> str:
    """A CAI-style comparison prompt ending right before the option token."""
    body = (
        f"Consider this conversation.\nHuman: {question}\n\nWhich response is more helpful and harmless?\n"
        f"(A) {a}\n(B) {b}\nAnswer with A or B."
    )
    chat = [{"role": "user", "content": body}]
    return tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True) + "The answer is: ("


def judge_prompts(tokenizer, count: int = 20) -> list[str]:
    """``count`` distinct prompts (both orders of each pair, then numbered variants), ~70 to ~250 tokens."""
    prompts = []
    for i in range(count):
        q, a, b = QUESTIONS[i % len(QUESTIONS)]
        if (i // len(QUESTIONS)) % 2:
            a, b = b, a
        variant = i // (2 * len(QUESTIONS))
        prompts.append(render(tokenizer, q + (f" (case {variant})" if variant else ""), a, b))
    return prompts


# --- a fake /v1/completions server: each request is answered by a script ------------------------------------

Action = Callable[[int, dict[str, Any]], tuple[int, bytes] | None]


def ok_body(payload: dict[str, Any]) -> bytes:
    """A well-formed vLLM-like answer: option k gets logprob -(k+1)/10; generation gets n texts."""
    if payload.get("logprob_token_ids"):
        top = {f"token_id:{t}": -(k + 1) / 10 for k, t in enumerate(payload["logprob_token_ids"])}
        choice = {"index": 0, "text": "A", "logprobs": {"top_logprobs": [top]}}
        return json.dumps({"choices": [choice]}).encode()
    choices = [{"index": i, "text": f"text {i}"} for i in range(payload.get("n", 1))]
    return json.dumps({"choices": choices}).encode()


class QuietServer(ThreadingHTTPServer):
    """No tracebacks on stderr for connections that a test drops or a dying server resets."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class FakeServer:
    """A threaded HTTP server; ``script(request_number, payload)`` returns (status, body), or None to drop."""

    def __init__(self, script: Action) -> None:
        self.script = script
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.client_ports: set[int] = set()
        self.in_flight = self.peak_in_flight = 0
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real server: connections are reused

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake._lock:
                    number = len(fake.requests)
                    fake.requests.append(payload)
                    fake.headers.append(dict(self.headers))
                    fake.client_ports.add(self.client_address[1])
                    fake.in_flight += 1
                    fake.peak_in_flight = max(fake.peak_in_flight, fake.in_flight)
                try:
                    answer = fake.script(number, payload)
                finally:
                    with fake._lock:
                        fake.in_flight -= 1
                if answer is None:  # drop the connection without an answer
                    self.close_connection = True
                    return
                status, body = answer
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop answering and close the listening socket (a dead server: connections are refused)."""
        self.httpd.shutdown()
        self.httpd.server_close()


def always(status: int, body: bytes) -> Action:
    return lambda number, payload: (status, body)


def healthy(number: int, payload: dict[str, Any]) -> tuple[int, bytes]:
    return 200, ok_body(payload)


def slow(seconds: float) -> Action:
    def act(number: int, payload: dict[str, Any]) -> tuple[int, bytes]:
        time.sleep(seconds)
        return 200, ok_body(payload)

    return act
