"""A server killed with SIGKILL, at rest or mid-work, restarts into a consistent state."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

import opensage
from tests.conftest import ServerProcess


def exam_frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "hours": rng.uniform(0, 10, rows).round(2),
            "attempts": rng.integers(1, 5, rows),
            "grade": rng.choice(["A", "B", "C"], rows),
        }
    )


def uploads_dir(server: ServerProcess) -> Path:
    return server.data_dir / "staging" / "uploads"


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.005)


def test_a_killed_server_restarts_with_everything_it_had(
    server_process: ServerProcess, tmp_path: Path
) -> None:
    first, second = exam_frame(500, seed=1), exam_frame(300, seed=2)
    first.to_csv(tmp_path / "v1.csv", index=False)
    second.to_csv(tmp_path / "v2.csv", index=False)
    server_process.start()
    with opensage.Client(server_process.url) as client:
        dataset = client.datasets.create(
            tmp_path / "v1.csv", name="exams", label="grade", splits={"train": 0.8, "test": 0.2}
        )
        dataset.add_version(tmp_path / "v2.csv")
        before = client.datasets.get("exams").info
        stats_before = [dataset.stats(version=v).model_dump() for v in (1, 2)]
        train_before = dataset.to_pandas(split="train")

    server_process.kill()
    assert server_process.process is not None
    assert server_process.process.returncode == -9
    server_process.start()

    with opensage.Client(server_process.url) as client:
        assert [d.name for d in client.datasets.list()] == ["exams"]
        dataset = client.datasets.get("exams")
        assert dataset.info == before
        assert [v.version for v in dataset.versions()] == [2, 1]
        assert [dataset.stats(version=v).model_dump() for v in (1, 2)] == stats_before
        pd.testing.assert_frame_equal(dataset.to_pandas(version=1), first)
        pd.testing.assert_frame_equal(dataset.to_pandas(), second)
        pd.testing.assert_frame_equal(dataset.to_pandas(split="train"), train_before)
        assert dataset.splits is not None and dataset.splits.counts == {"train": 240, "test": 60}
        # And it keeps working: a third version after the restart.
        dataset.add_version(tmp_path / "v1.csv")
        assert dataset.version == 3 and dataset.num_rows == 500


def endless_csv(sent: list[int]) -> Iterator[bytes]:
    """A CSV body that never ends (until the server goes away)."""
    yield b"a,b,c\n"
    block = b"".join(f"{i},{i * 2},{i % 7}\n".encode() for i in range(40_000))
    while True:
        sent[0] += len(block)
        yield block


def test_a_server_killed_mid_upload_restarts_clean(
    server_process: ServerProcess, tmp_path: Path
) -> None:
    server_process.start()
    sent = [0]
    failures: list[BaseException] = []

    def upload_forever() -> None:
        try:
            httpx.post(
                f"{server_process.url}/api/v1/uploads",
                params={"filename": "endless.csv"},
                content=endless_csv(sent),
                headers={"Content-Type": "application/octet-stream"},
                timeout=60,
            )
        except httpx.HTTPError as exc:
            failures.append(exc)

    uploader = threading.Thread(target=upload_forever)
    uploader.start()
    staging = uploads_dir(server_process)

    def partial_is_big() -> bool:
        return any(p.stat().st_size > 16 * 2**20 for p in staging.glob("*.partial"))

    try:
        wait_for(partial_is_big, "the upload has streamed 16 MiB")
    finally:
        server_process.kill()
        uploader.join(timeout=60)
    assert not uploader.is_alive()
    assert failures, "the upload should have failed when the server died"
    assert list(staging.glob("*.partial")), "the kill should have left a partial upload"

    server_process.start()

    assert list(staging.iterdir()) == []  # the partial upload was swept at start
    with opensage.Client(server_process.url) as client:
        assert client.datasets.list() == []
        path = tmp_path / "small.csv"
        exam_frame(50, seed=3).to_csv(path, index=False)
        assert client.datasets.create(path, name="after").num_rows == 50
    assert list(staging.iterdir()) == []


def test_a_server_killed_mid_ingest_lists_no_half_created_dataset(
    server_process: ServerProcess, tmp_path: Path
) -> None:
    path = tmp_path / "large.csv"
    rows = 3_000_000
    rng = np.random.default_rng(5)
    pd.DataFrame(
        {
            "x": rng.integers(0, 10**6, rows),
            "y": rng.integers(0, 10**6, rows) / 100,
            "z": rng.integers(0, 10, rows),
        }
    ).to_csv(path, index=False)
    server_process.start()
    artifacts = server_process.data_dir / "artifacts"
    failures: list[BaseException] = []

    with opensage.Client(server_process.url) as client:
        source = client.datasets.upload(path)

        def create() -> None:
            try:
                client.datasets.create(source, name="large")
            except opensage.OpenSageError as exc:
                failures.append(exc)

        creator = threading.Thread(target=create)
        creator.start()
        try:
            wait_for(
                lambda: any(artifacts.glob("datasets/large/*/data.parquet.partial-*")),
                "the server is writing the dataset's Parquet file",
            )
        finally:
            server_process.kill()
            creator.join(timeout=60)
    assert failures and isinstance(failures[0], opensage.ServerUnavailable)
    assert not list(artifacts.glob("datasets/large/*/data.parquet"))

    server_process.start()

    with opensage.Client(server_process.url) as client:
        assert client.datasets.list() == []
        with pytest.raises(opensage.NotFound):
            client.datasets.get("large")
        assert not list(uploads_dir(server_process).glob("*.partial"))
        # The staged upload was not used up by the failed attempt: the same source works.
        dataset = client.datasets.create(source, name="large")
        assert dataset.num_rows == rows
        assert dataset.version == 1
