"""RL fixtures: the reward tests' MiniLM path (cheap: a folder lookup). The per-principle RL tests live in
tests/reward/test_heads_rl.py, beside the session's per-principle models, so those are trained once per session."""

from tests.reward.conftest import minilm_path  # noqa: F401
