"""Model monitoring: a drift check over captured traffic against the same KS/PSI done
directly with numpy/scipy on an in-memory array.

Claim: a monitoring execution's drift check over an hour of captured traffic
(``ROWS`` = 1,000,000 single-row CSV requests x ``FEATURES`` = 20 numeric features) costs
little more than the statistics themselves. Goal: its wall time ≤ ``GOAL_RATIO`` (2x) that
of the reference below, and ≤ ``GOAL_WALL_S`` (10 s) absolute on this machine class; its
peak memory is reported beside it.

Setup (not timed), in a temporary directory with a local ``ArtifactStore``:

- a baseline Parquet of ``BASELINE_ROWS`` rows x ``FEATURES`` float features (cycling
  normal / lognormal / uniform columns, values rounded to 4 decimals; fixed seed), and
  ``compute_baseline`` on it (statistics, suggested constraints, the reference samples);
- the "current" traffic: ``ROWS`` rows drawn from the same distributions with another
  seed, except feature ``f03`` (location shifted by half a standard deviation) and ``f06``
  (spread x2 around its mean), where they exist, so that the check has drift to find;
- those rows as SageMaker-format capture files, exactly as the data plane writes them
  (``opensage.serving.capture``): one JSON line per request carrying one CSV row and one
  CSV prediction, ``ROWS_PER_FILE`` = 1000 lines per file (the data plane's largest file;
  1000 files for 1M rows) under ``endpoints/bench/data-capture/AllTraffic/2024/05/01/12/``,
  with inference times spread over that hour. Lines are built with Arrow's compute
  functions (the same bytes ``orjson.dumps`` of the record gives, checked on a few lines).

Measured:

- check: ``read_window`` over the hour + ``check_window`` of the window against the
  baseline (KS + PSI per feature, plus the structural checks an execution runs), timed
  with ``time.perf_counter`` in a fresh subprocess after its imports and after loading
  the baseline's statistics, constraints and reference samples (so the subprocess's peak
  RSS, ``VmHWM``, is that of the check, not of the data generation; the peak it had
  before the check, imports and baseline loaded, is reported beside it). The capture
  files are in the page cache (they were just written). Median of ``REPEATS`` = 3
  subprocess runs;
- reference: the same rows as an in-memory float64 array (one C-contiguous array per
  feature), and per feature ``scipy.stats.ks_2samp(reference_sample, column)`` plus the
  PSI with numpy (``np.histogram`` of both over the reference sample's decile edges,
  proportions floored at 1e-4, sum((a - e) * ln(a / e))), with the reference samples
  ``read_references`` returns. Median of ``REPEATS`` runs in this process.

Arrow's readers use its thread pool (all cores); numpy and scipy run on one thread.

Checked: the window holds the same values as the in-memory array (an order-independent
fingerprint of each column's bits), the report's KS statistics and PSIs equal scipy's and
numpy's on the same data (to 1e-9), and the shifted features are the ones found drifting.
``--profile`` adds one more check run under cProfile and prints its top functions.

Ratio and goals: ``ratio_vs_reference`` = check wall / reference wall (goal ≤ 2);
``wall_s`` ≤ 10 s. A run with the defaults takes about a minute.

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pickle
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from scipy import stats

from opensage.monitoring.baseline import compute_baseline, read_references
from opensage.monitoring.captured import capture_prefix, read_window
from opensage.monitoring.checks import check_window
from opensage.serving.capture import capture_line
from opensage.storage import ArtifactStore

ROWS = 1_000_000
FEATURES = 20
BASELINE_ROWS = 200_000
ROWS_PER_FILE = 1000
REPEATS = 3
SEED = 42
GOAL_RATIO = 2.0
GOAL_WALL_S = 10.0
TOLERANCE = 1e-9
ENDPOINT = "bench"
VARIANT = "AllTraffic"
HOUR = datetime(2024, 5, 1, 12, tzinfo=UTC)
CHUNK_FILES = 100
"""Capture files built at a time (bounds the memory of the generation)."""
DRIFTS = {3: ("shift", 0.5), 6: ("scale", 2.0)}
"""Feature index → how the current traffic differs from the baseline there."""
PSI_FLOOR = 1e-4
PSI_BINS = 10

# The capture line of ``CaptureBuffer.record`` for a CSV request and a CSV answer, around
# its four variable parts: the request's row, the answer, the event id and the time.
LINE_PARTS = (
    '{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"',
    '","encoding":"CSV"},"endpointOutput":{"observedContentType":"text/csv",'
    '"mode":"OUTPUT","data":"',
    '\\n","encoding":"CSV"}},"eventMetadata":{"eventId":"',
    '","inferenceTime":"',
    f'"}},"eventVersion":"0","variant":"{VARIANT}"}}\n',
)


# -- data -------------------------------------------------------------------------------
def feature_names(count: int) -> list[str]:
    return [f"f{i:02d}" for i in range(count)]


def draw(index: int, rows: int, rng: np.random.Generator) -> np.ndarray:
    """Values of feature ``index``: normal, lognormal or uniform by turns, each with its
    own location and scale; rounded to 4 decimals, as a client would send them."""
    kind = index % 3
    if kind == 0:
        values = rng.normal(10.0 * index, 1.0 + index % 5, rows)
    elif kind == 1:
        values = rng.lognormal(1.0 + 0.1 * index, 0.5, rows)
    else:
        values = rng.uniform(-float(index), 2.0 * index, rows)
    return np.round(values, 4)


def current_traffic(features: int, rows: int) -> list[np.ndarray]:
    """The captured rows as one array per feature, with the drifts of ``DRIFTS``."""
    rng = np.random.default_rng(SEED + 1)
    columns = []
    for index in range(features):
        values = draw(index, rows, rng)
        if index in DRIFTS:
            how, amount = DRIFTS[index]
            mean, std = values.mean(), values.std()
            shifted = values + amount * std
            values = shifted if how == "shift" else mean + (values - mean) * amount
            values = np.round(values, 4)
        columns.append(np.ascontiguousarray(values, dtype=np.float64))
    return columns


def write_baseline(path: Path, features: int, rows: int) -> None:
    rng = np.random.default_rng(SEED)
    names = feature_names(features)
    pq.write_table(pa.table({n: draw(i, rows, rng) for i, n in enumerate(names)}), path)


def write_capture(store: ArtifactStore, columns: list[np.ndarray], per_file: int) -> int:
    """Write the rows as capture files of ``per_file`` lines; the number of files."""
    rows = columns[0].size
    rng = np.random.default_rng(SEED + 2)
    start_us = int(HOUR.timestamp() * 1_000_000)
    times = np.sort(rng.integers(0, 3_600_000_000, rows)) + start_us
    ids = rng.bytes(16 * rows).hex().encode()
    predictions = np.round(sum(c * 0.01 * (i % 4 - 1.5) for i, c in enumerate(columns)), 4)
    folder = f"{capture_prefix(ENDPOINT)}/{VARIANT}/{HOUR.strftime('%Y/%m/%d/%H')}"
    parts = [pa.scalar(p, pa.string()) for p in LINE_PARTS]
    files = 0
    chunk_rows = per_file * CHUNK_FILES
    for low in range(0, rows, chunk_rows):
        high = min(low + chunk_rows, rows)
        texts = [pc.cast(pa.array(c[low:high]), pa.string()) for c in columns]
        row = pc.binary_join_element_wise(*texts, ",")
        answer = pc.cast(pa.array(predictions[low:high]), pa.string())
        stamps = pa.array(times[low:high], pa.timestamp("us", "UTC"))
        when = pc.strftime(stamps, "%Y-%m-%dT%H:%M:%S+00:00")
        offsets = pa.array(np.arange(0, 32 * (high - low) + 1, 32, dtype=np.int32))
        event = pa.StringArray.from_buffers(
            high - low, offsets.buffers()[1], pa.py_buffer(ids[32 * low : 32 * high])
        )
        lines = pc.binary_join_element_wise(
            parts[0], row, parts[1], answer, parts[2], event, parts[3], when, parts[4], ""
        )
        if low == 0 or high == rows:
            for line in (lines[0].as_py(), lines[-1].as_py()):
                if written_by_data_plane(line) + b"\n" != line.encode():
                    raise RuntimeError(f"not the data plane's capture format: {line!r}")
        ends = np.frombuffer(lines.buffers()[1], np.int32)[lines.offset :]
        data = lines.buffers()[2]
        for first in range(0, high - low, per_file):
            last = min(first + per_file, high - low)
            moment = datetime.fromtimestamp(times[low + first] / 1e6, UTC)
            key = f"{folder}/{moment.strftime('%M-%S-%f')}-bench-{files:08x}.jsonl"
            store.put_bytes(data[int(ends[first]) : int(ends[last])].to_pybytes(), key)
            files += 1
    return files


def written_by_data_plane(line: str) -> bytes:
    """The line the data plane's own writer makes of the same request and answer."""
    record = orjson.loads(line)
    given = record["captureData"]["endpointInput"]
    answer = record["captureData"]["endpointOutput"]
    metadata = record["eventMetadata"]
    return capture_line(
        metadata["eventId"],
        record["variant"],
        given["observedContentType"],
        given["data"].encode(),
        answer["observedContentType"],
        answer["data"].encode(),
        datetime.fromisoformat(metadata["inferenceTime"]),
    )


def fingerprint(values: np.ndarray) -> list[int]:
    """Size and wrapping sum of the bits of the values: equal for the same values in any
    order."""
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)
    return [int(values.size), int(bits.sum(dtype=np.uint64))]


# -- the reference ----------------------------------------------------------------------
def reference_drift(
    references: dict[str, np.ndarray], columns: list[np.ndarray], names: list[str]
) -> dict[str, dict[str, float]]:
    """KS (scipy) and PSI (numpy) of every in-memory column against its reference."""
    found = {}
    for name, column in zip(names, columns, strict=True):
        sample = references[name]
        ks = stats.ks_2samp(sample, column)
        inner = np.unique(np.quantile(sample, np.linspace(0, 1, PSI_BINS + 1)[1:-1]))
        edges = np.concatenate(([-np.inf], inner, [np.inf]))
        expected = np.maximum(np.histogram(sample, edges)[0] / sample.size, PSI_FLOOR)
        actual = np.maximum(np.histogram(column, edges)[0] / column.size, PSI_FLOOR)
        psi = float(np.sum((actual - expected) * np.log(actual / expected)))
        found[name] = {"ks": float(ks.statistic), "ks_p": float(ks.pvalue), "psi": psi}
    return found


# -- the check, in its own process ------------------------------------------------------
def peak_rss_mb() -> float:
    """This process's peak RSS in MiB: ``VmHWM`` on Linux. ``ru_maxrss`` would not do
    there: a child keeps the RSS its parent had when it forked as its maximum (the
    kernel carries the old address space's high-water mark over ``exec``), so it would
    count the generated data of this script."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(spec_path: Path, profile: bool) -> None:
    """Run the timed check once; print its numbers as JSON (profile on stderr)."""
    spec = pickle.loads(spec_path.read_bytes())
    store = ArtifactStore(spec["store"])
    references = read_references(spec["reference_bytes"])
    start, end = spec["start"], spec["end"]
    before = peak_rss_mb()
    profiler = cProfile.Profile() if profile else None
    if profiler is not None:
        profiler.enable()
    began = time.perf_counter()
    window = read_window(store, ENDPOINT, start, end, spec["features"])
    read = time.perf_counter()
    report = check_window(window, spec["statistics"], spec["constraints"], references)
    ended = time.perf_counter()
    if profiler is not None:
        profiler.disable()
        out = pstats.Stats(profiler, stream=sys.stderr)
        out.sort_stats("cumulative").print_stats(25)
        out.sort_stats("tottime").print_stats(20)
    peak = peak_rss_mb()
    tests = {f.name: {t.test: t.statistic for t in f.tests} for f in report.features}
    result = {
        "wall_s": ended - began,
        "read_s": read - began,
        "check_s": ended - read,
        "peak_rss_mb": peak,
        "rss_before_mb": before,
        "records": report.records,
        "rows": report.rows,
        "violations": [
            {"check": str(v.check), "feature": v.feature, "description": v.description}
            for v in report.violations
        ],
        "drifted": [f.name for f in report.features if f.drift],
        "ks": {n: t.get("kolmogorov_smirnov") for n, t in tests.items()},
        "psi": {n: t.get("population_stability_index") for n, t in tests.items()},
        "fingerprints": {n: fingerprint(c.values) for n, c in window.columns.items()},
        "notes": report.notes,
    }
    print(json.dumps(result))


def run_child(spec_path: Path, profile: bool = False) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(spec_path)]
    if profile:
        command.append("--profile")
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the run ----------------------------------------------------------------------------
def timed(repeats: int, run: Any) -> tuple[float, Any]:
    """Median seconds of ``repeats`` calls of ``run`` and the last call's result."""
    seconds, result = [], None
    for _ in range(repeats):
        began = time.perf_counter()
        result = run()
        seconds.append(time.perf_counter() - began)
    return statistics.median(seconds), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=ROWS, help="captured rows")
    parser.add_argument("--features", type=int, default=FEATURES, help="features per row")
    parser.add_argument("--baseline-rows", type=int, default=BASELINE_ROWS)
    parser.add_argument("--rows-per-file", type=int, default=ROWS_PER_FILE)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--profile", action="store_true", help="one more run under cProfile")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.profile)
        return

    names = feature_names(args.features)
    scratch = Path(tempfile.mkdtemp(prefix="opensage-bench-monitoring-"))
    try:
        began = time.perf_counter()
        write_baseline(scratch / "baseline.parquet", args.features, args.baseline_rows)
        features, stats_, constraints, reference_bytes = compute_baseline(
            scratch / "baseline.parquet", None, None
        )
        baselined = time.perf_counter()
        columns = current_traffic(args.features, args.rows)
        store = ArtifactStore(str(scratch / "store"))
        files = write_capture(store, columns, args.rows_per_file)
        written = time.perf_counter()
        size = sum(p.stat().st_size for p in (scratch / "store").rglob("*.jsonl"))
        print(f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
        print(
            f"baseline: {args.baseline_rows:,} rows x {args.features} features "
            f"({baselined - began:.1f} s); capture: {args.rows:,} rows in {files:,} files, "
            f"{size / 2**20:.0f} MiB ({written - baselined:.1f} s to write)"
        )
        spec = {
            "store": str(scratch / "store"),
            "start": HOUR,
            "end": HOUR + timedelta(hours=1),
            "features": features,
            "statistics": stats_,
            "constraints": constraints,
            "reference_bytes": reference_bytes,
        }
        spec_path = scratch / "spec.pickle"
        spec_path.write_bytes(pickle.dumps(spec))
        references = read_references(reference_bytes)

        reference_s, expected = timed(
            args.repeats, lambda: reference_drift(references, columns, names)
        )
        print(f"reference (numpy/scipy, in memory): median {reference_s:.2f} s")
        runs = [run_child(spec_path) for _ in range(args.repeats)]
        run = sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]
        wall_s = run["wall_s"]
        each = ", ".join(f"{r['wall_s']:.2f}" for r in runs)
        print(
            f"check (read_window + check_window): median {wall_s:.2f} s "
            f"(read {run['read_s']:.2f} s, check {run['check_s']:.2f} s; runs {each})"
        )
        if args.profile:
            print("profile of one more check run (on stderr)")
            run_child(spec_path, profile=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    same_values = run["rows"] == args.rows and all(
        run["fingerprints"][n] == fingerprint(c) for n, c in zip(names, columns, strict=True)
    )
    ks_gap = max(abs(run["ks"][n] - expected[n]["ks"]) for n in names)
    psi_gap = max(abs(run["psi"][n] - expected[n]["psi"]) for n in names)
    same_statistics = ks_gap <= TOLERANCE and psi_gap <= TOLERANCE
    shifted = sorted(names[i] for i in DRIFTS if i < args.features)
    ratio = wall_s / reference_s
    print(
        f"window: {run['records']:,} records, {run['rows']:,} rows; same values as the "
        f"in-memory array: {same_values}"
    )
    print(
        f"KS and PSI equal scipy's / numpy's to {TOLERANCE:g}: {same_statistics} "
        f"(largest gaps {ks_gap:.1e}, {psi_gap:.1e})"
    )
    print(f"violations: {len(run['violations'])}")
    for violation in run["violations"]:
        print(f"  {violation['check']}: {violation['description']}")
    print(f"drifted features: {run['drifted']} (shifted on purpose: {shifted})")
    print(
        f"peak RSS of the check process {run['peak_rss_mb']:.0f} MB "
        f"({run['rss_before_mb']:.0f} MB before the check; the window's values alone are "
        f"{args.rows * args.features * 8 / 2**20:.0f} MiB)"
    )
    goals = {"ratio_vs_reference": ratio <= GOAL_RATIO, "wall_s": wall_s <= GOAL_WALL_S}
    missed = [k for k, met in goals.items() if not met]
    print(
        f"wall {wall_s:.2f} s, reference {reference_s:.2f} s, ratio {ratio:.2f}; goals "
        f"(ratio ≤ {GOAL_RATIO}, wall ≤ {GOAL_WALL_S} s): "
        + ("all met" if not missed else f"missed {missed}")
    )
    result = {
        "wall_s": round(wall_s, 3),
        "reference_s": round(reference_s, 3),
        "ratio_vs_reference": round(ratio, 3),
        "peak_rss_mb": round(run["peak_rss_mb"], 1),
        "rss_before_check_mb": round(run["rss_before_mb"], 1),
        "read_s": round(run["read_s"], 3),
        "check_s": round(run["check_s"], 3),
        "check_runs_s": [round(r["wall_s"], 3) for r in runs],
        "rows": args.rows,
        "features": args.features,
        "files": files,
        "capture_mib": round(size / 2**20, 1),
        "violations": len(run["violations"]),
        "drifted_features": run["drifted"],
        "shifted_features": shifted,
        "same_values": same_values,
        "same_statistics": same_statistics,
        "repeats": args.repeats,
        "cpus": os.cpu_count(),
        "goal_ratio": GOAL_RATIO,
        "goal_wall_s": GOAL_WALL_S,
        "goals_met": goals,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
