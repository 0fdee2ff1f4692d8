"""Job processes forked from a warm, pre-imported fork server (stdlib ``forkserver``).

Importing xgboost, scikit-learn and pandas takes seconds; the fork server pays that once,
and every job is a fork of it: its own process, its own workspace, killable alone.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any

from opensage.training import child

if TYPE_CHECKING:
    from opensage.algorithms.threads import ThreadPools

logger = logging.getLogger(__name__)

PRELOAD = [
    "opensage.training.child",
    "opensage.algorithms",
    "numpy",
    "pandas",
    "pyarrow.parquet",
    "sklearn.ensemble",
    "sklearn.linear_model",
    "xgboost",
    "lightgbm",
    # The built-ins themselves: their shared model-file module imports skops, whose
    # import alone takes over a second; without these every built-in job paid it.
    "opensage.algorithms.artifacts",
    "opensage.algorithms.xgboost",
    "opensage.algorithms.lightgbm",
    "opensage.algorithms.linear_learner",
    "opensage.algorithms.random_forest",
    "opensage.algorithms.kmeans",
    "opensage.algorithms.pca",
    "opensage.algorithms.knn",
    "opensage.algorithms.random_cut_forest",
    # Endpoint workers are forked from here too.
    "uvicorn",
    "orjson",
    "opensage.serving.dataplane",
    "opensage.serving.worker",
    # And transform workers.
    "opensage.transform.worker",
    # Last: the thread pools of all the above, with BLAS on one thread in every fork.
    "opensage.training.forkserver_setup",
]


class Launcher:
    """Starts and signals job processes."""

    def __init__(self, preload: list[str] | None = None) -> None:
        self._context: ForkServerContext = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(PRELOAD if preload is None else preload)

    def warm_up(self) -> None:
        """Start the fork server now (it imports the heavy libraries once)."""
        process = self._context.Process(target=_noop, name="opensage-warm-up")
        process.start()
        process.join(timeout=120)

    def start(self, spec: dict[str, Any]) -> BaseProcess:
        """Fork a job process running ``child.run_job(spec)``."""
        process = self._context.Process(
            target=child.run_job, args=(spec,), name=f"opensage-job-{spec['job_name']}"
        )
        process.start()
        return process

    def start_process(self, target: Any, spec: dict[str, Any], name: str) -> BaseProcess:
        """Fork a process running ``target(spec)`` (e.g. an endpoint worker)."""
        process = self._context.Process(target=target, args=(spec,), name=name)
        process.start()
        return process

    @staticmethod
    def signal(process: BaseProcess, signum: int) -> None:
        """Send ``signum`` to the job and every process it started."""
        if process.pid is None:
            return
        try:
            os.killpg(process.pid, signum)
        except (ProcessLookupError, PermissionError):
            # Just forked, not yet its own group leader: signal the process alone.
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signum)

    def terminate(self, process: BaseProcess, grace_s: float) -> None:
        """SIGTERM, then SIGKILL after ``grace_s`` seconds if it is still alive."""
        self.signal(process, signal.SIGTERM)
        process.join(timeout=grace_s)
        if process.is_alive():
            self.signal(process, signal.SIGKILL)
            process.join(timeout=10)


def preloaded_pools() -> ThreadPools:
    """The native thread pools the fork server found after its preloads, for a process
    forked from it (anywhere else, the first call sets this process's BLAS to one
    thread, as in the fork server)."""
    from opensage.training import forkserver_setup

    return forkserver_setup.POOLS


def _noop() -> None:
    return None
