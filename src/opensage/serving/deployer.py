"""Endpoint worker processes: start a generation, wait until it serves, swap, stop.

A generation is the set of worker processes serving one endpoint config. An update
starts the new generation beside the old one (both bind the endpoint's port with
SO_REUSEPORT), waits until every new worker has loaded its models, and only then drains
the old one with SIGTERM: requests in flight finish, none is refused. A worker that dies
on its own is replaced by the monitor.
"""

from __future__ import annotations

import logging
import shutil
import signal
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from opensage.training.launcher import Launcher

logger = logging.getLogger(__name__)

READY_TIMEOUT_S = 120.0
DRAIN_TIMEOUT_S = 30.0
MONITOR_S = 1.0


class DeployError(Exception):
    """A generation did not come up (the reason is the worker's own error)."""


@dataclass
class Generation:
    number: int
    spec: dict[str, Any]
    processes: list[BaseProcess] = field(default_factory=list)


class Deployer:
    """Owns every endpoint's worker processes."""

    def __init__(self, launcher: Launcher, runtime_root: Path) -> None:
        self.launcher = launcher
        self.runtime_root = runtime_root
        self._live: dict[str, Generation] = {}
        self._starting: dict[str, Generation] = {}
        """Generations still loading, so that a delete stops them too."""
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._monitor: threading.Thread | None = None

    def runtime_dir(self, endpoint: str) -> Path:
        return self.runtime_root / endpoint

    def start_monitor(self) -> None:
        self._monitor = threading.Thread(target=self._watch, name="opensage-endpoints", daemon=True)
        self._monitor.start()

    def deploy(self, endpoint: str, spec: dict[str, Any], generation: int) -> None:
        """Bring up ``generation`` of the endpoint, then retire the one it replaces."""
        runtime = self.runtime_dir(endpoint)
        (runtime / "metrics").mkdir(parents=True, exist_ok=True)
        spec = {**spec, "runtime_dir": str(runtime), "generation": generation}
        new = Generation(generation, spec)
        with self._lock:
            self._starting[endpoint] = new
        try:
            for _ in range(spec["instance_count"]):
                new.processes.append(self._start(endpoint, spec))
            self._wait_ready(new, runtime)
            with self._lock:
                if self._starting.pop(endpoint, None) is not new:
                    raise DeployError("the endpoint was deleted while it was starting")
                old = self._live.get(endpoint)
                self._live[endpoint] = new
        except BaseException:
            with self._lock:
                if self._starting.get(endpoint) is new:
                    del self._starting[endpoint]
            self._terminate(new.processes, wait=True)
            raise
        if old is not None:
            self._terminate(old.processes, wait=True)

    def stop(self, endpoint: str) -> None:
        """Drain and stop the endpoint's workers; forget its runtime files."""
        with self._lock:
            old = self._live.pop(endpoint, None)
            starting = self._starting.pop(endpoint, None)
        for generation in (starting, old):
            if generation is not None:
                self._terminate(generation.processes, wait=True)
        shutil.rmtree(self.runtime_dir(endpoint), ignore_errors=True)

    def close(self) -> None:
        """Stop every endpoint's workers (the platform is shutting down)."""
        self._closing.set()
        with self._lock:
            endpoints = list(self._live)
        for endpoint in endpoints:
            self.stop(endpoint)

    def worker_pids(self, endpoint: str) -> list[int]:
        with self._lock:
            live = self._live.get(endpoint)
            return [p.pid for p in live.processes if p.pid] if live else []

    # -- internals --------------------------------------------------------------------
    def _start(self, endpoint: str, spec: dict[str, Any]) -> BaseProcess:
        from opensage.serving.worker import serve

        return self.launcher.start_process(serve, spec, f"opensage-endpoint-{endpoint}")

    def _wait_ready(self, generation: Generation, runtime: Path) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            ready = sum(
                (runtime / f"ready-{generation.number}-{p.pid}").exists()
                for p in generation.processes
            )
            if ready == len(generation.processes):
                return
            for process in generation.processes:
                if not process.is_alive():
                    failed = runtime / f"failed-{process.pid}"
                    reason = failed.read_text() if failed.exists() else _log_tail(runtime, process)
                    raise DeployError(f"a worker could not start: {reason}")
            time.sleep(0.02)
        raise DeployError(f"the workers were not ready after {READY_TIMEOUT_S:.0f} s")

    def _terminate(self, processes: list[BaseProcess], *, wait: bool) -> None:
        for process in processes:
            if process.is_alive():
                self.launcher.signal(process, signal.SIGTERM)
        if not wait:
            return
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        for process in processes:
            process.join(timeout=max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                self.launcher.signal(process, signal.SIGKILL)
                process.join(timeout=5)

    def _watch(self) -> None:
        """Replace workers that died on their own (a model that crashed its process)."""
        while not self._closing.wait(MONITOR_S):
            with self._lock:
                live = list(self._live.items())
            for endpoint, generation in live:
                for index, process in enumerate(list(generation.processes)):
                    if process.is_alive() or self._closing.is_set():
                        continue
                    logger.warning("a worker of endpoint %s died (exit %s); restarting",
                                   endpoint, process.exitcode)  # fmt: skip
                    try:
                        generation.processes[index] = self._start(endpoint, generation.spec)
                    except Exception:
                        logger.exception("could not restart a worker of endpoint %s", endpoint)


def _log_tail(runtime: Path, process: BaseProcess) -> str:
    log = runtime / f"worker-{process.pid}.log"
    if not log.exists():
        return f"it exited with status {process.exitcode}"
    lines = log.read_text(errors="replace").strip().splitlines()
    return lines[-1] if lines else f"it exited with status {process.exitcode}"
