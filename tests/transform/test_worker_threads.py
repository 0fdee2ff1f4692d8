"""Workers forked from the fork server cap the thread pools it found, without waking
BLAS threads; script training jobs get their CPU count."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from opensage.training.launcher import PRELOAD

# Imports the fork server's preloads in its order, then reports the pools as the last
# preload left them, and what a fresh scan sees inside the preloaded pools' cap.
SCRIPT = """
import importlib, json, sys
from threadpoolctl import threadpool_info
before = {}
for name in PRELOAD:
    before[name] = "opensage.training.forkserver_setup" in sys.modules
    importlib.import_module(name)
from opensage.training.launcher import preloaded_pools
after = threadpool_info()
with preloaded_pools().limit(1):
    inside = threadpool_info()
print(json.dumps({"early": [n for n, seen in before.items() if seen], "after": after,
                  "inside": inside}))
"""

# A real fork server with the platform's preloads; its fork reports its threads before
# and inside the cap, and the pools it then sees.
FORKED = """
import json, multiprocessing, os
from opensage.training.launcher import PRELOAD


def threads() -> int:
    return len(os.listdir("/proc/self/task"))


def capped(queue):
    from threadpoolctl import threadpool_info
    from opensage.training.launcher import preloaded_pools
    before = threads()
    with preloaded_pools().limit(1):
        queue.put({"before": before, "inside": threads(), "pools": threadpool_info()})


if __name__ == "__main__":
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    queue = context.Queue()
    process = context.Process(target=capped, args=(queue,))
    process.start()
    print(json.dumps(queue.get(timeout=100)))
    process.join()
"""


def _last_json(args: list[str]) -> dict:  # type: ignore[type-arg]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_preloaded_pools_hold_every_pool_the_built_ins_load() -> None:
    report = _last_json([sys.executable, "-c", f"PRELOAD = {PRELOAD!r}\n{SCRIPT}"])
    # The pools are found by the last preload, after every library.
    assert PRELOAD[-1] == "opensage.training.forkserver_setup"
    assert report["early"] == []
    openmp = [pool for pool in report["after"] if pool["user_api"] == "openmp"]
    blas = [pool for pool in report["after"] if pool["user_api"] == "blas"]
    assert openmp, "xgboost / lightgbm / scikit-learn load OpenMP"
    assert blas, "numpy and scipy load OpenBLAS"
    # The fork server runs BLAS on one thread; OpenMP keeps its default.
    assert all(pool["num_threads"] == 1 for pool in blas), blas
    if (os.cpu_count() or 1) > 1:
        assert all(pool["num_threads"] > 1 for pool in openmp), openmp
    assert all(pool["num_threads"] == 1 for pool in report["inside"]), report["inside"]


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc")
def test_a_forked_worker_caps_its_pools_without_starting_threads(tmp_path: Path) -> None:
    # Setting OpenBLAS's thread count in a fork starts its threads, which spin for about
    # 0.1 s: the cap must leave the pools already at one thread alone.
    script = tmp_path / "forked.py"
    script.write_text(FORKED)
    seen = _last_json([sys.executable, str(script)])
    assert seen["inside"] == seen["before"], seen
    assert all(pool["num_threads"] == 1 for pool in seen["pools"]), seen["pools"]
