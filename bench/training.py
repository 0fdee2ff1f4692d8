"""Training-job overheads: start latency, overhead against plain XGBoost, and throughput.

Starts a real ``opensage up`` server on a free port with a temporary data directory,
waits for its warm fork server (one throwaway job), and measures:

(a) start latency, median over ``LATENCY_JOBS`` tiny script jobs: submit → InProgress
    (the job's ``Starting`` transition minus ``created_at``) and submit → user code
    running (the script prints ``time.time()`` as its first statement; the client's
    submit time is taken on the same clock);
(b) overhead ratio: a built-in ``xgboost`` job on a 1,000,000-row regression dataset
    (8 float features, 100 rounds, depth 6, 2 CPU slots, train channel only), submit →
    ``ended_at``, over the same ``xgboost.train`` called in this process (Parquet read,
    DMatrix, the same params, ``nthread=2``, the same ``train`` eval set the built-in
    reports each round); ``OVERHEAD_REPEATS`` interleaved rounds, medians. Also CPU
    seconds (the server process plus the job process, which the fork server reaps) and
    the time outside the boosting rounds on each side;
(c) ``THROUGHPUT_JOBS`` small xgboost jobs (10 rounds, 2,000 rows) submitted and waited on
    one after another: jobs per minute.

The last line printed is one JSON object.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import xgboost as xgb
from bench_server import running_server

import opensage
from opensage.client.training import TrainingJob
from opensage.training.schemas import StatusTransition

SEED = 7
FEATURES = 8
BIG_ROWS = 1_000_000
SMALL_ROWS = 2_000
LATENCY_JOBS = 10
OVERHEAD_REPEATS = 5
THROUGHPUT_JOBS = 20
CPU_SLOTS = 2
BIG_PARAMS = {"num_round": 100, "max_depth": 6, "eta": 0.3, "objective": "reg:squarederror"}
SMALL_PARAMS = {"num_round": 10, "max_depth": 6, "objective": "reg:squarederror"}
POLL_S = 0.05
BIG_POLL_S = 1.0
JOB_TIMEOUT_S = 300.0
GOALS = {"start_latency_s_p50": 0.5, "user_code_latency_s_p50": 0.5, "overhead_ratio_1m": 1.15}
MARK = "USER_CODE_START"
SCRIPT = f"print('{MARK}', repr(__import__('time').time()), flush=True)\n"


# -- data -----------------------------------------------------------------------------
def make_frame(rows: int, seed: int = SEED) -> pd.DataFrame:
    """A regression table: ``FEATURES`` float columns and a noisy nonlinear ``target``."""
    rng = np.random.default_rng(seed)
    features = rng.normal(0.0, 1.0, (rows, FEATURES))
    target = (
        2.0 * features[:, 0]
        - features[:, 1] ** 2
        + np.sin(3.0 * features[:, 2])
        + features[:, 3] * features[:, 4]
        + rng.normal(0.0, 0.3, rows)
    )
    frame = pd.DataFrame(features, columns=[f"f{i}" for i in range(FEATURES)])
    frame["target"] = target
    return frame


# -- server ---------------------------------------------------------------------------
def platform_cpu(server: psutil.Process) -> dict[str, float]:
    """CPU seconds so far of the server process (all threads) and of the processes its
    children have reaped: job processes are forks of the fork server, which reaps them."""
    own = server.cpu_times()
    jobs = 0.0
    for child in server.children():
        try:
            times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        jobs += times.user + times.system + times.children_user + times.children_system
    return {"server": own.user + own.system, "jobs": jobs}


# -- job helpers ----------------------------------------------------------------------
def epoch(moment: datetime | str) -> float:
    """Seconds since the epoch of a server timestamp (naive ones are UTC)."""
    value = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC).timestamp()
    return value.timestamp()


def finished(job: TrainingJob, poll_s: float = POLL_S) -> TrainingJob:
    """Wait for ``job`` and fail loudly unless it completed."""
    job.wait(timeout=JOB_TIMEOUT_S, poll_s=poll_s)
    if job.status.value != "Completed":
        raise RuntimeError(f"{job.name} ended {job.status.value}: {job.failure_reason}")
    return job


def phases(job: TrainingJob) -> dict[str, float]:
    """Seconds in each secondary status, plus created → Starting (the queue wait)."""
    info = job.info
    transitions = info.status_transitions
    out = {"Queued": epoch(transitions[1].start_time) - epoch(info.created_at)}
    for step in transitions[1:]:
        if step.end_time is not None:
            out[step.status.value] = epoch(step.end_time) - epoch(step.start_time)
    return out


def transition(job: TrainingJob, status: str) -> StatusTransition:
    """The job's first transition into ``status``."""
    return next(t for t in job.info.status_transitions if t.status.value == status)


def started_at(job: TrainingJob) -> float:
    """When the job entered ``Starting`` (InProgress), in epoch seconds."""
    return epoch(transition(job, "Starting").start_time)


def user_code_time(job: TrainingJob) -> float:
    """The ``time.time()`` the job's script printed first."""
    text = "".join(job.logs())
    line = next(line for line in text.splitlines() if line.startswith(MARK))
    return float(line.split()[1])


def median_phases(samples: list[dict[str, float]]) -> dict[str, float]:
    """The median of each phase over the jobs that have it, in seconds."""
    keys = dict.fromkeys(k for s in samples for k in s)
    return {k: round(statistics.median(s[k] for s in samples if k in s), 4) for k in keys}


def warm_up(client: opensage.Client, script: Path) -> None:
    """A throwaway script job and built-in job: the fork server is warm and the server
    has imported the built-in (validation imports it on first use)."""
    finished(client.training_jobs.create("warm-up-script", script=script, cpu_slots=1))
    finished(
        client.training_jobs.create(
            "warm-up-xgboost",
            algorithm="xgboost",
            hyperparameters=SMALL_PARAMS,
            channels={"train": "small:train"},
        )
    )


# -- (a) start latency ----------------------------------------------------------------
def script_job(client: opensage.Client, name: str, script: Path) -> dict[str, Any]:
    """Submit the tiny script job; its latencies and phase times."""
    submitted = time.time()
    job = client.training_jobs.create(name, script=script, cpu_slots=1)
    accepted = time.time()
    finished(job)
    return {
        "start": started_at(job) - epoch(job.info.created_at),
        "user_code": user_code_time(job) - submitted,
        "submit_http": accepted - submitted,
        "submit_to_created": epoch(job.info.created_at) - submitted,
        "created_to_user_code": user_code_time(job) - epoch(job.info.created_at),
        "total": epoch(job.info.ended_at) - submitted,
        "phases": phases(job),
    }


def start_latency(client: opensage.Client, script: Path) -> dict[str, Any]:
    """Medians over ``LATENCY_JOBS`` script jobs (the fork server is already warm)."""
    runs = [script_job(client, f"latency-{i}", script) for i in range(LATENCY_JOBS)]
    return {
        "start_s": [round(r["start"], 4) for r in runs],
        "user_code_s": [round(r["user_code"], 4) for r in runs],
        "start_p50": statistics.median(r["start"] for r in runs),
        "user_code_p50": statistics.median(r["user_code"] for r in runs),
        "submit_http_p50": statistics.median(r["submit_http"] for r in runs),
        "submit_to_created_p50": statistics.median(r["submit_to_created"] for r in runs),
        "created_to_user_code_p50": statistics.median(r["created_to_user_code"] for r in runs),
        "total_p50": statistics.median(r["total"] for r in runs),
        "phases_p50": median_phases([r["phases"] for r in runs]),
    }


# -- (b) overhead ratio ---------------------------------------------------------------
def library_params() -> dict[str, Any]:
    """What the built-in passes to ``xgboost.train`` for ``BIG_PARAMS`` (SageMaker's
    defaults for the rest)."""
    return {
        "objective": "reg:squarederror",
        "eta": BIG_PARAMS["eta"],
        "max_depth": BIG_PARAMS["max_depth"],
        "tree_method": "auto",
        "max_bin": 256,
        "eval_metric": ["rmse"],
        "nthread": CPU_SLOTS,
        "seed": 0,
        "verbosity": 1,
    }


class _RoundTimes(xgb.callback.TrainingCallback):
    """Records when each boosting round ended (``time.time()``)."""

    def __init__(self) -> None:
        super().__init__()
        self.ends: list[float] = []

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        self.ends.append(time.time())
        return False


def direct_xgboost(parquet: Path) -> dict[str, float]:
    """Parquet → numpy → DMatrix → ``xgboost.train`` in this process; seconds (wall and
    CPU)."""
    cpu = time.process_time()
    start = time.perf_counter()
    started = time.time()
    table = pq.read_table(parquet)
    features = np.column_stack(
        [table.column(f"f{i}").cast(pa.float64()).to_numpy() for i in range(FEATURES)]
    )
    labels = table.column("target").to_numpy()
    dtrain = xgb.DMatrix(features, label=labels, nthread=CPU_SLOTS)
    loaded = time.perf_counter()
    rounds = _RoundTimes()
    xgb.train(
        library_params(),
        dtrain,
        num_boost_round=BIG_PARAMS["num_round"],
        evals=[(dtrain, "train")],
        verbose_eval=False,
        callbacks=[rounds],
    )
    end = time.perf_counter()
    return {
        "total": end - start,
        "load": loaded - start,
        "train": end - loaded,
        "cpu": time.process_time() - cpu,
        "to_first_round": rounds.ends[0] - started,
        "rounds": rounds.ends[-1] - rounds.ends[0],
    }


def platform_xgboost(
    client: opensage.Client, server: psutil.Process, name: str, dataset: str
) -> dict[str, Any]:
    """The built-in job, submit → Completed (the server's ``ended_at``); seconds.

    It polls slowly: the server's timestamps do the timing, and fast polling would take
    CPU from the job on a small machine.
    """
    cpu = platform_cpu(server)
    submitted = time.time()
    job = client.training_jobs.create(
        name,
        algorithm="xgboost",
        hyperparameters=BIG_PARAMS,
        channels={"train": dataset},
        cpu_slots=CPU_SLOTS,
    )
    finished(job, BIG_POLL_S)
    after = platform_cpu(server)
    metrics = job.metrics()
    seen = sorted(epoch(at) for at in metrics[metrics["name"] == "train:rmse"]["at"])
    training = transition(job, "Training")
    assert training.end_time is not None
    return {
        "total": epoch(job.info.ended_at) - submitted,
        "cpu_job": after["jobs"] - cpu["jobs"],
        "cpu_server": after["server"] - cpu["server"],
        "phases": phases(job),
        "to_first_round": seen[0] - epoch(training.start_time),
        "rounds": seen[-1] - seen[0],
        "after_last_round": epoch(training.end_time) - seen[-1],
    }


def overhead(
    client: opensage.Client, server: psutil.Process, dataset: str, parquet: Path
) -> dict[str, Any]:
    """Interleaved rounds, the order alternating (the warm-up jobs already ran); medians
    and their ratio.

    On a shared machine the boosting rounds take most of the time and most of the noise,
    so the time outside them (``fixed_s``: total minus first-to-last round) is reported
    for both sides as a steadier view of what the platform adds.
    """
    direct: list[dict[str, float]] = []
    platform: list[dict[str, Any]] = []
    for i in range(OVERHEAD_REPEATS):
        if i % 2:
            direct.append(direct_xgboost(parquet))
        platform.append(platform_xgboost(client, server, f"big-{i}", dataset))
        if not i % 2:
            direct.append(direct_xgboost(parquet))
    direct_s = statistics.median(d["total"] for d in direct)
    platform_s = statistics.median(p["total"] for p in platform)
    platform_cpu_s = statistics.median(p["cpu_job"] + p["cpu_server"] for p in platform)
    direct_cpu_s = statistics.median(d["cpu"] for d in direct)
    return {
        "platform_s": platform_s,
        "direct_s": direct_s,
        "ratio": platform_s / direct_s,
        "pair_ratios": [
            round(p["total"] / d["total"], 3) for p, d in zip(platform, direct, strict=True)
        ],
        "platform_cpu_s": platform_cpu_s,
        "platform_job_cpu_s": statistics.median(p["cpu_job"] for p in platform),
        "platform_server_cpu_s": statistics.median(p["cpu_server"] for p in platform),
        "direct_cpu_s": direct_cpu_s,
        "cpu_ratio": platform_cpu_s / direct_cpu_s,
        "platform_fixed_s": statistics.median(p["total"] - p["rounds"] for p in platform),
        "direct_fixed_s": statistics.median(d["total"] - d["rounds"] for d in direct),
        "platform_runs_s": [round(p["total"], 3) for p in platform],
        "direct_runs_s": [round(d["total"], 3) for d in direct],
        "direct_load_s": statistics.median(d["load"] for d in direct),
        "direct_train_s": statistics.median(d["train"] for d in direct),
        "direct_training_s": {
            key: round(statistics.median(d[key] for d in direct), 3)
            for key in ("to_first_round", "rounds")
        },
        "platform_phases_s": median_phases([p["phases"] for p in platform]),
        "platform_training_s": {
            key: round(statistics.median(p[key] for p in platform), 3)
            for key in ("to_first_round", "rounds", "after_last_round")
        },
    }


# -- (c) throughput -------------------------------------------------------------------
def throughput(client: opensage.Client, dataset: str) -> dict[str, Any]:
    """``THROUGHPUT_JOBS`` small jobs, each submitted when the previous one is done."""
    runs: list[dict[str, float]] = []
    start = time.perf_counter()
    for i in range(THROUGHPUT_JOBS):
        submitted = time.time()
        job = client.training_jobs.create(
            f"small-{i}",
            algorithm="xgboost",
            hyperparameters=SMALL_PARAMS,
            channels={"train": f"{dataset}:train"},
            cpu_slots=1,
        )
        finished(job)
        runs.append({"total": epoch(job.info.ended_at) - submitted, **phases(job)})
    wall = time.perf_counter() - start
    return {
        "wall_s": wall,
        "jobs_per_min": THROUGHPUT_JOBS * 60.0 / wall,
        "job_p50_s": statistics.median(r["total"] for r in runs),
        "phases_p50_s": median_phases([{k: v for k, v in r.items() if k != "total"} for r in runs]),
    }


# -- report ---------------------------------------------------------------------------
def report(latency: dict[str, Any], ratio: dict[str, Any], rate: dict[str, Any]) -> dict[str, Any]:
    """Print a readable summary and return the result object."""
    print(f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
    print(f"(a) start latency, median of {LATENCY_JOBS} script jobs:")
    print(f"    submit → InProgress  {latency['start_p50']:.3f} s   (runs {latency['start_s']})")
    print(f"    submit → user code   {latency['user_code_p50']:.3f} s"
          f"   (runs {latency['user_code_s']})")  # fmt: skip
    print(f"    submit → created_at {latency['submit_to_created_p50']:.3f} s, created_at → user"
          f" code {latency['created_to_user_code_p50']:.3f} s; SDK create() (upload + POST)"
          f" {latency['submit_http_p50']:.3f} s; phases {latency['phases_p50']}")  # fmt: skip
    print(f"(b) xgboost on {BIG_ROWS:,} rows, {BIG_PARAMS['num_round']} rounds, depth"
          f" {BIG_PARAMS['max_depth']}, nthread {CPU_SLOTS};"
          f" median of {OVERHEAD_REPEATS}:")  # fmt: skip
    print(f"    platform {ratio['platform_s']:.2f} s {ratio['platform_runs_s']}"
          f"  direct {ratio['direct_s']:.2f} s {ratio['direct_runs_s']}"
          f"  ratio {ratio['ratio']:.3f} (per pair {ratio['pair_ratios']})")  # fmt: skip
    print(f"    CPU: platform {ratio['platform_cpu_s']:.2f} s (job"
          f" {ratio['platform_job_cpu_s']:.2f} s + server {ratio['platform_server_cpu_s']:.2f} s)"
          f"  direct {ratio['direct_cpu_s']:.2f} s  ratio {ratio['cpu_ratio']:.3f}")  # fmt: skip
    print(f"    platform phases {ratio['platform_phases_s']}")
    print(f"    outside the boosting rounds: platform {ratio['platform_fixed_s']:.2f} s,"
          f" direct {ratio['direct_fixed_s']:.2f} s")  # fmt: skip
    print(
        f"    platform Training phase (from the rounds' metric times)"
        f" {ratio['platform_training_s']}"
    )
    print(f"    direct {ratio['direct_training_s']}: load + DMatrix {ratio['direct_load_s']:.2f} s,"
          f" train {ratio['direct_train_s']:.2f} s")  # fmt: skip
    print(f"(c) {THROUGHPUT_JOBS} small jobs back to back: {rate['wall_s']:.2f} s,"
          f" {rate['jobs_per_min']:.1f} jobs/min; per job {rate['job_p50_s']:.3f} s,"
          f" phases {rate['phases_p50_s']}")  # fmt: skip
    result = {
        "start_latency_s_p50": round(latency["start_p50"], 4),
        "user_code_latency_s_p50": round(latency["user_code_p50"], 4),
        "overhead_ratio_1m": round(ratio["ratio"], 3),
        "overhead_pair_ratios_1m": ratio["pair_ratios"],
        "overhead_cpu_ratio_1m": round(ratio["cpu_ratio"], 3),
        "jobs_per_min": round(rate["jobs_per_min"], 1),
        "submit_http_s_p50": round(latency["submit_http_p50"], 4),
        "submit_to_created_s_p50": round(latency["submit_to_created_p50"], 4),
        "created_to_user_code_s_p50": round(latency["created_to_user_code_p50"], 4),
        "script_job_total_s_p50": round(latency["total_p50"], 4),
        "script_job_phases_s_p50": latency["phases_p50"],
        "platform_1m_s": round(ratio["platform_s"], 3),
        "direct_1m_s": round(ratio["direct_s"], 3),
        "platform_1m_fixed_s": round(ratio["platform_fixed_s"], 3),
        "direct_1m_fixed_s": round(ratio["direct_fixed_s"], 3),
        "platform_1m_cpu_s": round(ratio["platform_cpu_s"], 3),
        "platform_1m_server_cpu_s": round(ratio["platform_server_cpu_s"], 3),
        "direct_1m_cpu_s": round(ratio["direct_cpu_s"], 3),
        "platform_1m_phases_s": ratio["platform_phases_s"],
        "platform_1m_training_s": ratio["platform_training_s"],
        "direct_1m_load_s": round(ratio["direct_load_s"], 3),
        "direct_1m_train_s": round(ratio["direct_train_s"], 3),
        "direct_1m_training_s": ratio["direct_training_s"],
        "small_job_s_p50": round(rate["job_p50_s"], 4),
        "throughput_wall_s": round(rate["wall_s"], 3),
        "cpus": os.cpu_count(),
    }
    missed = [k for k, goal in GOALS.items() if result[k] > goal]
    print("goals: " + ("all met" if not missed else f"missed {missed}") + f" ({GOALS})")
    return result


def main() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="opensage-bench-training-"))
    try:
        script = scratch / "first_line.py"
        script.write_text(SCRIPT)
        big = make_frame(BIG_ROWS)
        parquet = scratch / "big.parquet"
        big.to_parquet(parquet, index=False)
        slots = {"OPENSAGE_CPU_SLOTS": str(CPU_SLOTS)}
        with (
            running_server(scratch / "data", slots) as (url, server),
            opensage.Client(url) as client,
        ):
            client.datasets.create(big, name="big", label="target")
            client.datasets.create(
                make_frame(SMALL_ROWS),
                name="small",
                label="target",
                splits={"train": 0.8, "validation": 0.2},
            )
            del big
            warm_up(client, script)
            latency = start_latency(client, script)
            ratio = overhead(client, server, "big", parquet)
            rate = throughput(client, "small")
        result = report(latency, ratio, rate)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
