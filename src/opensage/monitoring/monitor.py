"""The monitor: one thread that queues due executions, runs them one at a time, finishes
baselines whose predictions are ready, and moves retrainings along; alerts go out on the
webhook sender's own thread."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from opensage.db import utcnow
from opensage.errors import OpenSageError
from opensage.monitoring.alerts import Delivery, WebhookSender, alert_body
from opensage.monitoring.retraining import Retrainer
from opensage.monitoring.service import MonitoringService

logger = logging.getLogger(__name__)

POLL_S = 1.0


class Monitor:
    """Drives the monitoring schedules; all their state is in the metadata store."""

    def __init__(self, service: MonitoringService, retrainer: Retrainer) -> None:
        self.service = service
        self.retrainer = retrainer
        self.webhooks = WebhookSender()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        service.on_change = self.wake
        service.on_execution_end.append(self._after_execution)

    def start(self) -> None:
        recovered = self.service.recover()
        if recovered:
            logger.info("re-queued %d monitoring executions a stop interrupted", recovered)
        self._closing.clear()
        self.webhooks.start()
        self._thread = threading.Thread(target=self._loop, name="opensage-monitor", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def close(self, timeout: float = 30.0) -> None:
        self._closing.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
        self.webhooks.close()

    def _loop(self) -> None:
        while not self._closing.is_set():
            self._wake.clear()
            try:
                self._tick()
            except Exception:
                logger.exception("the monitor's round failed; trying again")
            self._wake.wait(self._sleep())

    def _tick(self) -> None:
        self.service.enqueue_due()
        for name in self.service.pending_baselines():
            self.service.advance_baseline(name)
        while not self._closing.is_set():
            execution = self.service.claim_next_execution()
            if execution is None:
                break
            self.service.run_execution(execution)
        for schedule, number, state in self.service.retrainings_in_progress():
            _, config, problem = self.service.schedule_context(schedule)
            if config is None:
                continue
            moved = self.retrainer.advance(schedule, state, config, problem)
            if moved != state:
                self.service.set_retraining(schedule, number, moved)

    def _sleep(self) -> float:
        due = self.service.next_due()
        if due is None:
            return POLL_S
        return max(0.05, min(POLL_S, (due - utcnow()) / timedelta(seconds=1)))

    # -- after an execution -----------------------------------------------------------
    def _after_execution(self, schedule: str, number: int) -> None:
        """Alert and retrain on violations (never blocking: the webhook is queued)."""
        execution = self.service.get_execution(schedule, number)
        if execution.report is None or not execution.report.violations:
            return
        endpoint, retraining, _ = self.service.schedule_context(schedule)
        url = self.service.webhook_url(schedule)
        if url:
            self.service.set_alert(schedule, number, {"status": "Sending", "url": url})
            self.webhooks.send(
                Delivery(
                    url=url,
                    body=alert_body(schedule, endpoint, execution.model_dump(mode="json")),
                    done=lambda outcome: self.service.set_alert(schedule, number, outcome),
                )
            )
        if retraining is not None:
            found = {v.check for v in execution.report.violations}
            if found & set(retraining.on):
                if self.service.retrainings_in_progress_for(schedule):
                    return
                try:
                    state = self.retrainer.start(schedule, number, endpoint, retraining)
                except OpenSageError as exc:
                    state = {"status": "Failed", "failure_reason": exc.message}
                self.service.set_retraining(schedule, number, state)
