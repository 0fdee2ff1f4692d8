"""Stopping a transform job, and a server killed (or shut down) while one runs."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

import opensage
from tests.conftest import ServerProcess
from tests.transform.conftest import (
    Transformer,
    custom_model,
    read_predictions,
    wait_for,
    write_csv,
)

pytestmark = pytest.mark.slow


def _slow_model(client: opensage.Client, folder: Path, group: str) -> Path:
    """A model that takes 50 ms per predict call and notes the process it runs in."""
    pids = folder / f"{group}.pids"
    body = f"""
    with open({str(pids)!r}, "a") as f:
        f.write(f"{{os.getpid()}}\\n")
    time.sleep(0.05)
    return data.sum(axis=1)
    """
    custom_model(client, folder, group, body)
    return pids


def _pids(path: Path) -> set[int]:
    return {int(line) for line in path.read_text().split()} if path.exists() else set()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_stop_a_running_and_a_queued_job(transformer: Transformer, tmp_path: Path) -> None:
    client = transformer.client
    pids = _slow_model(client, tmp_path, "slow")
    rows = write_csv(tmp_path / "rows.csv", np.ones((400, 2)))
    running = client.transform_jobs.create(
        "slow-running",
        model_group="slow",
        uri=str(rows),
        batch_size=1,
        max_parallel=3,
        output_path="batch/slow",
    )
    # Progress shows while the job runs.
    wait_for(lambda: running.refresh().progress.rows_done > 0, what="progress")
    assert running.progress.rows_total == 400
    queued = client.transform_jobs.create("slow-queued", model_group="slow", uri=str(rows))
    time.sleep(0.3)
    assert queued.refresh().info.started_at is None  # no free worker slots
    assert queued.stop().status.value == "Stopped"
    assert queued.failure_reason == "stopped before it started"

    assert running.stop().status.value in ("Stopping", "Stopped")
    running.wait(timeout=30)
    assert running.status.value == "Stopped"
    assert running.failure_reason == "stopped by request"
    assert 0 < running.progress.rows_done < 400
    assert running.info.ended_at is not None
    assert transformer.platform.store.list("batch/slow") == []  # no partial output
    workers = _pids(pids)
    assert workers
    wait_for(lambda: not any(_alive(pid) for pid in workers), timeout=10, what="workers to end")
    assert not (transformer.platform.settings.data_dir / "transform-jobs" / running.name).exists()
    # Stopping twice is harmless: the job has ended.
    assert client.transform_jobs.get("slow-queued").status.value == "Stopped"


def test_a_killed_server_leaves_a_consistent_state(tmp_path: Path) -> None:
    server = ServerProcess(
        data_dir=tmp_path / "data",
        extra_env={"OPENSAGE_CPU_SLOTS": "2", "OPENSAGE_JOB_STOP_GRACE_S": "1"},
    ).start()
    rows = write_csv(tmp_path / "rows.csv", np.ones((400, 2)))
    few = write_csv(tmp_path / "few.csv", np.arange(10.0).reshape(5, 2))
    try:
        with opensage.Client(server.url) as client:
            pids = _slow_model(client, tmp_path, "slow")
            job = client.transform_jobs.create(
                "interrupted", model_group="slow", uri=str(rows), batch_size=1, max_parallel=2
            )
            wait_for(lambda: job.refresh().progress.rows_done > 0, what="progress")
            queued = client.transform_jobs.create("queued", model_group="slow", uri=str(few))
            assert queued.refresh().info.started_at is None
        server.kill()
        workers = _pids(pids)
        assert workers
        # The workers died with the platform.
        wait_for(lambda: not any(_alive(pid) for pid in workers), timeout=10, what="workers")

        server.start()
        with opensage.Client(server.url) as client:
            job = client.transform_jobs.get("interrupted")
            assert job.status.value == "Failed"
            assert "the server stopped while the job was running" in (job.failure_reason or "")
            assert job.info.ended_at is not None
            assert not (server.data_dir / "artifacts" / "transform-jobs" / "interrupted").exists()
            assert not (server.data_dir / "transform-jobs" / "interrupted").exists()
            # The queued job had not started: it runs now.
            queued = client.transform_jobs.get("queued").wait(timeout=60)
            assert queued.status.value == "Completed", queued.failure_reason
            assert read_predictions(queued.read_output()).tolist() == [1, 5, 9, 13, 17]

            # A clean shutdown stops the workers and says so.
            job = client.transform_jobs.create(
                "shut-down", model_group="slow", uri=str(rows), batch_size=1
            )
            wait_for(lambda: job.refresh().progress.rows_done > 0, what="progress")
        server.stop()
        server.start()
        with opensage.Client(server.url) as client:
            job = client.transform_jobs.get("shut-down")
            assert job.status.value == "Failed"
            assert job.failure_reason == "the server shut down while the job was running"
    finally:
        server.stop()
