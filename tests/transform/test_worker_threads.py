"""Transform workers of built-in models cap the thread pools the fork server found."""

from __future__ import annotations

import json
import subprocess
import sys

from opensage.training.launcher import PRELOAD

# Imports the fork server's preloads in its order, then reports, inside the preloaded
# pools' cap of one thread, what a fresh scan sees.
SCRIPT = """
import importlib, json, sys
before = {}
for name in PRELOAD:
    before[name] = "opensage.transform.worker" in sys.modules
    importlib.import_module(name)
from threadpoolctl import threadpool_info
from opensage.transform.worker import PRELOADED_POOLS
with PRELOADED_POOLS.limit(1):
    inside = threadpool_info()
print(json.dumps({"early": [n for n, seen in before.items() if seen], "inside": inside}))
"""


def test_preloaded_pools_hold_every_pool_the_built_ins_load() -> None:
    code = f"PRELOAD = {PRELOAD!r}\n{SCRIPT}"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    # The worker module is first imported as the last preload, after every library.
    assert PRELOAD[-1] == "opensage.transform.worker"
    assert report["early"] == []
    openmp = [pool for pool in report["inside"] if pool["user_api"] == "openmp"]
    assert openmp, "xgboost / lightgbm / scikit-learn load OpenMP"
    assert all(pool["num_threads"] == 1 for pool in report["inside"]), report["inside"]
