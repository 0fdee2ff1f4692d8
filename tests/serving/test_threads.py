"""An endpoint worker predicts on one thread: on the event loop, in its batchers' threads
and in the pool that runs custom inference code.

Checked in a fresh interpreter, since the caps are process-wide for BLAS and would slow
the rest of the suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import asyncio, json
    import threadpoolctl
    import xgboost  # loads the OpenMP runtime the built-ins use
    from opensage.serving.dataplane import Batcher, DataPlane, Variant

    def pools():
        return {i["internal_api"]: i["num_threads"] for i in threadpoolctl.threadpool_info()}

    class Metrics:
        def render(self):
            return b"", "text/plain"

    from opensage.algorithms.threads import ThreadPools

    given = ThreadPools() if GIVEN_POOLS else None  # found once, as the fork server does
    batcher = Batcher(model=None, max_batch_size=8, max_wait_s=0.0, max_queue=8, pools=given)
    app = DataPlane(
        "e", [Variant("v", 1.0, None, batcher)], max_payload_bytes=1024,
        capture=None, authenticate=None, metrics=Metrics(), pools=given,
    )

    async def main():
        before = pools()
        messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

        async def receive():
            return next(messages)

        async def send(message):
            pass

        await app({"type": "lifespan"}, receive, send)
        loop = asyncio.get_running_loop()
        return {
            "before": before,
            "loop": pools(),
            "batcher": await loop.run_in_executor(batcher._executor, pools),
            "custom": await loop.run_in_executor(None, pools),
        }

    print(json.dumps(asyncio.run(main())))
    """
)


@pytest.mark.parametrize("given_pools", [False, True], ids=["scanned", "given"])
def test_worker_threads_predict_single_threaded(given_pools: bool) -> None:
    code = f"GIVEN_POOLS = {given_pools}\n{SCRIPT}"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    if (os.cpu_count() or 1) > 1:  # the default: a thread per core, which the cap changed
        assert seen["before"]["openmp"] > 1, seen
    for where in ("loop", "batcher", "custom"):
        assert seen[where]["openmp"] == 1, (where, seen)
        assert seen[where]["openblas"] == 1, (where, seen)
