"""Arithmetic chains whose errors need reasoning across steps, with exact step labels from a checker (issue 34).

A problem names two numbers and asks for a chain of derived variables, each from two earlier ones::

    Let a = 47 and b = 38. Compute c = a + b, then d = c - a, then e = d * b, ...

and a trace answers one step per variable: ``"c = 47 + 38 = 85"``. An erroneous trace has one planted error of a
kind that no phrase gives away:

* ``carry``: an addition or subtraction whose result is off by ten (a dropped or extra carry);
* ``copy``: an operand copied wrong from the step (or the problem) that defined it, the operation then right;

and every later step works correctly on what the trace has so far, so a step that uses a wrong intermediate is a
right operation on a wrong number. The checker labels a step right when its operands are the true values of the
variables it names and its result is right: the first error is the planted step, and the steps that inherit it are
wrong too (the final answer is wrong). The trace's outcome is whether its last value is the true one.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from constitution.data.steps import StepTrace

OPS = {"+": lambda x, y: x + y, "-": lambda x, y: x - y, "*": lambda x, y: x * y}
NAMES = "cdefghijklmnopqrstuvwxyz"
STEP = re.compile(r"^(\w) = (-?\d+) ([+*-]) (-?\d+) = (-?\d+)$")


@dataclass(frozen=True)
class Problem:
    """Two given numbers and the recipe of each derived variable: (name, left operand, op, right operand)."""

    given: dict[str, int]
    recipe: list[tuple[str, str, str, str]]

    @property
    def prompt(self) -> str:
        lets = " and ".join(f"{k} = {v}" for k, v in self.given.items())
        return f"Let {lets}. Compute " + ", then ".join(f"{n} = {x} {op} {y}" for n, x, op, y in self.recipe) + ". One step per line."

    def values(self) -> dict[str, int]:
        """The true value of every variable."""
        values = dict(self.given)
        for name, x, op, y in self.recipe:
            values[name] = OPS[op](values[x], values[y])
        return values


def make_problem(rng: random.Random, steps: int) -> Problem:
    """A problem of ``steps`` derived variables; products only of small operands, so numbers stay short."""
    given = {"a": rng.randint(12, 59), "b": rng.randint(12, 59)}
    values, recipe = dict(given), []
    for k in range(steps):
        name = NAMES[k]
        names = list(values)
        op = rng.choice("+-*")
        x, y = rng.sample(names, 2)
        if op == "*":
            small = [n for n in names if abs(values[n]) < 10] or [None]
            y = rng.choice(small)
            if y is None or y == x:
                op = "+"
                y = rng.choice([n for n in names if n != x])
        values[name] = OPS[op](values[x], values[y])
        recipe.append((name, x, op, y))
    for name in [n for n, *_ in recipe]:  # keep numbers readable: re-draw a problem whose values blow up
        if abs(values[name]) > 99_999:
            return make_problem(rng, steps)
    return Problem(given, recipe)


def write_trace(problem: Problem, rng: random.Random, wrong_at: int | None, kind: str = "carry") -> list[str]:
    """The trace's steps; one planted error of ``kind`` at ``wrong_at`` (None: a right trace)."""
    have = dict(problem.given)  # what the trace has computed so far (wrong values propagate)
    out = []
    for k, (name, x, op, y) in enumerate(problem.recipe):
        left, right = have[x], have[y]
        if k == wrong_at and kind == "copy":
            if rng.random() < 0.5:
                left += rng.choice([-3, -2, -1, 1, 2, 3])
            else:
                right += rng.choice([-3, -2, -1, 1, 2, 3]) if op != "*" else rng.choice([-1, 1])
        result = OPS[op](left, right)
        if k == wrong_at and kind == "carry":
            result += rng.choice([-10, 10])
        have[name] = result
        out.append(f"{name} = {left} {op} {right} = {result}")
    return out


def check(problem: Problem, steps: list[str]) -> list[bool]:
    """The checker: a step is right when its operands are the true values of its variables and its result is right."""
    truth = problem.values()
    labels = []
    for (name, x, op, y), step in zip(problem.recipe, steps):
        m = STEP.match(step.strip())
        ok = bool(m) and m.group(1) == name and m.group(3) == op
        if ok:
            left, right, result = int(m.group(2)), int(m.group(4)), int(m.group(5))
            ok = left == truth[x] and right == truth[y] and result == OPS[op](left, right)
        labels.append(ok)
    return labels


def candidates(problem: Problem, rng: random.Random, n: int, wrong_share: float, pid: str) -> list[StepTrace]:
    """``n`` traces of one problem, ``wrong_share`` of them (in expectation) with an error of a random kind at a
    random step; labelled by the checker."""
    out = []
    for j in range(n):
        wrong_at = rng.randrange(len(problem.recipe)) if rng.random() < wrong_share else None
        steps = write_trace(problem, rng, wrong_at, rng.choice(["carry", "copy"]))
        out.append(StepTrace(id=f"{pid}-{j}", prompt=problem.prompt, completions=steps, labels=check(problem, steps)))
    return out


def problems(count: int, seed: int, steps: tuple[int, int]) -> list[Problem]:
    rng = random.Random(seed)
    return [make_problem(rng, rng.randint(*steps)) for _ in range(count)]


def final_right(problem: Problem, steps: list[str]) -> bool:
    """Whether the trace's last value is the true value of the last variable (the outcome)."""
    m = STEP.match(steps[-1].strip())
    return bool(m) and int(m.group(5)) == problem.values()[problem.recipe[-1][0]]
