"""Webhook alerts: a violation's report posted as JSON, retried, on a thread of its own
so that a slow or dead receiver never holds up monitoring."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

logger = logging.getLogger(__name__)

ATTEMPTS = 3
TIMEOUT_S = 5.0
BACKOFF_S = (0.5, 2.0)
"""Waits before the second and third attempts."""


@dataclass
class Delivery:
    url: str
    body: dict[str, Any]
    done: Callable[[dict[str, Any]], None]
    """Called with the outcome: status, attempts, and the last error if it failed."""


class WebhookSender:
    """Posts alerts in the background, in order, each up to ``ATTEMPTS`` times."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._closing.clear()
        self._thread = threading.Thread(target=self._loop, name="opensage-webhooks", daemon=True)
        self._thread.start()

    def send(self, delivery: Delivery) -> None:
        """Queue an alert (returns at once)."""
        self._queue.put(delivery)

    def close(self, timeout: float = 5.0) -> None:
        self._closing.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def _loop(self) -> None:
        with httpx.Client(timeout=TIMEOUT_S, follow_redirects=False) as client:
            while True:
                delivery = self._queue.get()
                if delivery is None or self._closing.is_set():
                    return
                outcome = self._deliver(client, delivery)
                try:
                    delivery.done(outcome)
                except Exception:
                    logger.exception("could not record the outcome of a webhook")

    def _deliver(self, client: httpx.Client, delivery: Delivery) -> dict[str, Any]:
        error = ""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                response = client.post(delivery.url, json=delivery.body)
                if response.status_code < 300:
                    return {"status": "Delivered", "attempts": attempt, "url": delivery.url}
                error = f"the receiver answered HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if attempt < ATTEMPTS and not self._closing.wait(BACKOFF_S[attempt - 1]):
                continue
            if self._closing.is_set():
                break
        logger.warning("webhook %s failed: %s", delivery.url, error)
        return {"status": "Failed", "attempts": attempt, "url": delivery.url, "error": error}


def alert_body(schedule: str, endpoint: str, execution: dict[str, Any]) -> dict[str, Any]:
    """The JSON an alert carries."""
    return {
        "type": "opensage.monitoring.violations",
        "monitoring_schedule": schedule,
        "endpoint": endpoint,
        "execution": execution,
        "sent_at": time.time(),
    }
