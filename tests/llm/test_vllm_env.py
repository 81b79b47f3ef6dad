"""vLLM environment defaults: set only what is unset, folders under the work dir."""

from __future__ import annotations

from pathlib import Path

from constitution.llm.vllm_env import apply_vllm_env


def test_sets_only_unset_variables_and_creates_folders(tmp_path: Path):
    env = {"VLLM_CPU_KVCACHE_SPACE": "7"}
    applied = apply_vllm_env(tmp_path, kvcache_gib=3, environ=env)
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "7" and "VLLM_CPU_KVCACHE_SPACE" not in applied
    for key in ("VLLM_CACHE_ROOT", "TORCHINDUCTOR_CACHE_DIR", "VLLM_RPC_BASE_PATH"):
        assert Path(env[key]).is_dir() and Path(env[key]).parent == tmp_path
        assert applied[key] == env[key]
    assert "VLLM_ENABLE_V1_MULTIPROCESSING" not in env


def test_single_process_adds_test_settings(tmp_path: Path):
    env: dict[str, str] = {"OMP_NUM_THREADS": "4"}
    apply_vllm_env(tmp_path, single_process=True, environ=env)
    assert env["VLLM_ENABLE_V1_MULTIPROCESSING"] == "0" and env["OMP_NUM_THREADS"] == "4"
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "2"
