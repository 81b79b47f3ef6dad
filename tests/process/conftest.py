"""Fixtures of the process reward tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.process.chains import STEP_SET


@pytest.fixture
def step_folder(tmp_path: Path) -> Path:
    """A principles folder holding only the arithmetic step principle set."""
    folder = tmp_path / "principles"
    folder.mkdir()
    (folder / "steps.yaml").write_text(STEP_SET)
    return folder
