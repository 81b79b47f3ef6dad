"""`constitution generate`: prompt formats, pairing, crash-safe resumable output, the CLI on a real policy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from constitution.cli import main
from constitution.data import load_pairs
from constitution.errors import InputError
from constitution.generation import GenerationConfig, generate_pairs, load_prompts, pair_indices

PROMPTS = ["How do I boil an egg?", "Say something kind.", "What is 2+2?", "Tell me a joke.", "Explain recursion."]


class ScriptedPolicy:
    """A real FeedbackBackend-shaped policy with deterministic samples; records what it was asked."""

    judge_id = "scripted-policy"

    def __init__(self, tokenizer, die_on_call: int | None = None) -> None:
        self.tokenizer = tokenizer
        self.calls: list[list[str]] = []
        self.die_on_call = die_on_call

    def option_logprobs(self, prompts, options):
        raise AssertionError("generation never scores options")

    def generate(self, prompts, *, max_tokens, temperature=0.0, n=1, seed=None, stop=None):
        self.calls.append(list(prompts))
        if self.die_on_call is not None and len(self.calls) == self.die_on_call:
            import os
            import signal

            os.kill(os.getpid(), signal.SIGKILL)
        return [[f"reply {k} to {p.split('user')[-1][1:20]!r}" for k in range(n)] for p in prompts]

    def close(self) -> None:
        pass


def write_txt(path: Path, prompts: list[str]) -> Path:
    path.write_text("\n".join(prompts) + "\n", encoding="utf-8")
    return path


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_prompt_formats(tmp_path: Path):
    txt = load_prompts(write_txt(tmp_path / "p.txt", ["a", "", "b", "a"]))
    assert [i.messages[0].content for i in txt] == ["a", "b"]  # blank lines skipped, duplicates kept once
    (tmp_path / "p.jsonl").write_text(
        json.dumps({"id": "x1", "prompt": "hi"}) + "\n"
        + json.dumps({"prompt": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]}) + "\n"
    )  # fmt: skip
    jl = load_prompts(tmp_path / "p.jsonl")
    assert jl[0].id == "x1" and [m.role for m in jl[1].messages] == ["system", "user"]
    (tmp_path / "p.csv").write_text("prompt,other\nhello,1\n\"multi, comma\",2\n")
    assert [i.messages[0].content for i in load_prompts(tmp_path / "p.csv")] == ["hello", "multi, comma"]
    same = load_prompts(write_txt(tmp_path / "h.txt", ["hello"]))[0]
    assert same.id == load_prompts(tmp_path / "p.csv")[0].id != txt[0].id  # ids are content hashes
    (tmp_path / "bad.jsonl").write_text(json.dumps({"text": "no prompt column"}) + "\n")
    with pytest.raises(InputError, match=r"bad.jsonl:1: missing column 'prompt'"):
        load_prompts(tmp_path / "bad.jsonl")


def test_pairing_schemes():
    assert pair_indices(2, "consecutive") == [(0, 1)]
    assert pair_indices(5, "consecutive") == [(0, 1), (2, 3)]
    assert pair_indices(3, "all") == [(0, 1), (0, 2), (1, 2)]


def test_pairs_are_loadable_and_n_gt_2_pairs_consecutively(tmp_path: Path, judge_tokenizer):
    src = write_txt(tmp_path / "p.txt", PROMPTS[:2])
    out = tmp_path / "pairs.jsonl"
    report = generate_pairs(GenerationConfig(n=4), src, out, backend=ScriptedPolicy(judge_tokenizer))
    assert report.written_pairs == 4 and report.generated_prompts == 2
    got = rows(out)
    firsts = [(r["response_a"][:7], r["response_b"][:7]) for r in got[:2]]
    assert firsts == [("reply 0", "reply 1"), ("reply 2", "reply 3")]
    pairs, load = load_pairs(out)
    assert load.format == "ab" and len(pairs) == 4 and pairs[0].prompt[0].content == PROMPTS[0]
    assert len({p.id for p in pairs}) == 4


def test_chat_template_is_applied(tmp_path: Path, judge_tokenizer):
    policy = ScriptedPolicy(judge_tokenizer)
    generate_pairs(GenerationConfig(), write_txt(tmp_path / "p.txt", PROMPTS[:1]), tmp_path / "o.jsonl", backend=policy)
    (text,) = policy.calls[0]
    assert text.startswith("<|im_start|>system") and text.endswith("<|im_start|>assistant\n") and PROMPTS[0] in text


def test_resume_skips_done_prompts_and_repairs_a_torn_file(tmp_path: Path, judge_tokenizer):
    out = tmp_path / "pairs.jsonl"
    config = GenerationConfig(n=4, batch_size=2)
    generate_pairs(config, write_txt(tmp_path / "a.txt", PROMPTS[:3]), out, backend=ScriptedPolicy(judge_tokenizer))
    lines = out.read_text().splitlines(keepends=True)
    assert len(lines) == 6
    out.write_text("".join(lines[:5]) + lines[5][:25])  # prompt 3 has one of two pairs, then a torn line
    policy = ScriptedPolicy(judge_tokenizer)
    report = generate_pairs(config, write_txt(tmp_path / "b.txt", PROMPTS), out, backend=policy)
    assert report.skipped_done == 2 and report.generated_prompts == 3 and report.dropped_partial == 1
    assert sum(len(c) for c in policy.calls) == 3
    got = rows(out)
    assert len(got) == 10 and len({r["id"] for r in got}) == 10
    again = generate_pairs(config, tmp_path / "b.txt", out, backend=ScriptedPolicy(judge_tokenizer))
    assert again.generated_prompts == 0 and len(rows(out)) == 10


@pytest.mark.reliability
@pytest.mark.parametrize("die_on_call", [1, 2, 3])
def test_sigkill_mid_run_loses_and_duplicates_nothing(tmp_path: Path, judge_tokenizer, judge_model_path, die_on_call: int):
    src = write_txt(tmp_path / "p.txt", PROMPTS)
    out = tmp_path / "pairs.jsonl"
    script = f"""
import sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from transformers import AutoTokenizer
from test_generation import ScriptedPolicy
from constitution.generation import GenerationConfig, generate_pairs
policy = ScriptedPolicy(AutoTokenizer.from_pretrained({judge_model_path!r}), die_on_call={die_on_call})
generate_pairs(GenerationConfig(batch_size=2), {str(src)!r}, {str(out)!r}, backend=policy)
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr[-2000:]
    finished = 2 * (die_on_call - 1)  # batches of two prompts, one pair each, finished before the kill
    assert (len(rows(out)) if out.exists() else 0) == finished
    policy = ScriptedPolicy(judge_tokenizer)
    report = generate_pairs(GenerationConfig(batch_size=2), src, out, backend=policy)
    left = len(PROMPTS) - finished
    assert report.skipped_done == finished and [len(c) for c in policy.calls] == [2] * (left // 2) + [1] * (left % 2)
    assert sorted(r["prompt"][0]["content"] for r in rows(out)) == sorted(PROMPTS)


@pytest.mark.vllm
@pytest.mark.slow
def test_real_policy_on_vllm_samples_distinct_responses(tmp_path: Path, vllm_judge):
    out = tmp_path / "pairs.jsonl"
    config = GenerationConfig(n=2, max_tokens=12, temperature=1.0, seed=5)
    generate_pairs(config, write_txt(tmp_path / "p.txt", PROMPTS[:2]), out, backend=vllm_judge)
    got = rows(out)
    assert len(got) == 2 and all(r["response_a"] != r["response_b"] for r in got)
    assert all(r["policy"] == "smollm2-135m-instruct" for r in got)


@pytest.mark.slow
def test_cli_generate_with_hf_backend(tmp_path: Path, judge_model_path, capsys):
    src = write_txt(tmp_path / "p.txt", PROMPTS[:2])
    out = tmp_path / "pairs.jsonl"
    args = ["generate", str(src), "--out", str(out), "--backend", "hf", "--max-tokens", "4", "--seed", "1"]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["written_pairs"] == 2
    pairs, _ = load_pairs(out)
    assert len(pairs) == 2 and all(isinstance(p.response_a, str) for p in pairs)


def test_cli_generate_bad_input_exits_2(tmp_path: Path, capsys):
    assert main(["generate", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "o.jsonl")]) == 2
    assert main(["generate", str(write_txt(tmp_path / "p.txt", ["x"])), "--out", str(tmp_path / "o"), "--n", "1"]) == 2
    assert "n" in capsys.readouterr().err
