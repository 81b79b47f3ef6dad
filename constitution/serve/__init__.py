"""The reward service: FastAPI app with dynamic batching of concurrent requests and live model reloads.

Modules: ``config`` (limits, light: the CLI builds flags from it), ``schema`` (the wire format), ``served`` (a loaded
model under a version number, and the answers made from its scores), ``served_process`` (the same for a process
reward model), ``slot`` (the served model and ``/reload``),
``batcher`` (the one bounded queue and worker), ``auth`` (API and admin keys, body-size guard), ``idempotency`` (answers by
``Idempotency-Key``), ``routes`` (one router per concern: add new routes there), ``app`` (assembly, error handling),
``main`` (loading a model and running uvicorn), ``ray_engine`` (the same app on Ray Serve replicas, ``@serve.batch``
in place of the batcher).

Routes: ``GET /health`` (no key needed), ``POST /score`` ``{"items": [{"prompt", "response"}] | "texts": [...],
"normalize": bool, "explain": bool}`` -> ``{"rewards", "principles", "normalization"}`` (``principles``: each
principle's reward, one list per principle, for a per-principle model; ``normalization``: the mean/std used; with
``explain``, also ``{"contributions": [{principle: share}]}``, each item's shares summing to its reward, 422 for a
scalar model), ``POST /classify`` (same input) -> ``{"results": [{decision, score, threshold}]}``, OpenRLHF's remote
reward API ``POST /get_reward {"query": [...], "prompts": [...]}`` -> ``{"rewards", "scores", "extra_logs",
"normalization"}`` (``extra_logs``: one list per principle): each query is split into its prompt's turns and the
response (see ``openrlhf``) and scored in the reward model's own input format; without ``prompts`` the query is
scored as text; ``POST /score_steps {"prompts": [...], "traces": [[step, ...]] | "completions": [...], "aggregate"}`` ->
``{"step_scores", "scores", "first_error", "aggregate", "threshold"}`` (a process reward model's per-step scores and
each trace's aggregate: min, product or last, the model's unless the request names one; completions are split at the
model's separator; 422 for an outcome model), and ``POST /reload {"model", "constitution", "training_weights"}``
(see ``slot``). A process model's ``/score`` and ``/get_reward`` answer each response's aggregate step score (a
probability: never normalised, ``normalization`` null), ``/classify`` is 422, and ``/reload`` loads process folders
only (``{}``: the served folder read again). Every scoring answer names the ``version``, ``model``, ``model_id``
(its files' content hash) and ``constitution_hash`` that scored it. Requests of every route that arrive together are
scored in one length-sorted batch on a worker thread; a batch that fails is re-scored request by request, so one bad
request cannot fail the others. At most ``max_queue_items`` items wait for a batch; beyond that a
request gets 503 with ``Retry-After``. A request sent again with the same ``Idempotency-Key`` gets the first answer
(several Ray Serve replicas refuse the key: each would keep its own answers).

Binds 127.0.0.1 by default. With an API key, every path but /health and /reload needs ``Authorization: Bearer KEY``
(or ``X-API-Key``), checked before routing (unknown paths get 401 too), and the interactive docs and OpenAPI schema
are not served. ``/reload`` needs the admin key instead (sent the same way), and is disabled (403) without one.
``/health`` names no folder. Bodies over ``max_body_bytes`` get 413, more than ``max_items`` items 413, malformed
JSON 400, a wrong shape or type 422; every error body is ``{"error": message}``. A failure while scoring is a 500
that names a request id and nothing else; the exception and its traceback are logged under that id.
"""
