"""SHA-256 lives in one module (constitution/hashing.py); the draws and fingerprints built on it keep their values,
and a pipeline input is fingerprinted by content, not by modification times."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from constitution.hashing import file_sha256, joined_digest
from constitution.pipeline.stages import file_fingerprint

PACKAGE = Path(__file__).resolve().parents[1] / "constitution"


def test_sha256_is_computed_in_one_module():
    users = sorted(str(f.relative_to(PACKAGE)) for f in PACKAGE.rglob("*.py") if "hashlib" in f.read_text())
    assert users == ["hashing.py"]


def test_draws_keep_the_values_they_had(tmp_path):
    """Principle sampling and revision rounds draw from these bytes: a change would re-draw every cached pair."""
    assert joined_digest(0, "pairhash", "harmless") == hashlib.sha256(b"0\0pairhash\0harmless").digest()
    data = tmp_path / "f.bin"
    data.write_bytes(os.urandom(3 << 20))  # several read blocks
    assert file_sha256(data) == hashlib.sha256(data.read_bytes()).hexdigest()


def test_pipeline_inputs_are_fingerprinted_by_content(tmp_path, monkeypatch):
    monkeypatch.setenv("CONSTITUTION_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "pairs"
    (folder / "part").mkdir(parents=True)
    (folder / "part" / "data.arrow").write_bytes(b"rows")
    (folder / "info.json").write_text("{}")
    before = file_fingerprint(folder)
    copy = tmp_path / "elsewhere"
    shutil.copytree(folder, copy, copy_function=shutil.copy)  # new mtimes, same content
    assert file_fingerprint(copy) == before
    (copy / "part" / "data.arrow").write_bytes(b"rowz")
    assert file_fingerprint(copy) != before
    assert file_fingerprint(folder / "info.json") == hashlib.sha256(b"{}").hexdigest()[:16]
    assert file_fingerprint("org/hub-dataset") == hashlib.sha256(b"org/hub-dataset").hexdigest()[:16]
