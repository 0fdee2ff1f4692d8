"""Keeps a built-in's native thread pools (OpenMP, BLAS) within the job's CPU budget."""

from __future__ import annotations

from typing import Any

from threadpoolctl import ThreadpoolController, threadpool_limits


def limit_threads(num_cpus: int) -> Any:
    """A context manager capping OpenMP and BLAS threads at ``num_cpus`` while it is open.

    scikit-learn estimators without ``n_jobs`` (k-means, PCA, SGD) still use these pools;
    without a cap they take every core of the machine, not the job's share.
    """
    return threadpool_limits(limits=max(1, num_cpus))


class ThreadPools:
    """The native thread pools (OpenMP, BLAS) of the libraries loaded when it was made.

    Finding them scans every library the process has loaded (15-45 ms). A process forked
    from one that made it can cap them without scanning again, as long as it has loaded
    no such library of its own since.
    """

    def __init__(self) -> None:
        self._controller = ThreadpoolController()

    def limit(self, num_cpus: int) -> Any:
        """Like ``limit_threads``, for these pools."""
        return self._controller.limit(limits=max(1, num_cpus))


def one_thread() -> None:
    """From now on, predict on one thread: caps the calling thread's OpenMP pool and the
    process's BLAS pools at one thread (not restored).

    For a serving worker, whose predict calls are small batches: waking a second thread
    costs more than it saves, and OpenMP threads spinning after a call take the core the
    next request (or the client) needs. An endpoint scales with its worker processes.
    Call it on every thread that predicts (e.g. as a thread pool's initializer).
    """
    threadpool_limits(limits=1)
