"""Data capture: sampled requests and responses, appended as JSON Lines to the artifact
store per endpoint, variant and hour.

Records are buffered in memory off the hot path and written as a new file every
``FLUSH_S`` seconds (or ``MAX_RECORDS`` records), and on shutdown, so a clean stop loses
nothing. Each line follows SageMaker's capture format (``captureData`` with the input and
output, ``eventMetadata`` with the event id and time).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import random
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

from opensage.storage import ArtifactStore

logger = logging.getLogger(__name__)

FLUSH_S = 1.0
MAX_RECORDS = 1000
_TEXT_TYPES = ("text/csv", "application/json", "application/jsonlines")


class CaptureBuffer:
    """Samples invocations and ships them to the store in batches."""

    def __init__(
        self, store: ArtifactStore, endpoint: str, sampling_percentage: float, worker: str
    ) -> None:
        self.store = store
        self.endpoint = endpoint
        self.sampling = sampling_percentage / 100.0
        self.worker = worker
        self._records: dict[tuple[str, str], list[bytes]] = {}
        self._count = 0
        self._task: asyncio.Task[None] | None = None

    def record(
        self,
        event_id: str,
        variant: str,
        content_type: str,
        body: bytes,
        accept: str,
        payload: bytes,
        *,
        inference_id: str | None = None,
    ) -> bool:
        """Keep this invocation if it falls in the sample; whether it did."""
        if self.sampling < 1.0 and random.random() >= self.sampling:
            return False
        now = datetime.now(UTC)
        line = capture_line(
            event_id, variant, content_type, body, accept, payload, now, inference_id
        )
        hour = now.strftime("%Y/%m/%d/%H")
        self._records.setdefault((variant, hour), []).append(line)
        self._count += 1
        if self._count >= MAX_RECORDS:
            self._schedule_flush()
        return True

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._flush_every())

    async def close(self) -> None:
        """Stop the periodic flush and write what is left."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await asyncio.get_running_loop().run_in_executor(None, self._write, self._take())

    async def _flush_every(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_S)
            batch = self._take()
            if batch:
                try:
                    await asyncio.get_running_loop().run_in_executor(None, self._write, batch)
                except Exception:
                    logger.exception("could not write captured data; keeping it for later")
                    for key, lines in batch.items():
                        self._records.setdefault(key, [])[:0] = lines
                        self._count += len(lines)

    def _schedule_flush(self) -> None:
        batch = self._take()
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().run_in_executor(None, self._write, batch)

    def _take(self) -> dict[tuple[str, str], list[bytes]]:
        batch, self._records, self._count = self._records, {}, 0
        return batch

    def _write(self, batch: dict[tuple[str, str], list[bytes]]) -> None:
        for (variant, hour), lines in batch.items():
            key = (
                f"endpoints/{self.endpoint}/data-capture/{variant}/{hour}/"
                f"{datetime.now(UTC).strftime('%M-%S-%f')}-{self.worker}-{uuid.uuid4().hex[:8]}.jsonl"
            )
            self.store.put_bytes(b"\n".join(lines) + b"\n", key)


def capture_line(
    event_id: str,
    variant: str,
    content_type: str,
    body: bytes,
    accept: str,
    payload: bytes,
    at: datetime,
    inference_id: str | None = None,
) -> bytes:
    """One invocation as a line of a capture file (without the newline)."""
    metadata = {"eventId": event_id, "inferenceTime": at.isoformat()}
    if inference_id:
        metadata["inferenceId"] = inference_id
    return orjson.dumps(
        {
            "captureData": {
                "endpointInput": _data(content_type, body, "INPUT"),
                "endpointOutput": _data(accept, payload, "OUTPUT"),
            },
            "eventMetadata": metadata,
            "eventVersion": "0",
            "variant": variant,
        }
    )


def _data(content_type: str, body: bytes, mode: str) -> dict[str, Any]:
    record = {"observedContentType": content_type, "mode": mode}
    if content_type in _TEXT_TYPES:
        try:
            encoding = "CSV" if content_type == "text/csv" else "JSON"
            return {**record, "data": body.decode(), "encoding": encoding}
        except UnicodeDecodeError:
            pass
    return {**record, "data": base64.b64encode(body).decode(), "encoding": "BASE64"}
