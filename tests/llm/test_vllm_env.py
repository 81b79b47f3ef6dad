"""vLLM environment defaults: set only what is unset; caches per user; a private socket folder per process, so two
vLLM jobs on one machine never share one (and a real run of two engines at once)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from constitution.llm.vllm_env import RPC_OWNER, apply_vllm_env, rpc_dir


def test_sets_only_unset_variables_and_creates_folders(tmp_path: Path):
    env = {"VLLM_CPU_KVCACHE_SPACE": "7"}
    applied = apply_vllm_env(tmp_path, kvcache_gib=3, environ=env)
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "7" and "VLLM_CPU_KVCACHE_SPACE" not in applied
    for key in ("VLLM_CACHE_ROOT", "TORCHINDUCTOR_CACHE_DIR"):
        assert Path(env[key]).is_dir() and Path(env[key]).parent == tmp_path and applied[key] == env[key]
    assert "VLLM_ENABLE_V1_MULTIPROCESSING" not in env


def test_single_process_adds_test_settings(tmp_path: Path):
    env: dict[str, str] = {"OMP_NUM_THREADS": "4"}
    apply_vllm_env(tmp_path, single_process=True, environ=env)
    assert env["VLLM_ENABLE_V1_MULTIPROCESSING"] == "0" and env["OMP_NUM_THREADS"] == "4"
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "2"


def test_every_process_and_child_gets_its_own_private_socket_folder(tmp_path: Path):
    mine = rpc_dir()
    assert mine.is_dir() and oct(mine.stat().st_mode)[-3:] == "700" and os.environ["VLLM_RPC_BASE_PATH"] == str(mine)
    child: dict[str, str] = dict(os.environ)  # a server started from this process
    apply_vllm_env(tmp_path, environ=child)
    assert child["VLLM_RPC_BASE_PATH"] != str(mine) and Path(child["VLLM_RPC_BASE_PATH"]).is_dir()
    inherited = {"VLLM_RPC_BASE_PATH": "/somewhere/a/parent/made", RPC_OWNER: "1"}  # from another constitution process
    apply_vllm_env(tmp_path, environ=inherited)
    assert inherited["VLLM_RPC_BASE_PATH"] != "/somewhere/a/parent/made"
    chosen = {"VLLM_RPC_BASE_PATH": str(tmp_path / "users-choice")}  # set by the user: kept
    apply_vllm_env(tmp_path, environ=chosen)
    assert chosen["VLLM_RPC_BASE_PATH"] == str(tmp_path / "users-choice")


ENGINE = """
import json, os
from constitution.llm import llm_config, make_llm

if __name__ == "__main__":  # vLLM spawns its engine-core process
    judge = make_llm(llm_config(backend="vllm", dtype="float32", max_model_len=1024, kvcache_gib=1))
    prompt = judge.tokenizer.apply_chat_template([{"role": "user", "content": "Pick A or B."}], tokenize=False, add_generation_prompt=True)
    values = judge.option_logprobs([prompt + "The answer is: ("] * 4, ["A", "B"])
    print(json.dumps({"rpc": os.environ["VLLM_RPC_BASE_PATH"], "values": values}))
    judge.close()
"""


@pytest.mark.slow
@pytest.mark.vllm
@pytest.mark.reliability
def test_two_vllm_engines_at_once_on_one_machine(tmp_path: Path):
    """Two jobs, each an engine with its own engine-core process (vLLM's multiprocessing on), run at the same time
    from the same parent: both finish with the same answers, each with its own socket folder, removed at exit."""
    pytest.importorskip("vllm", reason="vLLM is not installed")
    env = {k: v for k, v in os.environ.items() if k != "VLLM_ENABLE_V1_MULTIPROCESSING"}
    script = tmp_path / "engine.py"
    script.write_text(ENGINE)
    jobs = [subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]  # fmt: skip
    outs = [job.communicate(timeout=900) for job in jobs]
    assert [job.returncode for job in jobs] == [0, 0], [err[-2000:] for _, err in outs]
    results = [json.loads(next(line for line in out.splitlines() if line.startswith('{"rpc"'))) for out, _ in outs]
    assert results[0]["rpc"] != results[1]["rpc"] != os.environ["VLLM_RPC_BASE_PATH"]
    assert max(abs(a - b) for r, s in zip(results[0]["values"], results[1]["values"]) for a, b in zip(r, s)) < 1e-5
    assert not any(Path(r["rpc"]).exists() for r in results)
