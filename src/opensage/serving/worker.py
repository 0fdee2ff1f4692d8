"""An endpoint worker process: loads the variants' models, then serves the data plane.

Forked from the platform's warm fork server (the learning libraries are already
imported), it binds the endpoint's port with SO_REUSEPORT, so that several workers share
it and a new generation can start beside the old one during a blue/green update; the
kernel spreads connections over them. SIGTERM drains it: uvicorn stops accepting, ends
the requests in flight, and the capture buffer is flushed.
"""

from __future__ import annotations

import os
import socket
import sys
import traceback
from pathlib import Path
from typing import Any

MAX_QUEUE = 1024


def serve(spec: dict[str, Any]) -> None:
    """Entry point of a worker process (``spec`` from the endpoint deployer)."""
    from opensage.training.child import die_with_parent

    os.setpgrp()
    die_with_parent()
    runtime = Path(spec["runtime_dir"])
    log = os.open(runtime / f"worker-{os.getpid()}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(runtime / "metrics")
    try:
        app, sock = _build(spec, runtime)
    except BaseException as exc:
        traceback.print_exc()
        (runtime / f"failed-{os.getpid()}").write_text(f"{type(exc).__name__}: {exc}")
        sys.stderr.flush()
        os._exit(1)
    import uvicorn

    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        proxy_headers=False,  # clients call the data plane directly
        lifespan="on",
        timeout_graceful_shutdown=30,
        timeout_keep_alive=30,
    )
    uvicorn.Server(config).run(sockets=[sock])
    os._exit(0)


def _build(spec: dict[str, Any], runtime: Path) -> tuple[Any, socket.socket]:
    from opensage.serving.capture import CaptureBuffer
    from opensage.serving.dataplane import Batcher, DataPlane, Variant
    from opensage.serving.metrics import EndpointMetrics
    from opensage.serving.model import ServedModel
    from opensage.training.launcher import preloaded_pools

    models = [ServedModel(Path(item["model_dir"])) for item in spec["variants"]]
    # Built-ins' thread pools are those the fork server found; a model's own code may
    # have loaded other libraries, whose pools a scan finds.
    pools = preloaded_pools() if all(model.code is None for model in models) else None
    variants = []
    for item, model in zip(spec["variants"], models, strict=True):
        batcher = Batcher(
            model,
            max_batch_size=int(item["max_batch_size"]),
            max_wait_s=float(item["max_batch_wait_ms"]) / 1000.0,
            max_queue=MAX_QUEUE,
            pools=pools,
        )
        variants.append(Variant(item["name"], float(item["weight"]), model, batcher))
    capture = None
    if spec.get("capture"):
        from opensage.storage import ArtifactStore

        store = ArtifactStore(spec["artifact_url"], s3_endpoint_url=spec.get("s3_endpoint_url"))
        capture = CaptureBuffer(
            store, spec["endpoint"], float(spec["capture"]["sampling_percentage"]), str(os.getpid())
        )
    authenticate = _authenticator(spec["auth"]) if spec.get("auth") else None
    ready = runtime / f"ready-{spec['generation']}-{os.getpid()}"
    app = DataPlane(
        spec["endpoint"],
        variants,
        max_payload_bytes=int(spec["max_payload_bytes"]),
        capture=capture,
        authenticate=authenticate,
        metrics=EndpointMetrics(),
        on_ready=lambda: ready.touch(),
        pools=pools,
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((spec["host"], int(spec["port"])))
    sock.listen(2048)
    sock.set_inheritable(True)
    return app, sock


def _authenticator(auth: dict[str, Any]) -> Any:
    """Checks an invocation's API key (cached for a minute) against the platform's keys."""
    import time

    from opensage.auth.policy import Permission, allows
    from opensage.auth.service import AuthService, require_permission_error
    from opensage.db import Database

    service = AuthService(
        Database(auth["database_url"]), bytes.fromhex(auth["secret_hex"]), enabled=True
    )
    cache: dict[str, float] = {}

    def authenticate(header: str | None) -> None:
        now = time.monotonic()
        if header is not None and cache.get(header, 0.0) > now:
            return
        principal = service.authenticate(header)
        if not allows(principal.role, Permission.ENDPOINTS_INVOKE):
            raise require_permission_error(principal, Permission.ENDPOINTS_INVOKE.value)
        assert header is not None
        cache[header] = now + 60.0

    return authenticate
