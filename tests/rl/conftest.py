"""RL fixtures: the reward tests' MiniLM path and per-principle models (trained once per session)."""

from tests.reward.conftest import headed, heads_root, minilm_path  # noqa: F401
