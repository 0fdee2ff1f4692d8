"""The monitor: one thread that queues due executions, runs them one at a time, finishes
baselines whose predictions are ready, and moves retrainings along; alerts go out on the
webhook sender's own thread."""

from __future__ import annotations

import logging
from datetime import timedelta

from opensage.background import WakeableLoop
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
        self._loop = WakeableLoop("opensage-monitor", self._round)
        service.on_change = self.wake
        service.on_execution_end.append(self._after_execution)

    def start(self) -> None:
        recovered = self.service.recover()
        if recovered:
            logger.info("re-queued %d monitoring executions a stop interrupted", recovered)
        self.webhooks.start()
        self._loop.start()

    def wake(self) -> None:
        self._loop.wake()

    def close(self, timeout: float = 30.0) -> None:
        self._loop.close(timeout)
        self.webhooks.close()

    def _round(self) -> float:
        """Queue, run and follow up what is due; how long to wait before the next round."""
        self.service.enqueue_due()
        for name in self.service.pending_baselines():
            self.service.advance_baseline(name)
        while not self._loop.closing.is_set():
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
        return self._sleep()

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
