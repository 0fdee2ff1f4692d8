"""The durable transform scheduler: queued jobs live in the metadata store; this runs what fits.

It claims the oldest queued job whose worker processes fit in the free slots, runs it on
its own thread, and wakes on submit, stop and job end. At start, jobs a dead server left
running are failed with the reason (their workers died with it).
"""

from __future__ import annotations

import logging

from opensage.background import SlotScheduler
from opensage.transform.models import TransformJob
from opensage.transform.runner import TransformRunner
from opensage.transform.service import SHUTDOWN_REASON, TransformService

logger = logging.getLogger(__name__)


class TransformScheduler:
    """Runs jobs while the sum of their worker processes fits in ``total_slots``."""

    def __init__(
        self, service: TransformService, runner: TransformRunner, total_slots: int
    ) -> None:
        self.service = service
        self.runner = runner
        self.slots: SlotScheduler[TransformJob] = SlotScheduler(
            "opensage-transform",
            service,
            runner.run,
            lambda job: (job.name, job.max_parallel),
            total_slots,
        )
        service.on_submit = self.slots.wake
        service.on_stop = self.slots.stop_job

    def start(self) -> None:
        """Settle the jobs a previous server left running, then start claiming jobs."""
        recovered = self.service.recover()
        if recovered:
            logger.warning("failed %d transform job(s) the previous server left running: %s",
                           len(recovered), ", ".join(recovered))  # fmt: skip
        self.slots.start()

    def wake(self) -> None:
        """Look for work now (a job was submitted or ended)."""
        self.slots.wake()

    @property
    def free_slots(self) -> int:
        return self.slots.free_slots

    def close(self, timeout: float = 30.0) -> None:
        """Stop claiming; running jobs stop their workers and end Failed (shutdown)."""
        if self.slots.close(timeout):
            self.service.recover(SHUTDOWN_REASON)
