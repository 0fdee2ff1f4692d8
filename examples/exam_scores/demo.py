"""OpenSage demo: the exam-score example from the seed, end to end.

Starts the platform on the embedded default (SQLite + a local data directory), uploads
the students' data through the SDK, shows what the platform learned about it, trains
an XGBoost regressor on it as a training job, tunes that regressor's hyperparameters (a
Bayesian search, trials running two at a time), registers and approves the best model,
deploys it as an HTTP endpoint and predicts a new student's score (the seed's last step),
and finally scores every student with a batch transform.

    python examples/exam_scores/demo.py            # keeps serving until Ctrl-C
    python examples/exam_scores/demo.py --exit     # or OPENSAGE_DEMO_EXIT=1: stop at the end
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))

from data import FEATURES, LABEL, make_students, write_csv

import opensage

console = Console()


def start_server(port: int, data_dir: Path) -> subprocess.Popen[bytes]:
    """Run ``opensage up`` in a child process and wait until it answers."""
    try:
        opensage.Client(f"http://127.0.0.1:{port}").health()
    except opensage.ServerUnavailable:
        pass  # the port is free
    else:
        raise SystemExit(f"something already answers on port {port}; pass --port")
    server = subprocess.Popen(
        [sys.executable, "-m", "opensage", "up", "--port", str(port), "--data-dir", str(data_dir)],
    )
    client = opensage.Client(f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with status {server.returncode}")
        try:
            client.health()
            return server
        except opensage.ServerUnavailable:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("the server did not answer within 60 s")


def show_statistics(dataset: opensage.Dataset) -> None:
    """Print the per-column statistics the platform computed at ingest."""
    stats = dataset.stats()
    table = Table(title=f"{dataset.name} v{stats.version}: {stats.num_rows:,} students")
    for header in ("column", "mean", "std", "min", "median", "max", "missing"):
        table.add_column(header, justify="left" if header == "column" else "right")
    for column in stats.columns:
        median = (column.quantiles or {}).get("0.5")
        table.add_row(
            column.name + (" (label)" if column.name == LABEL else ""),
            f"{column.mean:.1f}",
            f"{column.std:.1f}",
            f"{column.min:g}",
            f"{median:g}",
            f"{column.max:g}",
            str(column.missing),
        )
    console.print(table)


def train_regressor(client: opensage.Client) -> float:
    """Train the exam-score regressor (XGBoost) and show its quality and timings."""
    name = f"exam-xgb-{time.strftime('%Y%m%d-%H%M%S')}"
    job = client.training_jobs.create(
        name,
        algorithm="xgboost",
        hyperparameters={"num_round": 200, "max_depth": 4, "eta": 0.1, "subsample": 0.9},
        channels={"train": "exam-scores:train", "validation": "exam-scores:validation"},
        cpu_slots=1,
    )
    console.print(f"3. Training job {job.name}: XGBoost, 200 rounds, depth 4")
    job.wait(timeout=600)
    if job.status.value != "Completed":
        raise SystemExit(f"training failed: {job.failure_reason}")
    info = job.info
    assert info.started_at is not None and info.ended_at is not None
    steps = {t.status.value: t for t in info.status_transitions}
    to_code = steps["Training"].start_time - info.created_at
    console.print(
        f"   validation RMSE: [bold]{job.final_metrics['validation:rmse']:.1f}[/] points "
        f"(the scores' spread is ~127); validation R²: {job.final_metrics['validation:r2']:.3f}"
    )
    console.print(
        f"   submit → training code: {to_code.total_seconds():.2f} s; "
        f"whole job: {(info.ended_at - info.created_at).total_seconds():.2f} s; "
        f"model: {info.model_artifact_url}"
    )
    return job.final_metrics["validation:rmse"]


def tune_regressor(client: opensage.Client, untuned_rmse: float) -> opensage.TuningJob:
    """Search the regressor's hyperparameters and compare the best with the untuned one."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    name = f"exam-tune-{time.strftime('%Y%m%d-%H%M%S')}"
    trials = 20
    job = client.tuning_jobs.create(
        name,
        algorithm="xgboost",
        hyperparameters={"num_round": 200},
        channels={"train": "exam-scores:train", "validation": "exam-scores:validation"},
        parameter_ranges={
            "eta": opensage.ContinuousRange(min=0.01, max=0.3, scaling="logarithmic"),
            "max_depth": opensage.IntegerRange(min=2, max=8),
            "subsample": opensage.ContinuousRange(min=0.5, max=1.0),
            "min_child_weight": opensage.ContinuousRange(min=1, max=50, scaling="logarithmic"),
        },
        objective="validation:rmse",
        strategy="bayesian",
        max_trials=trials,
        max_parallel_trials=2,
        seed=42,
    )
    console.print(f"4. Tuning job {job.name}: Bayesian search, {trials} trials, 2 at a time")
    columns = (
        TextColumn("   trials"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[best]}"),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("trials", total=trials, best="")
        while job.refresh().status.value in ("Pending", "InProgress", "Stopping"):
            counts = job.info.trial_counts
            best = job.info.best_trial
            shown = f"best RMSE {best.objective_value:.1f}" if best and best.objective_value else ""
            progress.update(task, completed=counts.completed + counts.failed + counts.pruned,
                            best=shown)  # fmt: skip
            time.sleep(0.5)
    best = job.info.best_trial
    if job.status.value != "Completed" or best is None or best.objective_value is None:
        raise SystemExit(f"tuning ended {job.status.value}: {job.info.failure_reason}")
    elapsed = (job.info.ended_at or job.info.created_at) - job.info.created_at
    console.print(
        f"   best validation RMSE: [bold]{best.objective_value:.1f}[/] (trial {best.number}) "
        f"vs untuned {untuned_rmse:.1f}; {job.info.trial_counts.completed} trials in "
        f"{elapsed.total_seconds():.1f} s"
    )
    chosen = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in best.hyperparameters.items())  # fmt: skip
    console.print(f"   best hyperparameters: {chosen}")
    return job


CAPTURE = {"enabled": True, "sampling_percentage": 100.0}


def deploy_best(client: opensage.Client, search: opensage.TuningJob) -> opensage.Endpoint:
    """Register the best trial's model, approve it, serve it, and score a new student."""
    best = search.best_training_job()
    version = best.register("exam-score", description=f"best trial of {search.name}")
    version.approve("tuned on the demo's data")
    console.print(
        f"5. Registered {best.name} as model exam-score v{version.version} and approved it"
    )
    started = time.monotonic()
    try:
        endpoint = client.endpoints.get("exam-score").wait()  # back from the last run
        endpoint.update(
            [{"model_group": "exam-score", "model_version": version.version}],
            data_capture=CAPTURE,
        )
        action = "updated (blue/green) to"
    except opensage.NotFound:
        endpoint = version.deploy("exam-score", data_capture=CAPTURE)
        action = "serving"
    console.print(
        f"   endpoint exam-score {action} v{version.version} in "
        f"{time.monotonic() - started:.2f} s: {endpoint.info.invocation_url}"
    )
    student = {
        "it_experience_years": 3,
        "aws_experience_years": 1,
        "study_hours": 60,
        "practice_tests": 4,
    }
    started = time.monotonic()
    (score,) = endpoint.predict([student])
    console.print(
        f"   a new student ({', '.join(f'{k}={v}' for k, v in student.items())}): "
        f"predicted score [bold]{score:.0f}[/] ({(time.monotonic() - started) * 1000:.1f} ms)"
    )
    return endpoint


def monitor_drift(client: opensage.Client, endpoint: opensage.Endpoint) -> None:
    """Watch the endpoint: students who studied far more than the training data arrive,
    the monitor compares their requests with the training split, and shows the drift."""
    name = "exam-score-monitor"
    try:
        schedule = client.monitoring_schedules.get(name)
    except opensage.NotFound:
        schedule = endpoint.monitor("exam-scores", split="train", every="1h", name=name)
    client.baselines.get(schedule.info.baseline).wait()
    shifted = make_students(n=500, seed=11)[FEATURES]
    shifted["study_hours"] = shifted["study_hours"] * 3
    for start in range(0, len(shifted), 50):
        endpoint.predict(shifted.iloc[start : start + 50].to_dict("records"))
    execution = schedule.run(timeout=120)
    report = execution.report
    console.print(
        f"7. Monitoring {schedule.name}: {report.rows:,} captured rows since the last check, "
        f"500 of them students who studied 3x as long -> {execution.status.value}"
    )
    short = {
        "kolmogorov_smirnov": "KS",
        "population_stability_index": "PSI",
        "chi_square": "chi² p",
        "jensen_shannon": "JS",
    }
    table = Table("feature", "mean (baseline)", "drift tests", "drift")
    for feature in [*report.features, *([report.prediction] if report.prediction else [])]:
        tests = ", ".join(
            f"{short[t.test]} {t.p_value if t.test == 'chi_square' else t.statistic:.3g}"
            for t in feature.tests
        )
        table.add_row(
            feature.name,
            f"{feature.mean:.1f} ({feature.baseline_mean:.1f})"
            if feature.mean is not None and feature.baseline_mean is not None
            else "-",
            tests,
            "[bold red]yes[/]" if feature.drift else "no",
        )
    console.print(table)
    for violation in report.violations:
        console.print(f"   violation {violation.check.value}: {violation.description}")


def batch_predict(client: opensage.Client, version: int) -> None:
    """Score every student in the dataset with the deployed model version, as a batch."""
    name = f"exam-batch-{time.strftime('%Y%m%d-%H%M%S')}"
    job = client.transform_jobs.create(
        name,
        model_group="exam-score",
        model_version=version,
        dataset="exam-scores",
        output_dataset=f"{name}-predictions",
        join_source="input",
        max_parallel=2,
    )
    job.wait(timeout=600)
    if job.status.value != "Completed":
        raise SystemExit(f"the batch transform failed: {job.failure_reason}")
    info = job.info
    assert info.started_at is not None and info.ended_at is not None
    seconds = (info.ended_at - info.started_at).total_seconds()
    rows = job.progress.rows_done
    console.print(
        f"6. Batch transform {job.name}: {rows:,} students scored in {seconds:.2f} s "
        f"-> dataset {job.output_dataset} (inputs, label and prediction side by side)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("OPENSAGE_PORT", 8080)))
    parser.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("OPENSAGE_DATA_DIR", ".opensage"))
    )
    parser.add_argument(
        "--exit",
        action="store_true",
        default=os.environ.get("OPENSAGE_DEMO_EXIT", "") not in ("", "0"),
        help="stop the server when the example is done instead of serving on",
    )
    args = parser.parse_args()
    data_dir = args.data_dir.resolve()
    url = f"http://127.0.0.1:{args.port}"

    console.rule("[bold]OpenSage demo: predicting exam scores")
    csv_path = write_csv(data_dir / "examples" / "students.csv")
    console.print(f"1. Collected data: 10,000 students -> {csv_path}")
    console.print(f"   features: {', '.join(FEATURES)}; label: {LABEL}")

    server = start_server(args.port, data_dir)
    try:
        with opensage.Client(url) as client:
            try:
                dataset = client.datasets.get("exam-scores")
                console.print("2. Dataset 'exam-scores' is already on the platform")
            except opensage.NotFound:
                dataset = client.datasets.create(
                    csv_path,
                    name="exam-scores",
                    label=LABEL,
                    splits={"train": 0.8, "validation": 0.1, "test": 0.1},
                    seed=42,
                    description="AWS Cloud Practitioner exam scores of 10,000 students",
                )
                console.print("2. Uploaded the data through the SDK as dataset 'exam-scores'")
            splits = dataset.splits
            if splits is not None:
                counts = ", ".join(f"{k} {n:,}" for k, n in splits.counts.items())
                console.print(f"   splits (seed {splits.seed}): {counts}")
            show_statistics(dataset)
            untuned = train_regressor(client)
            search = tune_regressor(client, untuned)
            endpoint = deploy_best(client, search)
            batch_predict(client, endpoint.info.variants[0].model_version)
            monitor_drift(client, endpoint)
        console.print(f"Console: {url}/   (datasets, training jobs, live metric charts)")
        console.print(f"API:     {url}/api/v1/datasets  {url}/api/v1/tuning-jobs")
        console.print(f"OpenAPI: {url}/openapi.json   (interactive docs: {url}/docs)")
        if args.exit:
            return 0
        console.print("Serving; press Ctrl-C to stop.")
        server.wait()
        return server.returncode or 0
    except KeyboardInterrupt:
        return 0
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    raise SystemExit(main())
