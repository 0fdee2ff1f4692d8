"""Ingestion throughput: OpenSage's upload + create over HTTP against plain pyarrow.

Generates a 1,000,000-row CSV (floats, integers, a low-cardinality string, a numeric
label; fixed seed), starts a real ``opensage up`` server on a free port with a temporary
data directory, and times, after one warm-up each, ``REPEATS`` interleaved rounds of:

- OpenSage: ``client.datasets.upload`` + ``POST /api/v1/datasets`` through the SDK, from
  the start of the upload to the 201 (CSV → Parquet, statistics, label check). The
  server runs on this machine, so the SDK stages the file by linking it where it is
  (``POST /api/v1/uploads/link``), as it does for any server on a loopback address;
- OpenSage, streamed: the same with ``upload(in_place=False)``, the file's bytes sent over
  HTTP, as to a server on another machine;
- reference: ``pyarrow.csv.read_csv`` + ``pyarrow.parquet.write_table`` of the same file.

The last line printed is one JSON object; ``ratio`` is OpenSage's rows/s over pyarrow's,
``streamed_ratio`` the same for the streamed upload.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from bench_server import running_server

import opensage

ROWS = 1_000_000
REPEATS = 5
SEED = 42
GOAL_RATIO = 0.7
CATEGORIES = ("red", "green", "blue", "yellow", "purple", "orange")


def make_csv(path: Path, rows: int = ROWS, seed: int = SEED) -> None:
    """Write a realistic mixed-type CSV of ``rows`` rows to ``path``."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10.5, 0.6, rows).round(2)
    with_gaps = rng.normal(0.0, 1.0, rows)
    columns: dict[str, Any] = {
        "age": rng.integers(18, 90, rows),
        "visits": rng.poisson(3.0, rows),
        "user_id": rng.integers(0, 10_000_000, rows),
        "income": income,
        "score": rng.normal(50.0, 15.0, rows),
        "ratio": rng.random(rows),
        "temperature": rng.normal(20.0, 8.0, rows).round(1),
        "signal": pa.array(with_gaps, mask=rng.random(rows) < 0.02),
        "color": pa.array(np.array(CATEGORIES)[rng.integers(0, len(CATEGORIES), rows)]),
        "target": 0.3 * np.log(income) + rng.normal(0.0, 0.5, rows),
    }
    pacsv.write_csv(pa.table(columns), path)


def cpu_seconds(*processes: psutil.Process) -> float:
    """CPU time (user + system, all threads) the processes have used so far."""
    return sum(p.cpu_times().user + p.cpu_times().system for p in processes)


def opensage_ingest(
    client: opensage.Client,
    server: psutil.Process,
    uploads: Path,
    csv_path: Path,
    name: str,
    *,
    stream: bool,
) -> dict[str, float]:
    """Upload ``csv_path`` (linked in place, or streamed) and create dataset ``name``;
    seconds per phase, in total, and of CPU (server and client)."""
    me = psutil.Process()
    cpu = cpu_seconds(server, me)
    start = time.perf_counter()
    source = client.datasets.upload(csv_path, in_place=False if stream else None)
    uploaded = time.perf_counter()
    if stream == source_linked(uploads, csv_path, source):
        raise RuntimeError(f"the upload was {'linked' if stream else 'streamed'}, not the other")
    checked = time.perf_counter()
    body = {"name": name, "source": source, "label": "target"}
    created = client.session.json("POST", "/api/v1/datasets", json=body)
    end = time.perf_counter()
    cpu = cpu_seconds(server, me) - cpu
    if created["num_rows"] != ROWS:
        raise RuntimeError(f"dataset {name} has {created['num_rows']} rows, not {ROWS}")
    upload, create = uploaded - start, end - checked  # not the bench's own check
    return {"total": upload + create, "upload": upload, "create": create, "cpu": cpu}


def source_linked(uploads: Path, csv_path: Path, source: str) -> bool:
    """Whether the server staged ``source`` by linking ``csv_path`` (the same file) rather
    than receiving a copy; ``uploads``: the server's upload area."""
    staged = uploads / source.removeprefix("upload:")
    return staged.stat().st_ino == csv_path.stat().st_ino


def pyarrow_ingest(csv_path: Path, out: Path) -> dict[str, float]:
    """Read the CSV with pyarrow and write it as Parquet; seconds per phase, in total, and
    of CPU."""
    me = psutil.Process()
    cpu = cpu_seconds(me)
    start = time.perf_counter()
    table = pacsv.read_csv(csv_path)
    read = time.perf_counter()
    pq.write_table(table, out)
    end = time.perf_counter()
    cpu = cpu_seconds(me) - cpu
    out.unlink()
    return {"total": end - start, "read": read - start, "write": end - read, "cpu": cpu}


def interleaved(
    runs: dict[str, Callable[[int], dict[str, float]]], repeats: int
) -> dict[str, dict[str, float]]:
    """One warm-up of each, then ``repeats`` rounds running each once (so that both see
    the same machine load); the median of each phase per run."""
    for run in runs.values():
        run(0)
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in runs}
    for i in range(repeats):
        for name, run in runs.items():
            samples[name].append(run(i + 1))
    return {
        name: {key: statistics.median(s[key] for s in got) for key in got[0]}
        for name, got in samples.items()
    }


def report(
    csv_bytes: int, ours: dict[str, float], streamed: dict[str, float], ref: dict[str, float]
) -> dict[str, Any]:
    """Print a readable summary and return the result object."""
    ref_rate = ROWS / ref["total"]
    ours_rate, streamed_rate = ROWS / ours["total"], ROWS / streamed["total"]
    ratio, streamed_ratio = ours_rate / ref_rate, streamed_rate / ref_rate
    print(f"CSV: {ROWS:,} rows, {csv_bytes / 2**20:.1f} MiB; median of {REPEATS} after a warm-up")
    for label, times, rate in (
        ("OpenSage (linked + create):  ", ours, ours_rate),
        ("OpenSage (streamed + create):", streamed, streamed_rate),
    ):
        print(
            f"  {label} {times['total']:6.2f} s  {rate:12,.0f} rows/s  (upload "
            f"{times['upload']:.2f} s, create {times['create']:.2f} s; CPU {times['cpu']:.2f} s)"
        )
    print(
        f"  pyarrow  (read + write):      {ref['total']:6.2f} s  {ref_rate:12,.0f} rows/s"
        f"  (read {ref['read']:.2f} s, write {ref['write']:.2f} s; CPU {ref['cpu']:.2f} s)"
    )
    verdict = "meets" if ratio >= GOAL_RATIO else "misses"
    print(f"  ratio {ratio:.2f} ({verdict} the goal of {GOAL_RATIO})")
    print(f"  streamed ratio {streamed_ratio:.2f}")
    return {
        "rows": ROWS,
        "csv_bytes": csv_bytes,
        "repeats": REPEATS,
        "cpus": os.cpu_count(),
        "opensage_rows_per_s": round(ours_rate),
        "opensage_streamed_rows_per_s": round(streamed_rate),
        "pyarrow_rows_per_s": round(ref_rate),
        "ratio": round(ratio, 3),
        "streamed_ratio": round(streamed_ratio, 3),
        "opensage_s": {k: round(v, 3) for k, v in ours.items()},
        "opensage_streamed_s": {k: round(v, 3) for k, v in streamed.items()},
        "pyarrow_s": {k: round(v, 3) for k, v in ref.items()},
    }


def main() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="opensage-bench-"))
    try:
        csv_path = scratch / "bench.csv"
        make_csv(csv_path)
        data = scratch / "data"
        uploads = data / "staging" / "uploads"
        with running_server(data) as (url, server), opensage.Client(url) as client:

            def ours(i: int, stream: bool) -> dict[str, float]:
                name = f"bench-{'streamed' if stream else 'linked'}-{i}"
                return opensage_ingest(client, server, uploads, csv_path, name, stream=stream)

            runs = {
                "opensage": lambda i: ours(i, False),
                "streamed": lambda i: ours(i, True),
                "pyarrow": lambda i: pyarrow_ingest(csv_path, scratch / "ref.parquet"),
            }
            medians = interleaved(runs, REPEATS)
        result = report(
            csv_path.stat().st_size, medians["opensage"], medians["streamed"], medians["pyarrow"]
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
