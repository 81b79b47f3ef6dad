"""``constitution serve MODEL``: the HTTP reward service (/score, /classify, /get_reward, /score_steps, /health, /reload).

Binds 127.0.0.1 unless --host says otherwise. The API key may also come from $CONSTITUTION_API_KEY, and the admin key
(for /reload; without one /reload is disabled) from $CONSTITUTION_ADMIN_KEY: that keeps them out of the process list.
A per-principle model is served with its heads weighted by --constitution (default: its training weights);
``/score`` with ``"explain": true`` returns each principle's contribution. A process reward model folder
(``train --kind process``) is served with ``/score_steps`` (per-step scores and each trace's aggregate); its ``/score``
and ``/get_reward`` answer the aggregate. ``--engine ray --replicas N`` serves the same routes from N Ray Serve
replicas (``@serve.batch`` batching; needs the ``ray`` extra; ``/reload`` is disabled there, 403: redeploy instead)."""

from __future__ import annotations

import argparse
import os

from constitution.cli._flags import add_fields, build, given
from constitution.cli._heads_flag import add_heads_constitution_flag, heads_constitution
from constitution.cli._llm_flags import API_KEY_ENV
from constitution.serve.config import ADMIN_KEY_ENV, ServerConfig


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve a reward model over HTTP", description=__doc__)
    p.add_argument("model", help="reward model folder (outcome or process)")
    add_fields(p, ServerConfig)
    add_heads_constitution_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from constitution.serve.main import serve

    values = given(args, ServerConfig.model_fields)
    for field, env in (("api_key", API_KEY_ENV), ("admin_key", ADMIN_KEY_ENV)):
        if values.get(field) is None and os.environ.get(env):
            values[field] = os.environ[env]
    config = build(ServerConfig, values, "serve")
    constitution = heads_constitution(args.constitution)
    if config.engine == "ray":
        from constitution.serve.ray_engine import serve_on_ray

        serve_on_ray(args.model, config, list(constitution.files) if constitution is not None else None)
        return 0
    serve(args.model, config, constitution=constitution)
    return 0
