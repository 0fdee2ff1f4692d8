"""The durable scheduler: pending jobs live in the metadata store; this runs what fits.

It claims the oldest pending job whose CPU slots fit the free ones, runs it on its own
thread, and wakes on submit, stop and job end. At start it applies the recovery policy
to jobs a dead server left running (retry from checkpoints, or fail with the reason).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from opensage.training.runner import JobRunner
from opensage.training.service import TrainingService

logger = logging.getLogger(__name__)


@dataclass
class _Running:
    slots: int
    thread: threading.Thread
    stop: threading.Event = field(default_factory=threading.Event)
    interrupt: threading.Event = field(default_factory=threading.Event)


class Scheduler:
    """Runs at most as many jobs as there are free CPU slots."""

    def __init__(self, service: TrainingService, runner: JobRunner, total_slots: int) -> None:
        self.service = service
        self.runner = runner
        self.total_slots = total_slots
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._warm_up = False
        service.on_submit = self.wake
        service.on_stop = self._stop_job

    def start(self, *, warm_up: bool = True) -> None:
        """Recover interrupted jobs, warm the fork server, and start claiming jobs."""
        recovered = self.service.recover()
        if recovered:
            logger.warning("recovered %d job(s) the previous server left running: %s",
                           len(recovered), ", ".join(recovered))  # fmt: skip
        self._warm_up = warm_up
        self._thread = threading.Thread(target=self._loop, name="opensage-scheduler", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look for work now (a job was submitted or ended)."""
        self._wake.set()

    @property
    def free_slots(self) -> int:
        with self._lock:
            return self.total_slots - sum(r.slots for r in self._running.values())

    def close(self, timeout: float = 30.0) -> None:
        """Stop claiming, interrupt running jobs, and hand them to the recovery policy."""
        self._closing.set()
        self._wake.set()
        with self._lock:
            running = list(self._running.values())
        for job in running:
            job.interrupt.set()
        for job in running:
            if job.thread.ident is not None:  # a claim can be registered just before start
                job.thread.join(timeout=timeout)
        if self._thread is not None:
            self._thread.join(timeout=timeout)
        if running:
            self.service.recover()

    def _stop_job(self, name: str) -> None:
        with self._lock:
            job = self._running.get(name)
        if job is not None:
            job.stop.set()

    def _loop(self) -> None:
        if self._warm_up:
            try:
                self.runner.launcher.warm_up()
            except Exception:
                logger.exception("could not warm up the job fork server")
        while not self._closing.is_set():
            try:
                self._claim_all()
            except Exception:
                logger.exception("the scheduler could not claim jobs; retrying")
            self._wake.wait(timeout=1.0)
            self._wake.clear()

    def _claim_all(self) -> None:
        while not self._closing.is_set():
            free = self.free_slots
            if free <= 0:
                return
            job = self.service.claim_next(free)
            if job is None:
                return
            entry = _Running(slots=job.cpu_slots, thread=threading.Thread())
            entry.thread = threading.Thread(
                target=self._run, args=(job, entry), name=f"opensage-job-{job.name}", daemon=True
            )
            with self._lock:
                self._running[job.name] = entry
            if self.service.stop_requested(job.name):
                entry.stop.set()
            entry.thread.start()

    def _run(self, job: object, entry: _Running) -> None:
        name = job.name  # type: ignore[attr-defined]
        try:
            self.runner.run(job, entry.stop, entry.interrupt)  # type: ignore[arg-type]
        finally:
            with self._lock:
                self._running.pop(name, None)
            self._wake.set()
