"""Keeps a built-in's native thread pools (OpenMP, BLAS) within the job's CPU budget."""

from __future__ import annotations

from collections.abc import Callable
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

    Only pools whose size changes are touched: in a forked process, setting OpenBLAS's
    thread count (even to what it is) starts its threads, which then spin for about 0.1 s
    before they sleep, a core's worth of work taken from whatever runs beside them.
    """

    def __init__(self) -> None:
        self._controller = ThreadpoolController()

    def limit(self, num_cpus: int) -> Any:
        """Like ``limit_threads``, for these pools: those above ``num_cpus`` threads are
        capped while the block runs."""
        limit = max(1, num_cpus)
        return self._select(lambda threads: threads > limit).limit(limits=limit)

    def set(self, num_cpus: int, *, user_api: str | None = None) -> None:
        """Give these pools (or those of one ``user_api``: ``blas``, ``openmp``)
        ``num_cpus`` threads from now on."""
        size = max(1, num_cpus)
        pools = self._select(lambda threads: threads != size, user_api)
        for pool in pools.lib_controllers:
            pool.set_num_threads(size)

    def _select(
        self, resize: Callable[[int], bool], user_api: str | None = None
    ) -> ThreadpoolController:
        paths = [
            pool.filepath
            for pool in self._controller.lib_controllers
            if (user_api is None or pool.user_api == user_api) and resize(pool.num_threads)
        ]
        return self._controller.select(filepath=paths)


def one_thread(pools: ThreadPools | None = None) -> None:
    """From now on, predict on one thread: caps the calling thread's OpenMP pool and the
    process's BLAS pools at one thread (not restored); ``pools``: those to cap, if known
    (else every library loaded is scanned for them, 15-45 ms).

    For a serving worker, whose predict calls are small batches: waking a second thread
    costs more than it saves, and OpenMP threads spinning after a call take the core the
    next request (or the client) needs. An endpoint scales with its worker processes.
    Call it on every thread that predicts (e.g. as a thread pool's initializer).
    """
    (pools or ThreadPools()).set(1)
