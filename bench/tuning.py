"""Hyperparameter tuning: OpenSage's tuning jobs against plain Optuna, and Hyperband's savings.

One run makes the 10,000-row exam-score table (``examples/exam_scores/data.py``), starts a
real ``opensage up`` server (``CPU_SLOTS`` = 2 slots, temporary data directory), uploads
the table as a dataset with ``exam_score`` as label and an 80/20 train/validation split
(fixed seed), warms the fork server with one throwaway xgboost job, and runs the same
search three ways:

(1) plain Optuna in this process: ``TPESampler(seed=SEED)``, ``study.optimize(n_trials=
    TRIALS, n_jobs=2)``; each trial builds DMatrices from the platform's own split rows
    (downloaded through the SDK, so every side trains on identical rows) and calls
    ``xgboost.train`` with what the built-in passes (same static params, ``nthread=1``:
    one core per trial, as each OpenSage trial gets one CPU slot; ``train`` and
    ``validation`` evaluated every round, as the built-in does); the objective is the
    last round's ``validation`` rmse, the built-in's ``validation:rmse``;
(2) OpenSage, ``strategy="bayesian"`` (TPE), ``TRIALS`` trials, 2 in parallel, 1 CPU slot
    each, ``seed=SEED``;
(3) OpenSage, ``strategy="hyperband"`` (TPE + Optuna's Hyperband pruner fed with
    ``validation:rmse`` each boosting round), otherwise the same.

Search space, the same for all three: ``eta`` 0.01-0.5 (log), ``max_depth`` 2-10,
``subsample`` 0.5-1.0, ``min_child_weight`` 1-10 (log); static ``num_round`` =
``NUM_ROUND`` (enough for the smallest ``eta`` to converge, so stopping bad trials
early has something to save).

Measured:
- wall time: Optuna, ``study.optimize`` (the split rows are already in memory);
  OpenSage, from just before ``tuning_jobs.create`` to the tuning job's ``ended_at``;
- best objective (lowest validation rmse) of each search;
- trial CPU: Optuna, the sum of each trial's thread CPU time (``time.thread_time`` in
  the objective: DMatrix + training); OpenSage, the CPU the trials' job processes used
  (user + system, read via psutil from the fork server that reaps them), with the server
  process's own CPU reported beside it. ``hyperband_cpu_ratio`` compares the two OpenSage
  runs' job-process CPU. The trials' ``Training`` phase seconds times ``cpu_slots`` are
  reported too (``hyperband_training_time_ratio``): wall-clock, so they grow with
  contention on a busy machine;
- to explain the wall time, per OpenSage run: the median seconds of the trials' secondary
  statuses, how busy the slots were (the trials' jobs' ``Starting`` → ended seconds over
  twice the wall time), and how many trials were pruned only after their job had run every
  round.

Ratios and goals: ``wall_ratio`` = OpenSage wall / Optuna wall (goal ≤ 1.5);
``rmse_ratio`` = OpenSage best / Optuna best (goal ≤ 1.02); ``hyperband_rmse_ratio`` =
Hyperband best / OpenSage full-search best (goal ≤ 1.02) with ``hyperband_cpu_ratio`` =
Hyperband trial CPU / full-search trial CPU (goal < 1). One run of each search: TPE with
two trials in parallel is not deterministic, even seeded, so results vary between runs.

The last line printed is one JSON object.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import optuna
import pandas as pd
import psutil
import xgboost as xgb
from bench_server import running_server

import opensage
from opensage.client.tuning import TuningJob
from opensage.tuning.schemas import ContinuousRange, IntegerRange, TrialOut

SEED = 7
ROWS = 10_000
TRIALS = 30
PARALLEL = 2
CPU_SLOTS = 2
NUM_ROUND = 500
DATASET = "exam-scores"
OBJECTIVE = "validation:rmse"
STATIC = {"num_round": NUM_ROUND, "objective": "reg:squarederror", "seed": SEED}
RANGES = {
    "eta": ContinuousRange(min=0.01, max=0.5, scaling="logarithmic"),
    "max_depth": IntegerRange(min=2, max=10),
    "subsample": ContinuousRange(min=0.5, max=1.0, scaling="linear"),
    "min_child_weight": ContinuousRange(min=1.0, max=10.0, scaling="logarithmic"),
}
TUNING_TIMEOUT_S = 3600.0
POLL_S = 1.0
GOALS = {"wall_ratio": 1.5, "rmse_ratio": 1.02, "hyperband_rmse_ratio": 1.02}
GOAL_HYPERBAND_CPU_RATIO = 1.0
EXAM_DATA = Path(__file__).resolve().parent.parent / "examples" / "exam_scores" / "data.py"


# -- data -----------------------------------------------------------------------------
def exam_data() -> ModuleType:
    """The exam-score example's data module (``make_students``, ``LABEL``)."""
    spec = importlib.util.spec_from_file_location("exam_scores_data", EXAM_DATA)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Split:
    """Features and labels of one split, as the built-in reads them: every column but
    the label is a feature, in table order, as float64."""

    features: np.ndarray
    labels: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame, label: str) -> Split:
        names = [name for name in frame.columns if name != label]
        return cls(
            features=frame[names].to_numpy(dtype=np.float64),
            labels=frame[label].to_numpy(dtype=np.float64),
        )


def epoch(moment: datetime) -> float:
    """Seconds since the epoch of a server timestamp (naive ones are UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC).timestamp()
    return moment.timestamp()


# -- (1) plain Optuna -----------------------------------------------------------------
def library_params(values: dict[str, Any]) -> dict[str, Any]:
    """What the built-in passes to ``xgboost.train`` for ``STATIC`` + ``values`` on one
    CPU slot (SageMaker's defaults, XGBoost's own, for the rest)."""
    return {
        "objective": STATIC["objective"],
        **values,
        "tree_method": "auto",
        "max_bin": 256,
        "eval_metric": ["rmse"],
        "nthread": 1,
        "seed": SEED,
        "verbosity": 1,
    }


def plain_optuna(train: Split, validation: Split) -> dict[str, Any]:
    """The search with Optuna alone, 2 trials at a time in threads."""
    cpu: list[float] = []
    lock = threading.Lock()

    def objective(trial: optuna.Trial) -> float:
        started = time.thread_time()
        values = {
            "eta": trial.suggest_float("eta", 0.01, 0.5, log=True),
            "max_depth": trial.suggest_int("max_depth", 2, 10),
            "subsample": trial.suggest_float("subsample", 0.5, 1.0),
            "min_child_weight": trial.suggest_float("min_child_weight", 1.0, 10.0, log=True),
        }
        dtrain = xgb.DMatrix(train.features, label=train.labels, nthread=1)
        dvalid = xgb.DMatrix(validation.features, label=validation.labels, nthread=1)
        history: dict[str, Any] = {}
        xgb.train(
            library_params(values),
            dtrain,
            num_boost_round=NUM_ROUND,
            evals=[(dtrain, "train"), (dvalid, "validation")],
            evals_result=history,
            verbose_eval=False,
        )
        with lock:
            cpu.append(time.thread_time() - started)
        return float(history["validation"]["rmse"][-1])

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    process_cpu = time.process_time()
    start = time.perf_counter()
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=SEED))
    study.optimize(objective, n_trials=TRIALS, n_jobs=PARALLEL)
    wall = time.perf_counter() - start
    completed = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    return {
        "wall_s": wall,
        "best": study.best_value,
        "best_params": study.best_params,
        "trial_cpu_s": sum(cpu),
        "process_cpu_s": time.process_time() - process_cpu,
        "completed": len(completed),
        "pruned": 0,
        "load": os.getloadavg()[0],
    }


# -- (2) and (3) OpenSage -------------------------------------------------------------
@dataclass
class PlatformCpu:
    """CPU seconds so far of the server process and of the job processes, which are
    forks of the fork server (a child of the server) that reaps them."""

    server: float = 0.0
    jobs: float = 0.0

    @classmethod
    def read(cls, server: psutil.Process) -> PlatformCpu:
        own = server.cpu_times()
        jobs = 0.0
        for child in server.children():
            try:
                times = child.cpu_times()
            except psutil.NoSuchProcess:
                continue
            jobs += times.children_user + times.children_system
        return cls(server=own.user + own.system, jobs=jobs)


def trial_job(client: opensage.Client, trial: TrialOut) -> dict[str, Any]:
    """What a trial's training job used: its ``Training`` phase times ``cpu_slots`` (the
    trial resource measure; 0 for a job that never reached it), the seconds it held its
    slots (``Starting`` → ended), and each secondary status's seconds."""
    info = client.training_jobs.get(trial.training_job_name).info
    phases: dict[str, float] = {}
    for step in info.status_transitions:
        if step.end_time is not None:
            seconds = epoch(step.end_time) - epoch(step.start_time)
            phases[step.status.value] = phases.get(step.status.value, 0.0) + seconds
    held = 0.0
    if info.started_at is not None and info.ended_at is not None:
        held = epoch(info.ended_at) - epoch(info.started_at)
    return {
        "slot_s": phases.get("Training", 0.0) * info.cpu_slots,
        "held_s": held * info.cpu_slots,
        "phases": phases,
        # Pruned, yet its job ran every round: the stop came after the work was done.
        "pruned_after_all_rounds": trial.status.value == "Pruned"
        and info.status.value == "Completed",
    }


def median_phases(jobs: list[dict[str, Any]]) -> dict[str, float]:
    """The median seconds of each secondary status over the jobs that went through it."""
    keys = dict.fromkeys(k for job in jobs for k in job["phases"])
    return {
        k: round(statistics.median(j["phases"][k] for j in jobs if k in j["phases"]), 3)
        for k in keys
    }


def platform_search(
    client: opensage.Client, server: psutil.Process, name: str, strategy: str
) -> dict[str, Any]:
    """A tuning job of ``strategy`` over the same space; waits for it to end."""
    before = PlatformCpu.read(server)
    submitted = time.time()
    job: TuningJob = client.tuning_jobs.create(
        name,
        algorithm="xgboost",
        hyperparameters=STATIC,
        channels={"train": f"{DATASET}:train", "validation": f"{DATASET}:validation"},
        parameter_ranges=RANGES,
        objective=OBJECTIVE,
        objective_type="minimize",
        strategy=strategy,
        max_trials=TRIALS,
        max_parallel_trials=PARALLEL,
        cpu_slots=1,
        seed=SEED,
    )
    job.wait(timeout=TUNING_TIMEOUT_S, poll_s=POLL_S)
    after = PlatformCpu.read(server)
    info = job.info
    if info.status.value != "Completed" or info.ended_at is None:
        raise RuntimeError(f"tuning job {name} ended {info.status.value}: {info.failure_reason}")
    trials = job.trial_list()
    failed = [t for t in trials if t.status.value in ("Failed", "Stopped")]
    if info.best_trial is None or info.best_trial.objective_value is None:
        raise RuntimeError(f"tuning job {name} has no completed trial: {failed[:3]}")
    counts = info.trial_counts
    jobs = [trial_job(client, trial) for trial in trials]
    wall = epoch(info.ended_at) - submitted
    return {
        "wall_s": wall,
        "best": info.best_trial.objective_value,
        "best_params": info.best_trial.hyperparameters,
        "trial_cpu_s": after.jobs - before.jobs,
        "training_slot_s": sum(job["slot_s"] for job in jobs),
        "slot_use": sum(job["held_s"] for job in jobs) / (wall * PARALLEL),
        "phases_p50": median_phases(jobs),
        "pruned_after_all_rounds": sum(job["pruned_after_all_rounds"] for job in jobs),
        "server_cpu_s": after.server - before.server,
        "load": os.getloadavg()[0],
        "completed": counts.completed,
        "pruned": counts.pruned,
        "failed": counts.failed + counts.stopped,
        "trials": len(trials),
        "failures": [f"{t.training_job_name}: {t.failure_reason}" for t in failed][:3],
    }


def warm_up(client: opensage.Client) -> None:
    """One throwaway xgboost job: the fork server is warm before the searches start."""
    job = client.training_jobs.create(
        "warm-up",
        algorithm="xgboost",
        hyperparameters={**STATIC, "num_round": 10},
        channels={"train": f"{DATASET}:train", "validation": f"{DATASET}:validation"},
        cpu_slots=1,
    )
    job.wait(timeout=300.0)
    if job.status.value != "Completed":
        raise RuntimeError(f"the warm-up job ended {job.status.value}: {job.failure_reason}")


# -- report ---------------------------------------------------------------------------
def describe(label: str, run: dict[str, Any]) -> None:
    params = {k: round(v, 4) if isinstance(v, float) else v for k, v in run["best_params"].items()}
    print(f"{label}: best rmse {run['best']:.4f}, wall {run['wall_s']:.2f} s, trial CPU"
          f" {run['trial_cpu_s']:.2f} s, {run['completed']} completed, {run['pruned']} pruned;"
          f" best {params}; load average after {run['load']:.2f}")  # fmt: skip


def report(
    optuna_run: dict[str, Any], full: dict[str, Any], hyper: dict[str, Any]
) -> dict[str, Any]:
    """Print a readable summary and return the result object."""
    print(f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
    print(f"search: {TRIALS} trials, TPE seed {SEED}, {PARALLEL} in parallel, xgboost"
          f" {NUM_ROUND} rounds on {ROWS:,} exam rows (80/20 split)")  # fmt: skip
    describe("(1) Optuna n_jobs=2      ", optuna_run)
    describe("(2) OpenSage bayesian    ", full)
    describe("(3) OpenSage hyperband   ", hyper)
    for label, run in (("bayesian", full), ("hyperband", hyper)):
        print(f"    {label}: training slot time {run['training_slot_s']:.2f} s, server CPU"
              f" {run['server_cpu_s']:.2f} s; slots busy {run['slot_use']:.0%} of wall x"
              f" {PARALLEL}; pruned after all rounds {run['pruned_after_all_rounds']};"
              f" failed/stopped {run['failed']}"
              + (f" {run['failures']}" if run["failures"] else ""))  # fmt: skip
        print(f"      trial phases p50 (s) {run['phases_p50']}")
    print(f"    Optuna process CPU {optuna_run['process_cpu_s']:.2f} s")
    result = {
        "wall_ratio": round(full["wall_s"] / optuna_run["wall_s"], 3),
        "rmse_ratio": round(full["best"] / optuna_run["best"], 4),
        "hyperband_cpu_ratio": round(hyper["trial_cpu_s"] / full["trial_cpu_s"], 3),
        "hyperband_rmse_ratio": round(hyper["best"] / full["best"], 4),
        "hyperband_rmse_ratio_vs_optuna": round(hyper["best"] / optuna_run["best"], 4),
        "hyperband_training_time_ratio": round(
            hyper["training_slot_s"] / full["training_slot_s"], 3
        ),
        "hyperband_wall_ratio": round(hyper["wall_s"] / full["wall_s"], 3),
        "optuna_best_rmse": round(optuna_run["best"], 4),
        "opensage_best_rmse": round(full["best"], 4),
        "hyperband_best_rmse": round(hyper["best"], 4),
        "optuna_wall_s": round(optuna_run["wall_s"], 3),
        "opensage_wall_s": round(full["wall_s"], 3),
        "hyperband_wall_s": round(hyper["wall_s"], 3),
        "optuna_trial_cpu_s": round(optuna_run["trial_cpu_s"], 3),
        "opensage_trial_cpu_s": round(full["trial_cpu_s"], 3),
        "hyperband_trial_cpu_s": round(hyper["trial_cpu_s"], 3),
        "opensage_training_slot_s": round(full["training_slot_s"], 3),
        "hyperband_training_slot_s": round(hyper["training_slot_s"], 3),
        "opensage_server_cpu_s": round(full["server_cpu_s"], 3),
        "hyperband_server_cpu_s": round(hyper["server_cpu_s"], 3),
        "opensage_slot_use": round(full["slot_use"], 3),
        "hyperband_slot_use": round(hyper["slot_use"], 3),
        "opensage_trial_phases_s_p50": full["phases_p50"],
        "hyperband_trial_phases_s_p50": hyper["phases_p50"],
        "optuna_completed": optuna_run["completed"],
        "opensage_completed": full["completed"],
        "opensage_pruned": full["pruned"],
        "hyperband_completed": hyper["completed"],
        "hyperband_pruned": hyper["pruned"],
        "hyperband_pruned_after_all_rounds": hyper["pruned_after_all_rounds"],
        "load_averages": [round(run["load"], 2) for run in (optuna_run, full, hyper)],
        "trials": TRIALS,
        "num_round": NUM_ROUND,
        "cpus": os.cpu_count(),
    }
    goals = {key: result[key] <= goal for key, goal in GOALS.items()}
    goals["hyperband_cpu_ratio"] = result["hyperband_cpu_ratio"] < GOAL_HYPERBAND_CPU_RATIO
    result["goals_met"] = goals
    missed = [key for key, met in goals.items() if not met]
    print("goals: " + ("all met" if not missed else f"missed {missed}")
          + f" ({GOALS}, hyperband_cpu_ratio < {GOAL_HYPERBAND_CPU_RATIO})")  # fmt: skip
    return result


def main() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="opensage-bench-tuning-"))
    try:
        data = exam_data()
        students = data.make_students(ROWS, SEED)
        slots = {"OPENSAGE_CPU_SLOTS": str(CPU_SLOTS)}
        with (
            running_server(scratch / "data", slots) as (url, server),
            opensage.Client(url) as client,
        ):
            dataset = client.datasets.create(
                students,
                name=DATASET,
                label=data.LABEL,
                splits={"train": 0.8, "validation": 0.2},
                seed=SEED,
            )
            train = Split.of(dataset.to_pandas(split="train"), data.LABEL)
            validation = Split.of(dataset.to_pandas(split="validation"), data.LABEL)
            if len(train.labels) + len(validation.labels) != ROWS:
                raise RuntimeError(f"the splits do not add up to the {ROWS} rows uploaded")
            warm_up(client)
            optuna_run = plain_optuna(train, validation)
            full = platform_search(client, server, "search-bayesian", "bayesian")
            hyper = platform_search(client, server, "search-hyperband", "hyperband")
        result = report(optuna_run, full, hyper)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
