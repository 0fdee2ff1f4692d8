"""Killing the server mid-job and starting it again leaves a consistent state."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import opensage
from tests.conftest import ServerProcess
from tests.training.conftest import write_script

CHECKPOINTED = """
import os, time
marker = os.path.join(os.environ["SM_CHECKPOINT_DIR"], "progress")
if os.path.exists(marker):
    print("resumed from checkpoint", open(marker).read(), flush=True)
else:
    with open(marker, "w") as f:
        f.write("epoch 5")
    print("first attempt, training", flush=True)
    time.sleep(300)
"""


def _job_pids(data_dir: Path, name: str) -> list[int]:
    """Processes whose working directory is the job's workspace."""
    workspace = str(data_dir / "workspaces" / name)
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "cwd").startswith(workspace):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _wait(job: opensage.TrainingJob, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in "".join(job.logs()):
            return
        time.sleep(0.1)
    raise AssertionError(f"never saw {text!r}; status {job.refresh().status}")


def test_a_killed_server_fails_the_running_job_with_a_reason(tmp_path: Path) -> None:
    server = ServerProcess(data_dir=tmp_path / "data").start()
    script = write_script(tmp_path, CHECKPOINTED)
    with opensage.Client(server.url) as client:
        job = client.training_jobs.create("killed", script=script, tags={"case": "kill"})
        _wait(job, "first attempt")
        assert _job_pids(server.data_dir, "killed")
    server.kill()
    deadline = time.monotonic() + 10
    while _job_pids(server.data_dir, "killed") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _job_pids(server.data_dir, "killed") == []  # the job died with the platform

    server.start()
    try:
        with opensage.Client(server.url) as client:
            job = client.training_jobs.get("killed")
            assert job.status.value == "Failed"
            assert job.info.secondary_status.value == "Interrupted"
            assert "the server stopped while the job was running" in (job.failure_reason or "")
            assert job.info.tags == {"case": "kill"}
            # The platform keeps working: a new job runs to the end.
            quick = write_script(tmp_path / "q", "print('ok')\n")
            done = client.training_jobs.create("after", script=quick).wait(timeout=60)
            assert done.status.value == "Completed"
    finally:
        server.stop()


def test_a_job_that_allows_retries_resumes_from_its_checkpoints(tmp_path: Path) -> None:
    server = ServerProcess(data_dir=tmp_path / "data").start()
    script = write_script(tmp_path, CHECKPOINTED)
    with opensage.Client(server.url) as client:
        job = client.training_jobs.create("retried", script=script, max_retry_attempts=1)
        _wait(job, "first attempt")
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=30)

    server.start()
    try:
        with opensage.Client(server.url) as client:
            job = client.training_jobs.get("retried").wait(timeout=60)
            assert job.status.value == "Completed", job.failure_reason
            assert job.info.attempt == 2
            assert "resumed from checkpoint epoch 5" in "".join(job.logs())
            assert "Interrupted" in [t.status.value for t in job.info.status_transitions]
    finally:
        server.stop()
