"""The fork server's last preload: its forks start with BLAS on one thread.

Imported only by the fork server (``Launcher``), after every library it preloads. Every
process forked from it (training jobs, endpoint and transform workers) inherits its
BLAS libraries' thread count, and setting that count in a fork makes OpenBLAS start its
threads, which spin for about 0.1 s before they sleep: a core's worth of work taken from
a worker that has just begun to predict. So the count is set here, once, to what the
workers want (one thread each, see ``ThreadPools``); a training job raises it to its own
CPU count (a script job as it starts, a built-in with ``limit_threads`` where it uses
BLAS).
"""

from __future__ import annotations

from opensage.algorithms.threads import ThreadPools

POOLS = ThreadPools()
"""The native thread pools of every library the fork server preloaded."""

POOLS.set(1, user_api="blas")
