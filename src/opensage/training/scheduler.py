"""The durable scheduler: pending jobs live in the metadata store; this runs what fits.

It claims the oldest pending job whose CPU slots fit the free ones, runs it on its own
thread, and wakes on submit, stop and job end. At start it applies the recovery policy
to jobs a dead server left running (retry from checkpoints, or fail with the reason).
"""

from __future__ import annotations

import logging

from opensage.background import SlotScheduler
from opensage.training.models import TrainingJob
from opensage.training.runner import JobRunner
from opensage.training.service import TrainingService

logger = logging.getLogger(__name__)


class Scheduler:
    """Runs at most as many jobs as there are free CPU slots."""

    def __init__(self, service: TrainingService, runner: JobRunner, total_slots: int) -> None:
        self.service = service
        self.runner = runner
        self.slots: SlotScheduler[TrainingJob] = SlotScheduler(
            "opensage-job", service, runner.run, lambda job: (job.name, job.cpu_slots), total_slots
        )
        service.on_submit = self.slots.wake
        service.on_stop = self.slots.stop_job

    def start(self, *, warm_up: bool = True) -> None:
        """Recover interrupted jobs, warm the fork server, and start claiming jobs."""
        recovered = self.service.recover()
        if recovered:
            logger.warning("recovered %d job(s) the previous server left running: %s",
                           len(recovered), ", ".join(recovered))  # fmt: skip
        self.slots.start(self.runner.launcher.warm_up if warm_up else None)

    def wake(self) -> None:
        """Look for work now (a job was submitted or ended)."""
        self.slots.wake()

    @property
    def free_slots(self) -> int:
        return self.slots.free_slots

    def close(self, timeout: float = 30.0) -> None:
        """Stop claiming, interrupt running jobs, and hand them to the recovery policy."""
        if self.slots.close(timeout):
            self.service.recover()
