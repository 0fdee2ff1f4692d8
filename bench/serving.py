"""Real-time serving: an OpenSage endpoint against ``mlflow models serve`` and a bare
FastAPI app on the same XGBoost model, plus batch transform against in-process predict.

One run makes the 10,000-row exam-score table (``examples/exam_scores/data.py``), starts a
real ``opensage up`` server (``CPU_SLOTS`` slots, temporary data directory), uploads the
table, trains the built-in ``xgboost`` on it (``HYPERPARAMETERS``), registers and approves
the model and takes its file (``xgboost-model.ubj``) from the platform's artifact store.
The same file is then served four ways, each by one worker process:

- OpenSage: ``version.deploy(instances=1)`` with the default variant (``max_batch_size``
  256, ``max_batch_wait_ms`` 0: requests already queued go into one predict call);
- OpenSage batched: a second endpoint whose batches wait for more rows (``BATCHED``);
- bare reference: a tiny FastAPI app (``BARE_APP``) under ``uvicorn`` that parses
  ``{"instances": [[...]]}`` and calls ``booster.inplace_predict``;
- MLflow: ``mlflow.xgboost.save_model`` of the loaded booster, then ``mlflow models serve
  -m DIR --env-manager local -w 1``, body ``{"inputs": [[...]]}``. MLflow runs from its
  own virtual environment (``OPENSAGE_BENCH_MLFLOW_VENV``, default
  ``~/.cache/opensage/bench-mlflow-venv``; see ``bench/requirements-serving.txt``), since
  installing it into the project's would downgrade pyarrow; without it that part is
  skipped and its numbers are null.

The bare app and MLflow run with ``OMP_NUM_THREADS=1``: with XGBoost's default of one
OpenMP thread per core, a single-row predict on a busy machine waits for a second core
(the bare app fell from ~600 to ~40 req/s on a loaded 2-core machine), and one thread is
what a tuned single-row server uses. The OpenSage worker runs as the platform starts it.

Load: a separate process (spawned once) runs N concurrent loops over raw asyncio
keep-alive HTTP/1.1 connections, each sending single-row JSON POSTs (cycling over
``PAYLOAD_ROWS`` rows of the table) back to back for ``WARMUP_S`` + ``DURATION_S``
seconds. Counted are the answers completed in the ``DURATION_S`` window: req/s = 200
answers / ``DURATION_S``; p50 / p99 of their latencies (send → whole answer read); any
other answer or a broken connection is an error, reported with samples. All four servers
stay up and are driven one at a time, interleaved: ``ROUNDS`` rounds of every
concurrency in ``CONCURRENCY`` over every server (the order rotating each round), so a
burst of load from elsewhere hits all of them alike; each number is the median over the
rounds. The generator shares the machine's cores with the server it drives.

Startup: ``create_to_first_s`` is ``version.deploy(...)`` (which waits for InService) →
first successful ``endpoint.predict``; ``mlflow_create_to_first_s`` is the launch of
``mlflow models serve`` → first 200 from ``/invocations`` (polled every 50 ms).

Batch: if the SDK has ``client.transform_jobs``, transform jobs (CSV files out) run over a
``BATCH_ROWS``-row dataset of the four features (uploaded once, not timed), submit →
the job's ``ended_at`` (the server's clock, so the polling interval does not count),
for each ``BATCH_CONFIGS`` entry: ``max_parallel`` = ``CPU_SLOTS`` with the default
batch size (which gives ``batch_ratio``: the job gets the whole machine, as the
reference does; each worker holds one slot and one thread), the SDK's defaults (one
worker), and all cores with ``batch_size`` 200,000. Each is compared with this process
reading the same rows from Parquet and calling ``booster.inplace_predict`` on them (all
cores): ratio = transform rows/s over in-process rows/s. ``BATCH_ROUNDS`` rounds of the
in-process predict then every job, medians (one run each swung from 0.6 to 0.83 between
runs of the bench). Without batch transform ``batch_ratio`` is null.

Ratios and goals: ``ratio_vs_mlflow_c8`` = OpenSage / MLflow req/s at 8 clients (goal
≥ 10); ``ratio_vs_bare_c1`` = OpenSage / bare req/s at 1 client (goal ≥ 0.9);
``ratio_vs_bare_c32_batched`` = OpenSage batched / bare req/s at 32 clients (goal > 1);
``create_to_first_s`` ≤ 1.5 s; ``batch_ratio`` ≥ 0.7.

Before the load, every server must answer the same predictions for the payload rows
(``same_predictions``). A run takes about 5 minutes.

The last line printed is one JSON object.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import multiprocessing
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC
from multiprocessing.connection import Connection
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import numpy as np
import orjson
import pyarrow.parquet as pq
import xgboost as xgb
from bench_server import free_port, running_server

import opensage

SEED = 7
ROWS = 10_000
CPU_SLOTS = 2
HYPERPARAMETERS = {"num_round": 100, "max_depth": 6, "eta": 0.3, "objective": "reg:squarederror"}
DATASET = "exam-scores"
MODEL_GROUP = "exam-scores"
CONCURRENCY = (1, 8, 32)
WARMUP_S = 1.0
DURATION_S = 5.0
ROUNDS = 3
PAYLOAD_ROWS = 64
BATCHED = {"max_batch_size": 64, "max_batch_wait_ms": 1.0}
ONE_THREAD = {"OMP_NUM_THREADS": "1"}
SERVERS = ("opensage", "opensage_batched", "bare", "mlflow")
BATCH_ROWS = 1_000_000
BATCH_ROUNDS = 3
BATCH_CONFIGS: dict[str, dict[str, int]] = {
    "all_cores": {"max_parallel": CPU_SLOTS},
    "defaults": {},
    "all_cores_batch_200k": {"max_parallel": CPU_SLOTS, "batch_size": 200_000},
}
STARTUP_TIMEOUT_S = 120.0
JOB_TIMEOUT_S = 600.0
GOALS_AT_LEAST = {"ratio_vs_mlflow_c8": 10.0, "ratio_vs_bare_c1": 0.9, "batch_ratio": 0.7}
GOALS_ABOVE = {"ratio_vs_bare_c32_batched": 1.0}
GOALS_AT_MOST = {"create_to_first_s": 1.5}
ROOT = Path(__file__).resolve().parent.parent
EXAM_DATA = ROOT / "examples" / "exam_scores" / "data.py"
MLFLOW_VENV = Path(
    os.environ.get(
        "OPENSAGE_BENCH_MLFLOW_VENV", Path.home() / ".cache" / "opensage" / "bench-mlflow-venv"
    )
)
MLFLOW_SETUP = (
    f"python3.11 -m venv {MLFLOW_VENV} && "
    f"{MLFLOW_VENV}/bin/pip install -r bench/requirements-serving.txt"
)

BARE_APP = """\
import os

import numpy as np
import orjson
import xgboost as xgb
from fastapi import FastAPI, Request, Response

booster = xgb.Booster()
booster.load_model(os.environ["BENCH_MODEL_FILE"])
app = FastAPI()


@app.post("/invocations")
async def invocations(request: Request) -> Response:
    rows = np.asarray(orjson.loads(await request.body())["instances"], dtype=np.float64)
    predictions = booster.inplace_predict(rows)
    return Response(orjson.dumps({"predictions": predictions.tolist()}),
                    media_type="application/json")
"""

MLFLOW_SAVE = """\
import sys

import mlflow.xgboost
import xgboost as xgb

booster = xgb.Booster()
booster.load_model(sys.argv[1])
mlflow.xgboost.save_model(booster, sys.argv[2])
"""


# -- data -----------------------------------------------------------------------------
def exam_data() -> ModuleType:
    """The exam-score example's data module (``make_students``, ``FEATURES``, ``LABEL``)."""
    spec = importlib.util.spec_from_file_location("exam_scores_data", EXAM_DATA)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- load generator (runs in its own process) -----------------------------------------
def _request(host: str, port: int, path: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Accept: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """One HTTP/1.1 answer: status, body, and whether the server closes the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip().lower()
    if headers.get("transfer-encoding") == "chunked":
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            chunks.append(chunk[:-2])
        body = b"".join(chunks)
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, body, headers.get("connection") == "close"


async def _client_loop(
    config: dict[str, Any], offset: int, window: tuple[float, float], out: dict[str, Any]
) -> None:
    """Send requests back to back on one keep-alive connection until the window ends."""
    host, port = config["host"], config["port"]
    requests = [_request(host, port, config["path"], body) for body in config["bodies"]]
    start, stop = window
    writer: asyncio.StreamWriter | None = None
    number = offset
    while time.perf_counter() < stop:
        if writer is None:
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError as exc:
                out["errors"][f"connect: {type(exc).__name__}"] += 1
                await asyncio.sleep(0.01)
                continue
            writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sent = time.perf_counter()
        try:
            writer.write(requests[number % len(requests)])
            number += 1
            status, body, close = await _read_answer(reader)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as e:
            if sent >= start:
                out["errors"][f"{type(e).__name__}"] += 1
            writer.close()
            writer = None
            continue
        done = time.perf_counter()
        if start <= sent and done <= stop:
            if status == 200:
                out["latencies"].append(done - sent)
            else:
                out["errors"][f"HTTP {status}"] += 1
                if len(out["samples"]) < 5:
                    out["samples"].append(f"HTTP {status}: {body[:300].decode(errors='replace')}")
        if close:
            writer.close()
            writer = None
    if writer is not None:
        writer.close()


async def _drive(config: dict[str, Any]) -> dict[str, Any]:
    """``concurrency`` client loops; req/s and latency percentiles over the window."""
    now = time.perf_counter()
    window = (now + config["warmup_s"], now + config["warmup_s"] + config["duration_s"])
    out: dict[str, Any] = {"latencies": [], "errors": Counter(), "samples": []}
    loops = [_client_loop(config, i * 7, window, out) for i in range(int(config["concurrency"]))]
    await asyncio.gather(*loops)
    latencies = sorted(out["latencies"])
    count = len(latencies)
    return {
        "rps": round(count / config["duration_s"], 1),
        "p50_ms": round(1000 * latencies[count // 2], 3) if count else None,
        "p99_ms": round(1000 * latencies[min(count - 1, int(0.99 * count))], 3) if count else None,
        "requests": count,
        "errors": dict(out["errors"]),
        "error_samples": out["samples"],
    }


def load_worker(conn: Connection) -> None:
    """The load generator's process: drive each config it receives, answer the result."""
    while True:
        config = conn.recv()
        if config is None:
            return
        conn.send(asyncio.run(_drive(config)))


class LoadGenerator:
    """A spawned process that drives servers with bounded load, one run at a time."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=load_worker, args=(child,), daemon=True)
        self._process.start()

    def drive(self, url: str, bodies: list[bytes], concurrency: int, label: str) -> dict[str, Any]:
        parts = urlsplit(url)
        config = {
            "host": parts.hostname,
            "port": parts.port,
            "path": parts.path,
            "bodies": bodies,
            "concurrency": concurrency,
            "warmup_s": WARMUP_S,
            "duration_s": DURATION_S,
        }
        self._conn.send(config)
        result: dict[str, Any] = self._conn.recv()
        errors = f"  errors {result['errors']}" if result["errors"] else ""
        print(f"    {label:<16} c={concurrency:<3} {result['rps']:>8.1f} req/s"
              f"  p50 {result['p50_ms']} ms  p99 {result['p99_ms']} ms{errors}",
              flush=True)  # fmt: skip
        for sample in result["error_samples"]:
            print(f"      {sample}")
        return result

    def close(self) -> None:
        self._conn.send(None)
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()


# -- servers --------------------------------------------------------------------------
def first_prediction(url: str, body: bytes, process: subprocess.Popen[bytes]) -> float:
    """Poll ``url`` with ``body`` until it answers 200; the time.perf_counter() then."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    with httpx.Client(timeout=10.0) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args} exited with status {process.returncode}")
            try:
                answer = http.post(url, content=body, headers={"Content-Type": "application/json"})
                if answer.status_code == 200:
                    return time.perf_counter()
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {STARTUP_TIMEOUT_S:.0f}s")


@contextmanager
def subprocess_server(command: list[str], **kwargs: Any) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server command in its own process group; stop the group (SIGTERM, then
    SIGKILL) afterwards: ``mlflow models serve`` runs uvicorn as a child."""
    process = subprocess.Popen(command, start_new_session=True, **kwargs)
    try:
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def start_bare(stack: ExitStack, scratch: Path, model_file: Path, body: bytes) -> str:
    """Start the bare FastAPI app under uvicorn (1 worker); its invocation URL."""
    (scratch / "bare_app.py").write_text(BARE_APP)
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "bare_app:app", "--app-dir", str(scratch)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    command += ["--log-level", "warning", "--no-access-log"]
    env = {**os.environ, **ONE_THREAD, "BENCH_MODEL_FILE": str(model_file)}
    url = f"http://127.0.0.1:{port}/invocations"
    process = stack.enter_context(subprocess_server(command, env=env))
    first_prediction(url, body, process)
    print("bare FastAPI reference (uvicorn, 1 worker): up", flush=True)
    return url


def mlflow_python() -> Path | None:
    """The Python of the environment with MLflow (this one, or the bench's MLflow venv)."""
    if importlib.util.find_spec("mlflow") is not None:
        return Path(sys.executable)
    candidate = MLFLOW_VENV / "bin" / "python"
    return candidate if candidate.is_file() else None


def start_mlflow(
    stack: ExitStack, scratch: Path, model_file: Path, body: bytes
) -> tuple[str, float] | None:
    """Save the booster as an MLflow model and serve it (1 worker); its invocation URL and
    launch → first prediction seconds, or None without MLflow."""
    python = mlflow_python()
    if python is None:
        print(f"MLflow: not installed here nor in {MLFLOW_VENV}; skipped (numbers null).")
        print(f"    set it up with: {MLFLOW_SETUP}")
        return None
    model_dir = scratch / "mlflow-model"
    # mlflow models serve execs `uvicorn` from PATH: its environment's bin comes first.
    env = {
        **os.environ,
        **ONE_THREAD,
        "MLFLOW_TRACKING_URI": (scratch / "mlruns").as_uri(),
        "PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    save = [str(python), "-c", MLFLOW_SAVE, str(model_file), str(model_dir)]
    subprocess.run(save, check=True, env=env, cwd=scratch)
    version = subprocess.run(
        [str(python), "-c", "import mlflow; print(mlflow.__version__)"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    port = free_port()
    command = [str(python.parent / "mlflow"), "models", "serve", "-m", str(model_dir)]
    command += ["--env-manager", "local", "-p", str(port), "-h", "127.0.0.1", "-w", "1"]
    url = f"http://127.0.0.1:{port}/invocations"
    log_path = scratch / "mlflow-serve.log"
    log = stack.enter_context(log_path.open("wb"))
    launched = time.perf_counter()
    process = stack.enter_context(
        subprocess_server(command, env=env, cwd=scratch, stdout=log, stderr=log)
    )
    try:
        create_to_first = first_prediction(url, body, process) - launched
    except RuntimeError as exc:
        tail = log_path.read_text(errors="replace")[-2000:]
        print(f"MLflow failed: {exc}; numbers null. Its log ends:\n{tail}")
        return None
    print(f"MLflow {version} (mlflow models serve, 1 worker): launch → first prediction"
          f" {create_to_first:.2f} s", flush=True)  # fmt: skip
    return url, create_to_first


# -- OpenSage -------------------------------------------------------------------------
def train_and_register(client: opensage.Client, data: ModuleType) -> opensage.ModelVersion:
    """Upload the table, train the built-in xgboost, register and approve the model."""
    client.datasets.create(data.make_students(ROWS, SEED), name=DATASET, label=data.LABEL)
    job = client.training_jobs.create(
        "exam-xgb",
        algorithm="xgboost",
        hyperparameters=HYPERPARAMETERS,
        channels={"train": DATASET},
        cpu_slots=CPU_SLOTS,
    )
    job.wait(timeout=JOB_TIMEOUT_S, poll_s=0.2)
    if job.status.value != "Completed":
        raise RuntimeError(f"training ended {job.status.value}: {job.failure_reason}")
    version = client.models.register(MODEL_GROUP, training_job=job.name)
    return version.approve()


def model_file_of(version: opensage.ModelVersion, data_dir: Path) -> Path:
    """The version's model file (as its manifest names it) in the (local) artifact store."""
    url = version.info.artifact_url
    parts = urlsplit(url)
    candidates = [data_dir / "artifacts" / "models" / version.model_group / f"v{version.version}"]
    if parts.scheme in ("", "file"):
        candidates.insert(0, Path(unquote(parts.path)))
    for candidate in candidates:
        manifest = candidate / "manifest.json"
        if manifest.is_file():
            return candidate / json.loads(manifest.read_text())["model_file"]
    raise RuntimeError(f"no model manifest at {url} nor {candidates[-1]}")


def deploy_to_first(
    version: opensage.ModelVersion, name: str, row: list[float], **variant: Any
) -> tuple[opensage.Endpoint, dict[str, float]]:
    """Deploy and predict once: seconds to InService and to the first prediction."""
    start = time.perf_counter()
    endpoint = version.deploy(name, instances=1, **variant)
    ready = time.perf_counter()
    while True:
        try:
            endpoint.predict([row])
            break
        except opensage.OpenSageError:
            if time.perf_counter() - start > STARTUP_TIMEOUT_S:
                raise
            time.sleep(0.01)
    first = time.perf_counter()
    config = "".join(f", {k} {v}" for k, v in variant.items())
    print(f"OpenSage endpoint {name} (1 instance{config}): deploy() → InService"
          f" {ready - start:.2f} s, → first prediction {first - start:.2f} s",
          flush=True)  # fmt: skip
    return endpoint, {"deploy_s": ready - start, "create_to_first_s": first - start}


def worker_logs(data_dir: Path, endpoint: str) -> str:
    """The tail of the endpoint's worker logs (they hold errors the data plane logged)."""
    texts = []
    for log in sorted((data_dir / "serving" / "endpoints" / endpoint).glob("worker-*.log")):
        text = log.read_text(errors="replace").strip()
        if text:
            texts.append(f"--- {log.name}\n{text[-3000:]}")
    return "\n".join(texts)


def same_predictions(targets: dict[str, tuple[str, list[bytes]]]) -> bool:
    """Whether every server answers the same predictions for the payload rows (the same
    model behind each)."""
    answers = {}
    headers = {"Content-Type": "application/json"}
    with httpx.Client(timeout=10.0) as http:
        for name, (url, bodies) in targets.items():
            replies = [http.post(url, content=body, headers=headers).json() for body in bodies]
            answers[name] = [reply["predictions"][0] for reply in replies]
    first = np.asarray(next(iter(answers.values())), dtype=np.float64)
    agree = all(
        np.allclose(np.asarray(x, dtype=np.float64), first, rtol=1e-4) for x in answers.values()
    )
    print(f"same predictions from every server over {len(first)} rows: {agree}", flush=True)
    if not agree:
        print(f"    first answers: { {k: v[:3] for k, v in answers.items()} }")
    return agree


# -- load -----------------------------------------------------------------------------
def interleaved(
    load: LoadGenerator, targets: dict[str, tuple[str, list[bytes]]]
) -> dict[str, dict[int, dict[str, Any]]]:
    """``ROUNDS`` rounds of every concurrency over every server; medians per server and
    concurrency (with each round's req/s)."""
    runs: dict[str, dict[int, list[dict[str, Any]]]] = {
        name: {c: [] for c in CONCURRENCY} for name in targets
    }
    names = list(targets)
    for number in range(ROUNDS):
        print(f"round {number + 1} of {ROUNDS}:", flush=True)
        order = names[number % len(names) :] + names[: number % len(names)]
        for c in CONCURRENCY:
            for name in order:
                url, bodies = targets[name]
                runs[name][c].append(load.drive(url, bodies, c, name))
    return {
        name: {c: merged(found) for c, found in levels.items()} for name, levels in runs.items()
    }


def merged(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The median req/s, p50 and p99 of a server's rounds at one concurrency."""
    errors: Counter[str] = Counter()
    for run in rounds:
        errors.update(run["errors"])

    def median(key: str) -> float | None:
        values = [run[key] for run in rounds if run[key] is not None]
        return round(statistics.median(values), 3) if values else None

    return {
        "rps": median("rps"),
        "p50_ms": median("p50_ms"),
        "p99_ms": median("p99_ms"),
        "rps_rounds": [run["rps"] for run in rounds],
        "errors": dict(errors),
        "error_samples": [s for run in rounds for s in run["error_samples"]][:5],
    }


# -- batch transform ------------------------------------------------------------------
def in_process_batch(parquet: Path, model_file: Path, features: list[str]) -> dict[str, float]:
    """Parquet → array → ``booster.inplace_predict`` in this process (all cores); seconds."""
    booster = xgb.Booster()
    booster.load_model(model_file)
    start = time.perf_counter()
    table = pq.read_table(parquet, columns=features)
    rows = table.to_pandas().to_numpy(dtype="float64")
    read = time.perf_counter()
    predictions = booster.inplace_predict(rows)
    end = time.perf_counter()
    assert len(predictions) == BATCH_ROWS
    return {"seconds": end - start, "read_s": read - start}


def transform_job(
    client: opensage.Client, version: opensage.ModelVersion, name: str, config: dict[str, int]
) -> dict[str, Any]:
    """A batch transform job over the ``batch`` dataset, CSV files out: submit (this
    process's clock) → the job's ``ended_at`` (the server's, on the same machine), so
    that the polling interval does not count; rows/s, and the job's own started → ended
    seconds."""
    submitted = time.time()
    job = client.transform_jobs.create(
        name,
        model_group=version.model_group,
        model_version=version.version,
        dataset="batch",
        **config,  # type: ignore[arg-type]
    )
    job.wait(timeout=JOB_TIMEOUT_S, poll_s=0.2)
    if job.status.value != "Completed":
        raise RuntimeError(f"transform job ended {job.status.value}: {job.failure_reason}")
    info = job.info
    assert info.started_at is not None and info.ended_at is not None
    ended = info.ended_at if info.ended_at.tzinfo else info.ended_at.replace(tzinfo=UTC)
    seconds = ended.timestamp() - submitted
    return {
        "seconds": seconds,
        "rows_per_s": BATCH_ROWS / seconds,
        "job_s": (info.ended_at - info.started_at).total_seconds(),
        "rows_done": info.progress.rows_done,
        "batch_size": info.batch_size,
        "max_parallel": info.max_parallel,
    }


def batch_transform(
    client: opensage.Client,
    version: opensage.ModelVersion,
    data: ModuleType,
    scratch: Path,
    model_file: Path,
) -> dict[str, Any] | None:
    """Transform rows/s over in-process predict rows/s for each of ``BATCH_CONFIGS`` (the
    first, all cores, is ``batch_ratio``), or None without batch transform."""
    if not hasattr(client, "transform_jobs"):
        print("batch transform: the SDK has no client.transform_jobs yet; batch_ratio null.")
        return None
    print(f"batch transform over {BATCH_ROWS:,} rows:", flush=True)
    frame = data.make_students(BATCH_ROWS, SEED + 1)[data.FEATURES]
    parquet = scratch / "batch.parquet"
    frame.to_parquet(parquet, index=False)
    client.datasets.create(parquet, name="batch")
    del frame
    # Rounds of: the in-process predict, then each transform job, so that a slow spell
    # of the machine hits both sides alike; medians over the rounds.
    direct: list[dict[str, float]] = []
    jobs: dict[str, list[dict[str, Any]]] = {key: [] for key in BATCH_CONFIGS}
    failed: dict[str, str] = {}
    for round_number in range(BATCH_ROUNDS):
        direct.append(in_process_batch(parquet, model_file, list(data.FEATURES)))
        for key, config in BATCH_CONFIGS.items():
            if key in failed:
                continue
            name = f"batch-{key.replace('_', '-')}-{round_number}"
            try:
                jobs[key].append(transform_job(client, version, name, config))
            except Exception as exc:
                failed[key] = f"{type(exc).__name__}: {exc}"
    direct_s = statistics.median(d["seconds"] for d in direct)
    read_s = statistics.median(d["read_s"] for d in direct)
    print(f"    in-process {direct_s:.2f} s ({BATCH_ROWS / direct_s:,.0f} rows/s; Parquet read"
          f" {read_s:.2f} s), median of {len(direct)}", flush=True)  # fmt: skip
    result: dict[str, Any] = {
        "direct_s": round(direct_s, 3),
        "direct_rows_per_s": round(BATCH_ROWS / direct_s, 1),
        "direct_read_s": round(read_s, 3),
        "direct_runs_s": [round(d["seconds"], 3) for d in direct],
    }
    for key in BATCH_CONFIGS:
        if key in failed:
            print(f"    transform job {key} failed: {failed[key]}; null")
            result[key] = None
            continue
        runs = jobs[key]
        seconds = statistics.median(j["seconds"] for j in runs)
        job_s = statistics.median(j["job_s"] for j in runs)
        job_ratio = direct_s / seconds
        first = runs[0]
        print(f"    transform {key} (batch_size {first['batch_size']}, max_parallel"
              f" {first['max_parallel']}): {seconds:.2f} s ({BATCH_ROWS / seconds:,.0f} rows/s;"
              f" started → ended {job_s:.2f} s, rows_done {first['rows_done']:,}), median of"
              f" {len(runs)} {[round(j['seconds'], 2) for j in runs]}; ratio {job_ratio:.3f}",
              flush=True)  # fmt: skip
        result[key] = {
            "ratio": round(job_ratio, 3),
            "seconds": round(seconds, 3),
            "rows_per_s": round(BATCH_ROWS / seconds, 1),
            "job_s": round(job_s, 3),
            "runs_s": [round(j["seconds"], 3) for j in runs],
        }
    default = result[next(iter(BATCH_CONFIGS))]
    result["ratio"] = default["ratio"] if default else None
    return result


# -- report ---------------------------------------------------------------------------
def ratio(a: dict[str, Any] | None, b: dict[str, Any] | None) -> float | None:
    if a is None or b is None or not a["rps"] or not b["rps"]:
        return None
    return round(a["rps"] / b["rps"], 3)


def goals(result: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """The goals met, missed, and not measured (null)."""
    met, missed, unknown = [], [], []
    checks = [(k, g, float.__ge__) for k, g in GOALS_AT_LEAST.items()]
    checks += [(k, g, float.__gt__) for k, g in GOALS_ABOVE.items()]
    checks += [(k, g, float.__le__) for k, g in GOALS_AT_MOST.items()]
    for key, goal, holds in checks:
        value = result[key]
        if value is None:
            unknown.append(key)
        elif holds(float(value), goal):
            met.append(key)
        else:
            missed.append(key)
    return met, missed, unknown


def report(
    loads: dict[str, dict[int, dict[str, Any]]],
    startup: dict[str, float | None],
    batch: dict[str, Any] | None,
    elapsed_s: float,
) -> dict[str, Any]:
    """Print the summary table and return the result object."""
    print(f"\nsummary ({os.cpu_count()} cpus, load average {os.getloadavg()[0]:.2f}; median of"
          f" {ROUNDS} rounds of {DURATION_S:g} s after {WARMUP_S:g} s warm-up):")  # fmt: skip
    print(f"    {'server':<18}" + "".join(f"{f'c={c} req/s  p50/p99 ms':>30}" for c in CONCURRENCY))
    for name in SERVERS:
        runs = loads.get(name)
        cells = []
        for c in CONCURRENCY:
            run = runs[c] if runs else None
            cells.append(f"{run['rps']:>9.1f}  {run['p50_ms']}/{run['p99_ms']}" if run else "-")
        print(f"    {name:<18}" + "".join(f"{cell:>30}" for cell in cells))
    ours, batched, bare = loads["opensage"], loads["opensage_batched"], loads["bare"]
    mlflow = loads.get("mlflow")
    result: dict[str, Any] = {
        "ratio_vs_mlflow_c8": ratio(ours[8], mlflow[8]) if mlflow else None,
        "ratio_vs_bare_c1": ratio(ours[1], bare[1]),
        "ratio_vs_bare_c32_batched": ratio(batched[32], bare[32]),
        "ratio_vs_bare_c32_default": ratio(ours[32], bare[32]),
        "ratio_vs_bare_c8": ratio(ours[8], bare[8]),
        **{k: round(v, 3) if v is not None else None for k, v in startup.items()},
        "batch_ratio": batch["ratio"] if batch else None,
        "batch": {k: v for k, v in batch.items() if k != "ratio"} if batch else None,
    }
    for name in SERVERS:
        runs = loads.get(name)
        for c in CONCURRENCY:
            run = runs[c] if runs else None
            for key in ("rps", "p50_ms", "p99_ms", "rps_rounds"):
                result[f"{name}_c{c}_{key}"] = run[key] if run else None
            if run and run["errors"]:
                result[f"{name}_c{c}_errors"] = run["errors"]
    result.update(
        batched_config=BATCHED,
        rounds=ROUNDS,
        duration_s=DURATION_S,
        cpus=os.cpu_count(),
        elapsed_s=round(elapsed_s, 1),
    )
    met, missed, unknown = goals(result)
    result.update(goals_met=met, goals_missed=missed, goals_not_measured=unknown)
    print(f"    OpenSage / MLflow at c=8: {result['ratio_vs_mlflow_c8']} (goal ≥ 10);"
          f" OpenSage / bare at c=1: {result['ratio_vs_bare_c1']} (goal ≥ 0.9);"
          f" batched / bare at c=32: {result['ratio_vs_bare_c32_batched']} (goal > 1)")  # fmt: skip
    print(f"    create → first prediction: OpenSage {result['create_to_first_s']} s (goal ≤ 1.5),"
          f" MLflow {result['mlflow_create_to_first_s']} s;"
          f" batch_ratio {result['batch_ratio']} (goal ≥ 0.7)")  # fmt: skip
    print(f"goals met {met}; missed {missed}; not measured {unknown}")
    return result


def main() -> None:
    began = time.perf_counter()
    data = exam_data()
    rows = data.make_students(PAYLOAD_ROWS, SEED + 2)[data.FEATURES]
    payload_rows = [[float(x) for x in row] for row in rows.itertuples(index=False)]
    instances = [orjson.dumps({"instances": [row]}) for row in payload_rows]
    inputs = [orjson.dumps({"inputs": [row]}) for row in payload_rows]
    scratch = Path(tempfile.mkdtemp(prefix="opensage-bench-serving-"))
    load = LoadGenerator()
    try:
        data_dir = scratch / "data"
        slots = {"OPENSAGE_CPU_SLOTS": str(CPU_SLOTS)}
        with (
            running_server(data_dir, slots) as (url, _),
            opensage.Client(url) as client,
            ExitStack() as stack,
        ):
            version = train_and_register(client, data)
            model_file = model_file_of(version, data_dir)
            print(f"model {version!r}: {model_file}", flush=True)
            endpoint, first = deploy_to_first(version, "exam", payload_rows[0])
            batched, batched_first = deploy_to_first(
                version, "exam-batched", payload_rows[0], **BATCHED
            )
            targets = {
                "opensage": (endpoint.info.invocation_url, instances),
                "opensage_batched": (batched.info.invocation_url, instances),
                "bare": (start_bare(stack, scratch, model_file, instances[0]), instances),
            }
            mlflow = start_mlflow(stack, scratch, model_file, inputs[0])
            if mlflow is not None:
                targets["mlflow"] = (mlflow[0], inputs)
            agree = same_predictions(targets)
            loads = interleaved(load, targets)
            stack.close()
            for name in ("exam", "exam-batched"):
                text = worker_logs(data_dir, name)
                if text:
                    print(f"worker log of endpoint {name}:\n{text}")
            endpoint.delete()
            batched.delete()
            batch = batch_transform(client, version, data, scratch, model_file)
        startup = {
            "create_to_first_s": first["create_to_first_s"],
            "deploy_s": first["deploy_s"],
            "batched_create_to_first_s": batched_first["create_to_first_s"],
            "mlflow_create_to_first_s": mlflow[1] if mlflow else None,
        }
        result = report(loads, startup, batch, time.perf_counter() - began)
        result["same_predictions"] = agree
    finally:
        load.close()
        shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
