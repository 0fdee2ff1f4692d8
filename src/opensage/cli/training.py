"""``opensage train`` and ``opensage job list|show|logs|metrics|stop|delete``."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer
from rich.live import Live
from rich.table import Table

from opensage.cli import definition
from opensage.cli.context import client_from
from opensage.cli.output import console, fmt_number, parse_pairs, print_json
from opensage.client.training import TrainingJob

jobs_app = typer.Typer(help="Inspect, follow and stop training jobs.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
SPARKS = "▁▂▃▄▅▆▇█"


def train(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", "-n", help="Job name.")],
    algorithm: definition.Algorithm = None,
    script: definition.Script = None,
    source_dir: definition.SourceDir = None,
    entry_point: definition.EntryPoint = None,
    channel: definition.Channels = None,
    hp: definition.Hyperparameters = None,
    cpu_slots: definition.CpuSlots = 1,
    max_runtime: Annotated[
        int | None, typer.Option(min=1, help="Seconds before it is stopped.")
    ] = None,
    metric: definition.Metrics = None,
    env: definition.Environment = None,
    tag: Annotated[list[str] | None, typer.Option(help="A tag K=V (repeat).")] = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Follow the log until it ends.")
    ] = True,
    json_: JsonFlag = False,
) -> None:
    """Submit a training job (a built-in algorithm or your own script)."""
    job = client_from(ctx).training_jobs.create(
        name,
        **definition.definition_options(
            algorithm=algorithm,
            script=script,
            source_dir=source_dir,
            entry_point=entry_point,
            channel=channel,
            hp=hp,
            cpu_slots=cpu_slots,
            metric=metric,
            env=env,
        ),
        max_runtime_s=max_runtime,
        tags=parse_pairs(tag, "--tag"),
    )
    if not wait:
        if json_:
            print_json(job.info)
        else:
            console.print(f"Submitted training job [bold]{job.name}[/] ({job.status.value})")
        return
    if not json_:
        console.print(f"Submitted training job [bold]{job.name}[/]; following its log")
        for text in job.logs(follow=True):
            console.out(text, end="", highlight=False)
    job.wait()
    if json_:
        print_json(job.info)
        return
    _print_summary(job)
    if job.status.value != "Completed":
        raise typer.Exit(1)


@jobs_app.command("list")
def list_jobs(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="Only jobs in this status.")] = None,
    name_contains: Annotated[str | None, typer.Option(help="Only names containing this.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 50,
    json_: JsonFlag = False,
) -> None:
    """List training jobs, newest first."""
    jobs = client_from(ctx).training_jobs.list(
        status=status, name_contains=name_contains, limit=limit
    )
    if json_:
        print_json([j.info for j in jobs])
        return
    table = Table(title="Training jobs")
    for header in ("name", "status", "detail", "algorithm", "created", "duration", "metrics"):
        table.add_column(header)
    for job in jobs:
        info = job.info
        table.add_row(
            info.name,
            info.status.value,
            info.secondary_status.value,
            info.algorithm or ("script: " + str((info.script or {}).get("entry_point", ""))),
            f"{info.created_at:%Y-%m-%d %H:%M:%S}",
            _duration(job),
            ", ".join(f"{k}={fmt_number(v)}" for k, v in sorted(info.final_metrics.items())[:3]),
        )
    console.print(table)


@jobs_app.command("show")
def show(ctx: typer.Context, name: str, json_: JsonFlag = False) -> None:
    """Show a job: status, timeline, hyperparameters, channels, final metrics, model."""
    job = client_from(ctx).training_jobs.get(name)
    if json_:
        print_json(job.info)
        return
    _print_summary(job)
    timeline = Table(title="Timeline")
    for header in ("status", "start", "end", "message"):
        timeline.add_column(header)
    for step in job.info.status_transitions:
        end = f"{step.end_time:%H:%M:%S.%f}"[:-3] if step.end_time else "-"
        timeline.add_row(
            step.status.value, f"{step.start_time:%H:%M:%S.%f}"[:-3], end, step.message
        )
    console.print(timeline)
    if job.info.hyperparameters:
        console.print("Hyperparameters: " + json.dumps(job.info.hyperparameters))
    console.print("Channels: " + json.dumps(job.info.channels))


@jobs_app.command("logs")
def logs(
    ctx: typer.Context,
    name: str,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep reading until it ends.")
    ] = False,
) -> None:
    """Print a job's log (stdout and stderr)."""
    job = client_from(ctx).training_jobs.get(name)
    for text in job.logs(follow=follow):
        console.out(text, end="", highlight=False)


@jobs_app.command("metrics")
def metrics(ctx: typer.Context, name: str, json_: JsonFlag = False) -> None:
    """A job's metrics: last value, best, and a sparkline of the series."""
    frame = client_from(ctx).training_jobs.get(name).metrics()
    if json_:
        print_json(json.loads(frame.to_json(orient="records", date_format="iso")))
        return
    table = Table(title=f"Metrics of {name}")
    for header in ("metric", "points", "last", "min", "max", "trend"):
        table.add_column(header)
    for metric_name, series in frame.groupby("name", sort=True):
        values = series.sort_values("step")["value"].tolist()
        table.add_row(
            str(metric_name),
            str(len(values)),
            fmt_number(values[-1]),
            fmt_number(min(values)),
            fmt_number(max(values)),
            sparkline(values),
        )
    console.print(table)


@jobs_app.command("stop")
def stop(ctx: typer.Context, name: str) -> None:
    """Stop a job (SIGTERM, then SIGKILL after the grace period)."""
    job = client_from(ctx).training_jobs.get(name).stop()
    with Live(console=console, transient=True) as live:
        while job.refresh().status.value in ("Stopping", "InProgress"):
            live.update(f"{job.name}: {job.status.value}…")
            time.sleep(0.2)
    console.print(f"{job.name}: {job.status.value}")


@jobs_app.command("delete")
def delete(ctx: typer.Context, name: str) -> None:
    """Delete an ended job with its metrics, logs and model files."""
    client_from(ctx).training_jobs.get(name).delete()
    console.print(f"Deleted training job [bold]{name}[/]")


def sparkline(values: list[float], width: int = 30) -> str:
    """A one-line chart of ``values`` (resampled to ``width`` points)."""
    if not values:
        return ""
    if len(values) > width:
        values = [values[int(i * len(values) / width)] for i in range(width)]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    return "".join(SPARKS[int((v - low) / span * (len(SPARKS) - 1))] for v in values)


def _duration(job: TrainingJob) -> str:
    info = job.info
    if info.started_at is None:
        return "-"
    if info.ended_at is None:
        return "running"
    return f"{(info.ended_at - info.started_at).total_seconds():.2f} s"


def _print_summary(job: TrainingJob) -> None:
    info = job.info
    console.print(
        f"[bold]{info.name}[/]: {info.status.value} ({info.secondary_status.value}) "
        f"in {_duration(job)}"
    )
    if info.failure_reason:
        console.print("Reason: " + info.failure_reason, markup=False, highlight=False)
    for key, value in sorted(info.final_metrics.items()):
        console.print(f"  {key} = {fmt_number(value)}")
    if info.model_artifact_url:
        console.print(f"Model: {info.model_artifact_url}", markup=False)
