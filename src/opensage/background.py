"""Background work of the server: a loop on its own thread that can be woken, and the
slot scheduler that runs queued jobs (training, batch transform) while they fit."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

logger = logging.getLogger(__name__)

RETRY_S = 1.0
"""How long a loop waits after a round that failed."""
CLAIM_POLL_S = 1.0
"""How often the slot scheduler looks for work when nothing woke it."""


class WakeableLoop:
    """A daemon thread that runs ``round`` until closed: again as soon as ``wake`` is
    called, else after the seconds the round returned. A round that fails is logged and
    run again ``RETRY_S`` later."""

    def __init__(self, name: str, round: Callable[[], float]) -> None:
        self.name = name
        self._round = round
        self._wake = threading.Event()
        self.closing = threading.Event()
        """Set when the loop is closing: long rounds check it to stop early."""
        self._thread: threading.Thread | None = None

    def start(self, first: Callable[[], None] | None = None) -> None:
        """Start the thread; ``first`` runs on it before the first round."""
        self.closing.clear()
        self._thread = threading.Thread(target=self._run, args=(first,), name=self.name)
        self._thread.daemon = True
        self._thread.start()

    def wake(self) -> None:
        """Run a round now (or right after the one running)."""
        self._wake.set()

    def stop_soon(self) -> None:
        """Ask the loop to end after its current round."""
        self.closing.set()
        self._wake.set()

    def join(self, timeout: float = 30.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def close(self, timeout: float = 30.0) -> None:
        """End the loop and wait for its thread."""
        self.stop_soon()
        self.join(timeout)

    def _run(self, first: Callable[[], None] | None) -> None:
        if first is not None:
            try:
                first()
            except Exception:
                logger.exception("%s could not get ready; going on", self.name)
        while not self.closing.is_set():
            self._wake.clear()
            try:
                wait = self._round()
            except Exception:
                logger.exception("a round of %s failed; trying again", self.name)
                wait = RETRY_S
            self._wake.wait(timeout=wait)


J = TypeVar("J")
J_co = TypeVar("J_co", covariant=True)


class JobQueue(Protocol[J_co]):
    """What the slot scheduler needs of a capability's service."""

    def claim_next(self, free_slots: int) -> J_co | None: ...

    def stop_requested(self, name: str) -> bool: ...


@dataclass
class _Running:
    slots: int
    thread: threading.Thread
    stop: threading.Event = field(default_factory=threading.Event)
    interrupt: threading.Event = field(default_factory=threading.Event)


class SlotScheduler(Generic[J]):
    """Claims the queued jobs that fit the free slots, runs each on its own thread with
    ``run(job, stop, interrupt)``, and looks again when woken (a job was submitted or
    ended) or every second.

    ``stop`` asks a job to stop (the user's request); ``interrupt`` is the server
    closing: the job ends at once and goes to its capability's recovery policy.
    """

    def __init__(
        self,
        name: str,
        queue: JobQueue[J],
        run: Callable[[J, threading.Event, threading.Event], None],
        describe: Callable[[J], tuple[str, int]],
        total_slots: int,
    ) -> None:
        """``describe`` gives a job's name and how many slots it takes."""
        self.queue = queue
        self.total_slots = total_slots
        self._run_job = run
        self._describe = describe
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()
        self._loop = WakeableLoop(name, self._claim_all)

    def start(self, first: Callable[[], None] | None = None) -> None:
        self._loop.start(first)

    def wake(self) -> None:
        """Look for work now."""
        self._loop.wake()

    @property
    def free_slots(self) -> int:
        with self._lock:
            return self.total_slots - sum(r.slots for r in self._running.values())

    def stop_job(self, name: str) -> None:
        """Ask a running job to stop (nothing if it is not running here)."""
        with self._lock:
            job = self._running.get(name)
        if job is not None:
            job.stop.set()

    def close(self, timeout: float = 30.0) -> bool:
        """Stop claiming and interrupt the running jobs; whether any was running."""
        self._loop.stop_soon()
        with self._lock:
            running = list(self._running.values())
        for job in running:
            job.interrupt.set()
        for job in running:
            if job.thread.ident is not None:  # a claim can be registered just before start
                job.thread.join(timeout=timeout)
        self._loop.join(timeout)
        return bool(running)

    def _claim_all(self) -> float:
        while not self._loop.closing.is_set():
            free = self.free_slots
            if free <= 0:
                break
            job = self.queue.claim_next(free)
            if job is None:
                break
            name, slots = self._describe(job)
            entry = _Running(slots=slots, thread=threading.Thread())
            entry.thread = threading.Thread(
                target=self._run,
                args=(job, name, entry),
                name=f"{self._loop.name}-{name}",
                daemon=True,
            )
            with self._lock:
                self._running[name] = entry
            if self.queue.stop_requested(name):
                entry.stop.set()
            entry.thread.start()
        return CLAIM_POLL_S

    def _run(self, job: J, name: str, entry: _Running) -> None:
        try:
            self._run_job(job, entry.stop, entry.interrupt)
        finally:
            with self._lock:
                self._running.pop(name, None)
            self._loop.wake()
