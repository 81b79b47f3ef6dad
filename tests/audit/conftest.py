"""Two tiny reward models trained once per session: one with a planted verbosity exploit, one control."""

from __future__ import annotations

import pytest

from tests.audit.audit_data import audit_rows, train_tiny, write_jsonl


@pytest.fixture(scope="session")
def audit_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("audit")
    write_jsonl(audit_rows(), root / "responses.jsonl")
    return root


@pytest.fixture(scope="session")
def verbose_rm(audit_root):
    """Trained on pairs where the longer answer always wins."""
    return train_tiny(audit_root, "verbose", longer_wins=True)


@pytest.fixture(scope="session")
def control_rm(audit_root):
    """Trained on pairs where politeness wins and length says nothing."""
    return train_tiny(audit_root, "control", longer_wins=False)
