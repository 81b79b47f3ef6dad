"""``constitution serve MODEL``: the HTTP reward service (/score, /classify, /get_reward, /health).

Binds 127.0.0.1 unless --host says otherwise. The API key may also come from $CONSTITUTION_API_KEY (keeps it out of
the process list)."""

from __future__ import annotations

import argparse
import os

from constitution.server import ServerConfig, serve


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="serve a reward model over HTTP", description=__doc__)
    p.add_argument("model", help="reward model folder")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--api-key", default=os.environ.get("CONSTITUTION_API_KEY"), help="require this key on every route but /health")
    p.add_argument("--max-body-bytes", type=int, default=1 << 20)
    p.add_argument("--max-items", type=int, default=256, help="items per request at most")
    p.add_argument("--max-batch", type=int, default=64, help="items per forward pass at most")
    p.add_argument("--max-wait-ms", type=float, default=5.0, help="how long a batch waits for more requests")
    p.add_argument("--threshold", type=float, default=None, help="/classify threshold (default: the model's, else 0.5)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = ServerConfig(
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        max_body_bytes=args.max_body_bytes,
        max_items=args.max_items,
        max_batch=args.max_batch,
        max_wait_ms=args.max_wait_ms,
        threshold=args.threshold,
    )
    serve(args.model, config)
    return 0
