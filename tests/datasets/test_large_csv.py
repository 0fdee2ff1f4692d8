"""A CSV bigger than the server should ever hold in memory goes through with bounded memory."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

import opensage
from tests.conftest import ServerProcess

TARGET_BYTES = 300 * 1024**2
CHUNK_ROWS = 500_000
INT_COLUMNS = 5
FLOAT_COLUMNS = 5


@dataclass
class GeneratedCSV:
    """What was written, and the numbers the server must find in it."""

    path: Path
    rows: int
    columns: int
    mean_x0: float
    max_id: int

    @property
    def arrow_bytes(self) -> int:
        """Size of the data in memory as Arrow columns (every column 8 bytes a value)."""
        return self.rows * self.columns * 8


def write_csv(path: Path, target_bytes: int) -> GeneratedCSV:
    """Numeric CSV of about ``target_bytes``: an id, small integers, two-decimal floats."""
    rng = np.random.default_rng(2024)
    rows = 0
    total_x0 = 0.0
    options = pacsv.WriteOptions(include_header=True)
    with open(path, "wb") as handle:
        while handle.tell() < target_bytes:
            ids = np.arange(rows, rows + CHUNK_ROWS, dtype=np.int64)
            columns: dict[str, np.ndarray[Any, Any]] = {"id": ids}
            for i in range(INT_COLUMNS):
                columns[f"n{i}"] = rng.integers(0, 1000, CHUNK_ROWS)
            for i in range(FLOAT_COLUMNS):
                # Two decimals print short and read back as exactly the same double.
                columns[f"x{i}"] = rng.integers(0, 100_000, CHUNK_ROWS) / 100
            total_x0 += float(columns["x0"].sum())
            pacsv.write_csv(pa.table(columns), handle, write_options=options)
            options = pacsv.WriteOptions(include_header=False)
            rows += CHUNK_ROWS
    return GeneratedCSV(
        path=path,
        rows=rows,
        columns=1 + INT_COLUMNS + FLOAT_COLUMNS,
        mean_x0=total_x0 / rows,
        max_id=rows - 1,
    )


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def _reset_peak(pid: int) -> int:
    """Reset the process's peak RSS ("high water mark") to its current RSS; returns that."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return _status_kib(pid, "VmRSS") * 1024


def _peak(pid: int) -> int:
    """The process's peak RSS in bytes since the last reset."""
    return _status_kib(pid, "VmHWM") * 1024


def _mib(size: int) -> str:
    return f"{size / 2**20:.0f} MiB"


@pytest.mark.slow
def test_a_300_mb_csv_is_ingested_with_bounded_server_memory(
    server_process: ServerProcess, tmp_path: Path
) -> None:
    started = time.monotonic()
    generated = write_csv(tmp_path / "big.csv", TARGET_BYTES)
    generated_s = time.monotonic() - started
    csv_bytes = generated.path.stat().st_size
    server = server_process.start()
    assert server.process is not None
    pid = server.process.pid

    with opensage.Client(server.url) as client:
        # The server's RSS just before the upload, once the peak is reset to it: the
        # interpreter, the web framework, numpy and pyarrow take ~150 MiB before any data
        # arrives, whatever the file's size, so the bound is on the growth over that (the
        # memory the ingest itself takes), with one on the absolute peak besides.
        idle = _reset_peak(pid)
        source = client.datasets.upload(generated.path)
        upload_peak = _peak(pid)
        _reset_peak(pid)
        dataset = client.datasets.create(source, name="big")
        stats = {c.name: c for c in dataset.stats().columns}
        ingest_peak = _peak(pid)
    elapsed_s = time.monotonic() - started

    peak = max(upload_peak, ingest_peak)
    growth = peak - idle
    numbers = (
        f"server peak RSS {_mib(peak)}, {_mib(growth)} over idle (idle {_mib(idle)}, "
        f"upload {_mib(upload_peak)}, ingest + statistics {_mib(ingest_peak)}); data in "
        f"memory {_mib(generated.arrow_bytes)} ({generated.rows} rows x {generated.columns} "
        f"columns x 8 bytes); CSV {_mib(csv_bytes)}; generated in {generated_s:.1f} s, "
        f"whole test {elapsed_s:.1f} s"
    )
    print(numbers)
    assert dataset.num_rows == generated.rows, numbers
    assert [c.name for c in dataset.columns][:2] == ["id", "n0"]
    assert stats["id"].count == generated.rows and stats["id"].max == generated.max_id
    assert stats["x0"].mean == pytest.approx(generated.mean_x0, rel=1e-9), numbers
    assert growth < 0.5 * generated.arrow_bytes, numbers
    assert peak < generated.arrow_bytes, numbers
