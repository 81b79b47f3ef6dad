"""The reward model as the reward in RL, and the loop that keeps it honest.

* :class:`RewardFunction`: a TRL GRPO ``reward_funcs`` callable over one reward model or an ensemble, whose model
  can be swapped between calls (a refreshed reward model);
* :class:`PrincipleRewards`: a per-principle model's rewards as one TRL reward function per principle (weighed by
  ``GRPOConfig.reward_weights``, logged one by one) beside the combined one, optionally normalised per group;
* :class:`GoldMonitor` and :class:`MonitorCallback`: the gold judge labels pairs of the policy's own completions
  every N steps and the proxy–gold agreement, proxy reward, KL and length are logged, with an alarm;
* :class:`Refresher`: warm-start fine-tuning of the reward model on the gold-labelled policy pairs, swapped in;
* :func:`run_grpo` (``constitution rl``): GRPO of a policy against the reward model, the monitor wired in;
* :mod:`constitution.rl.verl`: verl's custom-reward ``compute_score``.

Heavy imports (torch, transformers, TRL) happen when a name is first used.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "RewardFunction": "reward",
    "completion_text": "reward",
    "PrincipleRewards": "principles",
    "group_normalized": "principles",
    "RLConfig": "config",
    "MonitorConfig": "config",
    "RefreshConfig": "config",
    "GoldMonitor": "monitor",
    "MonitorRecord": "monitor",
    "MonitorCallback": "callback",
    "Refresher": "refresh",
    "run_grpo": "grpo",
    "RLResult": "grpo",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'constitution.rl' has no attribute {name!r}")
    return getattr(importlib.import_module(f"constitution.rl.{_EXPORTS[name]}"), name)
