"""The data plane: the ASGI app each endpoint worker process serves.

One hop from client to model: the worker holds every variant's model in memory, parses
payloads straight into arrays, and batches concurrent requests of a variant into one
predict call (up to ``max_batch_size`` rows, waiting at most ``max_batch_wait_ms`` for
more). Overload queues up to a bound, then answers 503 with Retry-After.

Routes: ``POST /endpoints/{name}/invocations`` (SageMaker's runtime path; also
``/invocations``), ``GET /ping``, ``GET /metrics`` (Prometheus).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from opensage.algorithms.threads import ThreadPools, one_thread
from opensage.errors import OpenSageError
from opensage.serving.capture import CaptureBuffer
from opensage.serving.model import ServedModel
from opensage.serving.payloads import PayloadError, media_type, parse, render, response_type

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
TARGET_VARIANT = b"x-amzn-sagemaker-target-variant"
INVOKED_VARIANT = b"x-amzn-invoked-production-variant"
EVENT_ID = b"x-opensage-event-id"
INFERENCE_ID = b"x-amzn-sagemaker-inference-id"
"""The caller's own id for a request (SageMaker's InferenceId), kept with its capture."""
CAPTURED = b"x-opensage-captured"


# Turns of the event loop a batch waits, at most, for requests already in flight to join.
JOIN_TURNS = 2


class EventIds:
    """Unique ids for a worker's invocations, as long as a uuid4's hex but cheaper: a
    random 64-bit prefix drawn when the worker starts, then a counter."""

    def __init__(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._counter = itertools.count()

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"


class Overloaded(Exception):
    """The variant's queue is full."""


class ModelError(Exception):
    """The model raised while predicting."""


@dataclass
class Batcher:
    """Stacks the rows of concurrent requests into one predict call per batch."""

    model: ServedModel
    max_batch_size: int
    max_wait_s: float
    max_queue: int
    # How many requests the worker has in flight (set by its DataPlane); a batch holding
    # all of them is predicted on the event loop's thread.
    in_flight: Callable[[], int] = lambda: 1
    _queue: deque[tuple[np.ndarray, asyncio.Future[np.ndarray]]] = field(default_factory=deque)
    _draining: bool = False
    _drainer: asyncio.Task[None] | None = None  # kept: the loop holds tasks weakly
    pools: ThreadPools | None = None
    """The native thread pools to keep at one thread (None: scan for them)."""
    _executor: ThreadPoolExecutor = field(init=False)

    def __post_init__(self) -> None:
        self._executor = ThreadPoolExecutor(
            1, thread_name_prefix="opensage-predict", initializer=one_thread,
            initargs=(self.pools,),
        )  # fmt: skip

    async def predict(self, rows: np.ndarray) -> np.ndarray:
        """Predictions for ``rows``, computed with those of the requests queued with them."""
        if len(self._queue) >= self.max_queue:
            raise Overloaded
        loop = asyncio.get_running_loop()
        future: asyncio.Future[np.ndarray] = loop.create_future()
        self._queue.append((rows, future))
        if not self._draining:
            # The drain runs after the requests whose bytes arrived with this one have
            # queued theirs, so they share its first predict call with no waiting.
            self._draining = True
            self._drainer = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                if (
                    self.max_wait_s > 0
                    and self._rows_queued() < self.max_batch_size
                    and self.in_flight() > 1  # a request alone is answered at once
                ):
                    await asyncio.sleep(self.max_wait_s)
                for _ in range(JOIN_TURNS):
                    if len(self._queue) >= self.in_flight() or self._rows_queued() >= (
                        self.max_batch_size
                    ):
                        break
                    # Requests in flight but not queued are mostly being parsed: a turn
                    # of the loop lets them join this batch, for far less than a call.
                    await asyncio.sleep(0)
                batch = [self._queue.popleft()]
                size = len(batch[0][0])
                while self._queue and size + len(self._queue[0][0]) <= self.max_batch_size:
                    item = self._queue.popleft()
                    size += len(item[0])
                    batch.append(item)
                rows = batch[0][0] if len(batch) == 1 else np.vstack([b[0] for b in batch])
                try:
                    if len(batch) >= self.in_flight():
                        # Every request in flight is in this batch: none could move on
                        # meanwhile, so the model runs right here, with no thread hand-off.
                        output = self.model.predict(rows)
                    else:  # the others are read and parsed while the model runs
                        output = await loop.run_in_executor(
                            self._executor, self.model.predict, rows
                        )
                except Exception as exc:  # the model's own failure, reported as such
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(ModelError(f"{type(exc).__name__}: {exc}"))
                    continue
                start = 0
                for part, future in batch:
                    if not future.done():
                        future.set_result(output[start : start + len(part)])
                    start += len(part)
        finally:
            self._draining = False

    def _rows_queued(self) -> int:
        return sum(len(rows) for rows, _ in self._queue)


@dataclass
class Variant:
    name: str
    weight: float
    model: ServedModel
    batcher: Batcher


class DataPlane:
    """The ASGI app of one endpoint's worker."""

    def __init__(
        self,
        endpoint: str,
        variants: list[Variant],
        *,
        max_payload_bytes: int,
        capture: CaptureBuffer | None,
        authenticate: Callable[[str | None], None] | None,
        metrics: Any,
        on_ready: Callable[[], None] = lambda: None,
        pools: ThreadPools | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.pools = pools  # the native thread pools to keep at one thread (None: scan)
        self.variants = {v.name: v for v in variants}
        self._names = [v.name for v in variants]
        self._weights = [v.weight for v in variants]
        self.max_payload_bytes = max_payload_bytes
        self.capture = capture
        self.authenticate = authenticate
        self.metrics = metrics
        self.on_ready = on_ready
        self._paths = {f"/endpoints/{endpoint}/invocations", "/invocations"}
        self._in_flight = 0
        self._event_ids = EventIds()
        for variant in variants:
            variant.batcher.in_flight = lambda: self._in_flight

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path in self._paths and method == "POST":
            self._in_flight += 1
            try:
                await self._invoke(scope, receive, send)
            finally:
                self._in_flight -= 1
        elif path == "/ping" and method == "GET":
            await _respond(send, 200, b"{}", b"application/json")
        elif path == "/metrics" and method == "GET":
            body, kind = self.metrics.render()
            await _respond(send, 200, body, kind.encode())
        else:
            await _error(send, 404, "not_found", f"no route {method} {path}")

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # Models predict on one thread per worker: on this thread (a batch of
                # every request in flight), the batchers' and the custom code's threads.
                one_thread(self.pools)
                asyncio.get_running_loop().set_default_executor(
                    ThreadPoolExecutor(
                        thread_name_prefix="opensage-invoke",
                        initializer=one_thread,
                        initargs=(self.pools,),
                    )
                )
                if self.capture is not None:
                    self.capture.start()
                self.on_ready()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.capture is not None:
                    await self.capture.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _invoke(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        headers = dict(scope["headers"])
        variant_name = "-"
        try:
            if self.authenticate is not None:
                authorization = headers.get(b"authorization")
                self.authenticate(authorization.decode("latin-1") if authorization else None)
            variant = self._variant(headers.get(TARGET_VARIANT))
            variant_name = variant.name
            body = await self._body(receive, headers)
            content_type = media_type(headers.get(b"content-type", b"").decode("latin-1"))
            accept_header = headers.get(b"accept", b"").decode("latin-1")
            model_started = time.perf_counter()
            if not variant.model.batchable:
                kind = response_type(accept_header, content_type or "application/json")
                try:
                    payload, kind = await asyncio.get_running_loop().run_in_executor(
                        None, variant.model.invoke_custom, body, content_type, kind
                    )
                except PayloadError:
                    raise
                except Exception as exc:
                    raise ModelError(f"{type(exc).__name__}: {exc}") from None
            else:
                rows = parse(body, content_type, variant.model.feature_names)
                kind = response_type(accept_header, content_type)
                predictions = await variant.batcher.predict(rows)
                payload = render(predictions, kind)
            model_s = time.perf_counter() - model_started
        except PayloadError as exc:
            self.metrics.error(self.endpoint, variant_name, "4xx")
            await _error(send, exc.status, exc.code, exc.message)
            return
        except OpenSageError as exc:  # not signed in, or not allowed to invoke
            self.metrics.error(self.endpoint, variant_name, "4xx")
            await _error(send, exc.status, exc.code, exc.message)
            return
        except Overloaded:
            self.metrics.error(self.endpoint, variant_name, "5xx")
            await _error(send, 503, "overloaded", "the endpoint is at capacity; retry shortly",
                         extra=[(b"retry-after", b"1")])  # fmt: skip
            return
        except ModelError as exc:
            self.metrics.error(self.endpoint, variant_name, "model")
            await _error(send, 424, "model_error", str(exc))
            return
        event_id = self._event_ids.next()
        extra = [(INVOKED_VARIANT, variant_name.encode()), (EVENT_ID, event_id.encode())]
        inference_id = headers.get(INFERENCE_ID)
        if self.capture is not None and self.capture.record(
            event_id,
            variant_name,
            content_type,
            body,
            kind,
            payload,
            inference_id=inference_id.decode("latin-1")[:64] if inference_id else None,
        ):
            extra.append((CAPTURED, b"true"))
        total = time.perf_counter() - started
        self.metrics.observe(self.endpoint, variant_name, model_s, total - model_s)
        await _respond(send, 200, payload, kind.encode(), extra=extra)

    def _variant(self, target: bytes | None) -> Variant:
        if target:
            name = target.decode("latin-1")
            variant = self.variants.get(name)
            if variant is None:
                raise PayloadError(
                    400, "unknown_variant", f"no variant {name!r}; variants: {self._names}"
                )
            return variant
        if len(self._names) == 1:
            return self.variants[self._names[0]]
        return self.variants[random.choices(self._names, self._weights)[0]]

    async def _body(self, receive: Receive, headers: dict[bytes, bytes]) -> bytes:
        length = headers.get(b"content-length")
        if length is not None and int(length) > self.max_payload_bytes:
            raise _too_large(self.max_payload_bytes)
        chunks = []
        size = 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_payload_bytes:
                raise _too_large(self.max_payload_bytes)
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)


def _too_large(limit: int) -> PayloadError:
    return PayloadError(
        413, "payload_too_large", f"the payload is larger than {limit / 2**20:g} MiB"
    )


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    kind: bytes,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
    )
    await send({"type": "http.response.body", "body": body})


async def _error(
    send: Send, status: int, code: str, message: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = orjson.dumps({"error": {"code": code, "message": message}})
    await _respond(send, status, body, b"application/json", extra)
