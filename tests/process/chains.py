"""Synthetic reasoning traces of known structure, and a program that checks them (the stand-in judge).

A chain starts at a number and applies a few operations, one step each: ``"7 + 3 = 10"``, ``"10 * 2 = 20"``. In a
planted chain one step is wrong: it carries the wrong number over from the step before (``"21 - 4 = 17"`` after
``"… = 20"``); every later step computes correctly from what it was given, so only the planted step is wrong given
the previous ones and the first error is known exactly.

:class:`ChainJudge` implements the backend protocol and answers each step question from that check. It is a
stand-in judge: the embedded judges are at chance on this task, so the mechanism (prompts, both option orders, the
cache, the labels) is proven against answers the test knows. It records every prompt it is asked.
"""

from __future__ import annotations

import math
import random
import re

from constitution.data.steps import StepTrace
from constitution.llm.base import OptionResult

STEP_SET = """kind: step_principle_set
id: arithmetic
options: ["Yes", "No"]
principles:
  - id: step-correct
    text: Is this step correct given the previous ones?
"""  # the step principles the stand-in judge answers

OPS = (("+", lambda a, b: a + b), ("-", lambda a, b: a - b), ("*", lambda a, b: a * b))
STEP = re.compile(r"^(-?\d+) ([+*-]) (-?\d+) = (-?\d+)$")


def make_chain(rng: random.Random, index: int, steps: int, wrong_at: int | None, error: str = "carry") -> tuple[StepTrace, list[str]]:
    """A chain of ``steps`` steps (one wrong at ``wrong_at``), with bool labels, and its steps' texts. ``error``:
    ``carry`` (the wrong step starts from a wrong number) or ``guess`` (it states a number without working)."""
    value = rng.randint(2, 9)
    ops = [(rng.randrange(3), rng.randint(2, 5)) for _ in range(steps)]
    prompt = f"Start at {value}, then " + ", then ".join(f"{OPS[o][0]} {b}" for o, b in ops) + ". Show each step."
    texts, labels = [], []
    for k, (o, b) in enumerate(ops):
        given = value
        if k == wrong_at:
            given = value + rng.choice([-3, -2, -1, 1, 2, 3])
        value = OPS[o][1](given, b)
        if k == wrong_at and error == "guess":
            value = value + rng.choice([-3, 3])
            texts.append(f"I guess it is about {value}")
        else:
            texts.append(f"{given} {OPS[o][0]} {b} = {value}")
        labels.append(k != wrong_at)
    return StepTrace(id=f"chain-{index}", prompt=prompt, completions=texts, labels=labels), texts


def chains(n: int, seed: int = 0, steps: tuple[int, int] = (3, 5), wrong_share: float = 0.6, error: str = "carry") -> list[StepTrace]:
    """``n`` chains: ``wrong_share`` of them with one planted wrong step (of kind ``error``) at a random place."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        length = rng.randint(*steps)
        wrong = rng.randrange(length) if rng.random() < wrong_share else None
        out.append(make_chain(rng, i, length, wrong, error)[0])
    return out


def start_value(prompt: str) -> int:
    return int(re.search(r"Start at (-?\d+)", prompt).group(1))


def step_is_right(previous_result: int, step: str) -> bool:
    """A step is right when it starts from the previous result and computes correctly."""
    m = STEP.match(step.strip())
    if not m:
        return False
    a, op, b, c = int(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4))
    return a == previous_result and dict((s, f) for s, f in OPS)[op](a, b) == c


def check_trace(prompt: str, steps: list[str]) -> list[bool]:
    """The program's verdict on every step of a trace."""
    value, out = start_value(prompt), []
    for step in steps:
        out.append(step_is_right(value, step))
        m = STEP.match(step.strip()) or re.search(r"(-?\d+)$", step.strip())
        value = int(m.groups()[-1]) if m else value
    return out


JUDGED = re.compile(r"Human: (.*?)\n\n(?:Steps so far:\n(.*?)\n\n)?Step to check \(step \d+\):\n(.*?)\n\nQuestion about the step to check: (.*?) Answer (\w+) or (\w+)\.", re.S)


class ChainJudge:
    """Stand-in judge (see the module docstring): P(right answer) = ``confidence`` in either option order."""

    name = identity = "chain-judge"
    tokenizer = None
    max_model_len = None

    def __init__(self, confidence: float = 0.95) -> None:
        self.confidence = confidence
        self.asked: list[str] = []

    def verdict(self, text: str) -> tuple[str, str, bool]:
        """(first option shown, second, whether the first is the right answer)."""
        prompt, previous, step, question, first, second = JUDGED.search(text).groups()
        earlier = [line.split(": ", 1)[1] for line in (previous or "").splitlines()]
        good = check_trace(prompt, [*earlier, step])[-1]
        if "harm" in question:
            answer = "No"
        else:
            answer = "Yes" if good else "No"
        return first, second, first == answer

    def score_options(self, requests):
        for request in requests:
            self.asked.append(request.text)
            _, _, first_right = self.verdict(request.text)
            p = self.confidence if first_right else 1.0 - self.confidence
            yield OptionResult(request.key, (math.log(p), math.log(1.0 - p)))

    def generate(self, prompts, **_):
        raise NotImplementedError("the stand-in judge only answers option questions")

    def close(self) -> None:
        pass
