"""Where the tests find the repository and the shared data (``$CONSTITUTION_SHARED_DATA``, else ``../shared/data``)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("CONSTITUTION_SHARED_DATA") or ROOT.parent / "shared" / "data")
HH_TEST = SHARED_DATA / "hh-rlhf" / "harmless-base-test.jsonl.gz"
