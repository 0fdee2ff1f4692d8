"""``opensage monitor ...``: model monitoring of endpoints (schedules, executions and their
reports, ground truth) and ``opensage monitor baseline ...``: the baselines they check
against."""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, get_args

import typer
from rich.table import Table
from rich.text import Text

from opensage.cli.context import client_from
from opensage.cli.output import CLIError, console, err_console, fmt_number, parse_pairs, print_json
from opensage.client.monitoring import Execution
from opensage.monitoring.schemas import (
    BaselineOut,
    FeatureConstraint,
    FeatureReport,
    ModelQuality,
    MonitoringExecutionOut,
    MonitoringScheduleOut,
    ProblemType,
    Report,
    parse_every,
)
from opensage.monitoring.states import ENDED, BaselineStatus, ExecutionStatus, ScheduleStatus

monitor_app = typer.Typer(
    help="Monitor endpoints: drift and model quality of their captured traffic against a "
    "baseline, on a schedule.",
    no_args_is_help=True,
)
baseline_app = typer.Typer(
    help="Baselines: a dataset's per-feature statistics and the constraints checked against them.",
    no_args_is_help=True,
)
monitor_app.add_typer(baseline_app, name="baseline")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Name = Annotated[str, typer.Argument(help="Monitoring schedule name.")]
BaselineName = Annotated[str, typer.Argument(help="Baseline name.")]
POLL_S = 0.2
PROBLEM_TYPES: tuple[str, ...] = get_args(ProblemType)
EXECUTION_STYLES = {
    ExecutionStatus.PENDING: "yellow",
    ExecutionStatus.IN_PROGRESS: "yellow",
    ExecutionStatus.COMPLETED: "green",
    ExecutionStatus.COMPLETED_WITH_VIOLATIONS: "bold red",
    ExecutionStatus.FAILED: "red",
}
SCHEDULE_STYLES = {ScheduleStatus.SCHEDULED: "green", ScheduleStatus.STOPPED: "yellow"}
BASELINE_STYLES = {
    BaselineStatus.IN_PROGRESS: "yellow",
    BaselineStatus.COMPLETED: "green",
    BaselineStatus.FAILED: "red",
}
TEST_LABELS = {
    "kolmogorov_smirnov": "KS",
    "chi_square": "chi²",
    "population_stability_index": "PSI",
    "jensen_shannon": "JS",
}
UNITS = (("d", 86400), ("h", 3600), ("m", 60))


# -- parsing ----------------------------------------------------------------------------
def baseline_choice(
    baseline: str | None, dataset: str | None, split: str | None, version: int | None
) -> str | dict[str, Any]:
    """An existing baseline's name, or the dataset to compute the schedule's baseline from."""
    if (baseline is None) == (dataset is None):
        raise CLIError("give --baseline NAME, or --dataset NAME [--split S] to compute one")
    if baseline is not None:
        if split is not None or version is not None:
            raise CLIError("--split and --dataset-version apply to --dataset, not to --baseline")
        return baseline
    return {"dataset": dataset, "split": split, "version": version}


def schedule_choice(every: str | None, cron: str | None) -> dict[str, Any]:
    """``every`` or ``cron`` (checked here; neither: the server's default, every hour)."""
    if every is not None and cron is not None:
        raise CLIError("give --every INTERVAL or --cron EXPR, not both")
    if every is not None:
        try:
            parse_every(every)
        except ValueError as exc:
            raise CLIError(f"--every: {exc}") from None
    return {"every": every, "cron": cron}


def retraining_choice(
    retrain: bool,
    dataset: str | None,
    holdout_split: str | None,
    metric: str | None,
    auto_promote: bool,
) -> dict[str, Any] | None:
    """The retraining config when any retraining option is given (else none)."""
    if not (retrain or dataset or holdout_split or metric or auto_promote):
        return None
    given = {"dataset": dataset, "holdout_split": holdout_split, "metric": metric}
    return {"auto_promote": auto_promote, **{k: v for k, v in given.items() if v is not None}}


def parse_time(value: str | None, option: str) -> datetime | None:
    """An ISO 8601 time with a time zone (``2026-11-27T10:00:00Z``)."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CLIError(
            f"{option} expects an ISO 8601 time such as 2026-11-27T10:00:00Z; got {value!r}"
        ) from None
    if moment.tzinfo is None:
        raise CLIError(f"{option} {value!r} needs a time zone, e.g. 2026-11-27T10:00:00Z")
    return moment


def read_input(file: Path) -> bytes:
    """A file's bytes (``-``: standard input); a missing or empty file is a CLI error."""
    if str(file) == "-":
        data = sys.stdin.buffer.read()
    else:
        path = file.expanduser()
        if not path.is_file():
            raise CLIError(f"no such file: {file}")
        data = path.read_bytes()
    if not data.strip():
        raise CLIError(f"{file} is empty")
    return data


def read_json(file: Path) -> Any:
    """A JSON file's content; invalid JSON is a CLI error naming where."""
    try:
        return json.loads(read_input(file))
    except json.JSONDecodeError as exc:
        raise CLIError(f"{file} is not valid JSON: {exc}") from None


# -- schedules --------------------------------------------------------------------------
@monitor_app.command("create")
def create(
    ctx: typer.Context,
    name: Name,
    endpoint: Annotated[
        str, typer.Option("--endpoint", help="The endpoint to monitor (it must capture data).")
    ],
    baseline: Annotated[
        str | None, typer.Option("--baseline", help="Check against this existing baseline.")
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset",
            help="Compute the baseline from this dataset (and the endpoint's model's "
            "predictions on it).",
        ),
    ] = None,
    split: Annotated[
        str | None, typer.Option("--split", help="Only this split of --dataset, e.g. train.")
    ] = None,
    dataset_version: Annotated[
        int | None, typer.Option("--dataset-version", min=1, help="Default: the latest.")
    ] = None,
    every: Annotated[
        str | None, typer.Option("--every", help="Run every 30m, 1h, 1d, ... [default: 1h].")
    ] = None,
    cron: Annotated[
        str | None, typer.Option("--cron", help="Run on a cron expression (UTC) instead.")
    ] = None,
    problem_type: Annotated[
        str | None,
        typer.Option(
            "--problem-type",
            help=f"For model quality: {', '.join(PROBLEM_TYPES)} (default: the model's).",
        ),
    ] = None,
    webhook: Annotated[
        str | None, typer.Option("--webhook", help="POST an alert here on violations.")
    ] = None,
    retrain: Annotated[
        bool, typer.Option("--retrain", help="Retrain the model on violations (defaults).")
    ] = False,
    retrain_dataset: Annotated[
        str | None,
        typer.Option(
            "--retrain-dataset",
            help="Retrain on this dataset's latest version (implies --retrain).",
        ),
    ] = None,
    holdout_split: Annotated[
        str | None,
        typer.Option(
            "--holdout-split",
            help="Compare the models on this split [default: validation] (implies --retrain).",
        ),
    ] = None,
    retrain_metric: Annotated[
        str | None,
        typer.Option(
            "--retrain-metric",
            help="The holdout metric to compare (default: rmse, f1 or accuracy).",
        ),
    ] = None,
    auto_promote: Annotated[
        bool,
        typer.Option(
            "--auto-promote",
            help="Approve a better retrained model and deploy it (implies --retrain).",
        ),
    ] = False,
    tag: Annotated[list[str] | None, typer.Option(help="A tag K=V (repeat).")] = None,
    json_: JsonFlag = False,
) -> None:
    """Monitor an endpoint's captured traffic against a baseline, every so often."""
    if problem_type is not None and problem_type not in PROBLEM_TYPES:
        raise CLIError(f"--problem-type must be one of {', '.join(PROBLEM_TYPES)}")
    schedule = client_from(ctx).monitoring_schedules.create(
        name,
        endpoint,
        baseline_choice(baseline, dataset, split, dataset_version),
        **schedule_choice(every, cron),
        problem_type=problem_type,
        webhook_url=webhook,
        retraining=retraining_choice(
            retrain, retrain_dataset, holdout_split, retrain_metric, auto_promote
        ),
        tags=parse_pairs(tag, "--tag"),
    )
    info = schedule.info
    if json_:
        print_json(info)
        return
    console.print(
        f"Created monitoring schedule [bold]{info.name}[/] on endpoint {info.endpoint}: "
        f"{_cadence(info)}, against baseline {info.baseline}",
        highlight=False,
    )
    if info.next_run_at is not None:
        console.print(f"Next run: {_time(info.next_run_at)}", highlight=False)
    console.print(f"Run it now: opensage monitor run {info.name}", markup=False, highlight=False)


@monitor_app.command("list")
def list_schedules(
    ctx: typer.Context,
    endpoint: Annotated[
        str | None, typer.Option("--endpoint", help="Only schedules of this endpoint.")
    ] = None,
    json_: JsonFlag = False,
) -> None:
    """List monitoring schedules, newest first."""
    schedules = client_from(ctx).monitoring_schedules.list(endpoint=endpoint)
    if json_:
        print_json([s.info for s in schedules])
        return
    table = Table(title="Monitoring schedules")
    headers = ("name", "endpoint", "baseline", "status", "schedule", "next run", "last run")
    for header in headers:
        table.add_column(header)
    for schedule in schedules:
        info = schedule.info
        table.add_row(
            info.name,
            Text(info.endpoint),
            Text(info.baseline),
            _schedule_status(info.status),
            Text(_cadence(info)),
            _time(info.next_run_at),
            _last_run(info, short=True),
        )
    console.print(table)


@monitor_app.command("show")
def show(ctx: typer.Context, name: Name, json_: JsonFlag = False) -> None:
    """Show a schedule: endpoint, baseline, when it runs, webhook, retraining, last run."""
    info = client_from(ctx).monitoring_schedules.get(name).info
    if json_:
        print_json(info)
        return
    console.print(f"[bold]{info.name}[/]: {_schedule_status(info.status)}", highlight=False)
    details = Table(title="Monitoring schedule", show_header=False)
    details.add_column("field", style="bold")
    details.add_column("value")
    for label, value in (
        ("endpoint", info.endpoint),
        ("baseline", info.baseline),
        ("schedule", _cadence(info)),
        ("next run", _time(info.next_run_at)),
        ("problem type", info.problem_type or "-"),
        ("webhook", info.webhook_url or "-"),
        ("retraining", _retraining_config(info)),
        ("tags", ", ".join(f"{k}={v}" for k, v in sorted(info.tags.items())) or "-"),
        ("created", _time(info.created_at)),
        ("last execution", _last_run(info).plain),
    ):
        details.add_row(label, Text(value))
    console.print(details)


@monitor_app.command("run")
def run(
    ctx: typer.Context,
    name: Name,
    window_start: Annotated[
        str | None,
        typer.Option(
            "--window-start", help="ISO time (with a zone) [default: the last window's end]."
        ),
    ] = None,
    window_end: Annotated[
        str | None, typer.Option("--window-end", help="ISO time (with a zone) [default: now].")
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Wait for the report and print it.")
    ] = True,
    json_: JsonFlag = False,
) -> None:
    """Run a schedule now and print the report (exit 1 if the execution failed).

    The window runs from the end of the last one to now, unless given.
    """
    start, end = parse_time(window_start, "--window-start"), parse_time(window_end, "--window-end")
    schedule = client_from(ctx).monitoring_schedules.get(name)
    execution = schedule.run(window_start=start, window_end=end, wait=False)
    if not wait:
        if json_:
            print_json(execution.info)
        else:
            console.print(
                f"Queued execution {execution.number} of [bold]{name}[/] "
                f"({execution.status.value}): {_window(execution.info)}",
                highlight=False,
            )
        return
    _follow(execution)
    if json_:
        print_json(execution.info)
    else:
        _print_execution(execution.info)
    if execution.status is ExecutionStatus.FAILED:
        raise typer.Exit(1)


@monitor_app.command("executions")
def executions(ctx: typer.Context, name: Name, json_: JsonFlag = False) -> None:
    """List a schedule's executions, newest first: status, window, rows, violations."""
    found = client_from(ctx).monitoring_schedules.get(name).executions()
    if json_:
        print_json([e.info for e in found])
        return
    table = Table(title=f"Executions of {name}")
    for header in ("number", "status", "trigger", "window", "rows", "violations"):
        table.add_column(header, justify="right" if header in ("number", "rows") else "left")
    for execution in found:
        info = execution.info
        report = info.report
        table.add_row(
            str(info.number),
            _execution_status(info.status),
            info.trigger,
            _window(info),
            str(report.rows) if report else "-",
            Text(_violations_summary(report), style="red" if report and report.violations else ""),
        )
    console.print(table)


@monitor_app.command("report")
def report(
    ctx: typer.Context,
    name: Name,
    number: Annotated[
        int | None, typer.Argument(min=1, help="The execution [default: the latest].")
    ] = None,
    json_: JsonFlag = False,
) -> None:
    """Print an execution's report: drift per feature, model quality, violations.

    Then the alert and the retraining, if any.
    """
    schedule = client_from(ctx).monitoring_schedules.get(name)
    if number is None:
        if schedule.info.last_execution is None:
            raise CLIError(f"{name!r} has no executions yet; run one with `opensage monitor run`")
        number = schedule.info.last_execution.number
    info = schedule.execution(number).info
    if json_:
        print_json(info)
        return
    _print_execution(info)
    if info.report is None:
        raise typer.Exit(1 if info.status is ExecutionStatus.FAILED else 0)


@monitor_app.command("stop")
def stop(ctx: typer.Context, name: Name) -> None:
    """Stop scheduling executions (`opensage monitor run` still works)."""
    info = client_from(ctx).monitoring_schedules.get(name).stop().info
    console.print(f"{info.name}: {_schedule_status(info.status)}", highlight=False)


@monitor_app.command("start")
def start(ctx: typer.Context, name: Name) -> None:
    """Schedule executions again (the next one counts from now)."""
    info = client_from(ctx).monitoring_schedules.get(name).start().info
    console.print(
        f"{info.name}: {_schedule_status(info.status)}, next run {_time(info.next_run_at)}",
        highlight=False,
    )


@monitor_app.command("delete")
def delete(ctx: typer.Context, name: Name) -> None:
    """Delete a schedule and its executions (its baseline stays)."""
    client_from(ctx).monitoring_schedules.get(name).delete()
    console.print(f"Deleted monitoring schedule [bold]{name}[/]")


@monitor_app.command("ground-truth")
def ground_truth(
    ctx: typer.Context,
    endpoint: Annotated[str, typer.Argument(help="The endpoint whose requests they label.")],
    file: Annotated[
        Path,
        typer.Argument(
            help='JSON Lines (or a JSON list) of {"eventId": ..., "groundTruth": ...} '
            "('-': stdin)."
        ),
    ],
    json_: JsonFlag = False,
) -> None:
    """Upload labels for an endpoint's captured requests, by event id or inference id."""
    data = read_input(file)
    result = client_from(ctx).endpoints.get(endpoint).upload_ground_truth(data)
    if json_:
        print_json(result)
        return
    console.print(
        f"Stored {result.records} ground-truth record(s) for endpoint [bold]{result.endpoint}[/]",
        highlight=False,
    )


# -- baselines --------------------------------------------------------------------------
@baseline_app.command("create")
def baseline_create(
    ctx: typer.Context,
    name: BaselineName,
    dataset: Annotated[str, typer.Option("--dataset", help="The dataset to describe.")],
    version: Annotated[
        int | None, typer.Option("--version", min=1, help="Dataset version (default: latest).")
    ] = None,
    split: Annotated[str | None, typer.Option("--split", help="Only this split.")] = None,
    feature: Annotated[
        list[str] | None,
        typer.Option("--feature", help="A feature (repeat; default: every column but the label)."),
    ] = None,
    model_group: Annotated[
        str | None,
        typer.Option("--model-group", help="Also baseline this model's predictions on the data."),
    ] = None,
    model_version: Annotated[
        int | None,
        typer.Option("--model-version", min=1, help="Default: the group's newest version."),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Wait for the model's predictions.")
    ] = True,
    json_: JsonFlag = False,
) -> None:
    """Compute a baseline: a dataset's per-feature statistics and suggested constraints.

    With --model-group, the model's predictions on the data are baselined too.
    """
    if model_version is not None and model_group is None:
        raise CLIError("--model-version needs --model-group")
    baseline = client_from(ctx).baselines.create(
        name,
        dataset,
        version=version,
        split=split,
        features=feature or None,
        model_group=model_group,
        model_version=model_version,
    )
    if wait and baseline.info.status is BaselineStatus.IN_PROGRESS:
        with err_console.status(f"{name}: computing the model's predictions…"):
            while baseline.refresh().info.status is BaselineStatus.IN_PROGRESS:
                time.sleep(POLL_S)
    info = baseline.info
    if json_:
        print_json(info)
    else:
        console.print(
            f"Baseline [bold]{info.name}[/]: {_baseline_status(info.status)}, "
            f"{len(info.features)} feature(s) of {_source(info)}",
            highlight=False,
        )
        if info.failure_reason:
            console.print("Reason: " + info.failure_reason, markup=False, highlight=False)
    if info.status is BaselineStatus.FAILED:
        raise typer.Exit(1)


@baseline_app.command("list")
def baseline_list(ctx: typer.Context, json_: JsonFlag = False) -> None:
    """List baselines, newest first."""
    baselines = client_from(ctx).baselines.list()
    if json_:
        print_json([b.info for b in baselines])
        return
    table = Table(title="Baselines")
    for header in ("name", "status", "data", "features", "model", "created"):
        table.add_column(header, justify="right" if header == "features" else "left")
    for baseline in baselines:
        info = baseline.info
        table.add_row(
            info.name,
            _baseline_status(info.status),
            Text(_source(info)),
            str(len(info.features)),
            Text(_model(info)),
            _time(info.created_at),
        )
    console.print(table)


@baseline_app.command("show")
def baseline_show(ctx: typer.Context, name: BaselineName, json_: JsonFlag = False) -> None:
    """Show a baseline: its source, and each feature's statistics and constraints."""
    info = client_from(ctx).baselines.get(name).info
    if json_:
        print_json(info)
        return
    console.print(f"[bold]{info.name}[/]: {_baseline_status(info.status)}", highlight=False)
    if info.failure_reason:
        console.print("Reason: " + info.failure_reason, markup=False, highlight=False)
    details = Table(title="Baseline", show_header=False)
    details.add_column("field", style="bold")
    details.add_column("value")
    drift = info.constraints.drift
    for label, value in (
        ("data", _source(info)),
        ("label", info.label or "-"),
        ("model", _model(info)),
        ("problem type", info.problem_type or "-"),
        ("predictions job", info.transform_job or "-"),
        ("drift thresholds", _thresholds(drift.model_dump()) if drift.enabled else "off"),
        ("model quality", _bounds(info) or "-"),
        ("extra columns", "checked" if info.constraints.check_extra_columns else "ignored"),
        ("created", _time(info.created_at)),
    ):
        details.add_row(label, Text(value))
    console.print(details)
    _print_features(info)


@baseline_app.command("delete")
def baseline_delete(ctx: typer.Context, name: BaselineName) -> None:
    """Delete a baseline no schedule uses."""
    client_from(ctx).baselines.get(name).delete()
    console.print(f"Deleted baseline [bold]{name}[/]")


@baseline_app.command("constraints")
def baseline_constraints(
    ctx: typer.Context,
    name: BaselineName,
    file: Annotated[
        Path,
        typer.Argument(
            help="A constraints JSON file, e.g. from `baseline show --json` ('-': stdin)."
        ),
    ],
    json_: JsonFlag = False,
) -> None:
    """Replace a baseline's constraints with a JSON file's (e.g. to loosen a threshold)."""
    constraints = read_json(file)
    if isinstance(constraints, dict) and isinstance(constraints.get("constraints"), dict):
        constraints = constraints["constraints"]  # the whole `baseline show --json`
    baseline = client_from(ctx).baselines.get(name).update_constraints(constraints)
    if json_:
        print_json(baseline.info)
        return
    console.print(
        f"Updated the constraints of baseline [bold]{name}[/] "
        f"({len(baseline.constraints.features)} feature(s))",
        highlight=False,
    )


# -- following ------------------------------------------------------------------------
def _follow(execution: Execution) -> None:
    """A spinner on stderr until the execution has ended."""
    started = time.monotonic()
    schedule = execution.info.schedule
    with err_console.status(f"{schedule} #{execution.number}: {execution.status.value}…") as spin:
        while execution.status not in ENDED:
            time.sleep(POLL_S)
            execution.refresh()
            waiting = (
                " (waiting for the window's captured data)"
                if execution.status is ExecutionStatus.PENDING
                else ""
            )
            spin.update(
                f"{schedule} #{execution.number}: {execution.status.value}… "
                f"{time.monotonic() - started:.0f} s{waiting}"
            )


# -- rendering executions -----------------------------------------------------------------
def _print_execution(info: MonitoringExecutionOut) -> None:
    """An execution's header, then its report, alert and retraining."""
    console.print(
        f"[bold]{info.schedule}[/] execution {info.number}: {_execution_status(info.status)} "
        f"({info.trigger}), window {_window(info)}",
        highlight=False,
    )
    if info.failure_reason:
        console.print("Reason: " + info.failure_reason, markup=False, highlight=False)
    if info.report is None:
        if info.status is not ExecutionStatus.FAILED:
            console.print("No report yet: the execution has not ended.")
    else:
        _print_report(info.report)
    if info.alert:
        console.print("Alert: " + _alert(info.alert), markup=False, highlight=False)
    if info.retraining:
        console.print("Retraining: " + _retraining(info.retraining), markup=False, highlight=False)


def _print_report(report: Report) -> None:
    console.print(f"{report.records} captured request(s), {report.rows} row(s)", highlight=False)
    for note in report.notes:
        console.print(Text("Note: " + note, style="dim"))
    if report.features or report.prediction:
        console.print(_drift_table(report))
    if report.model_quality is not None:
        quality = report.model_quality
        console.print(
            f"Model quality ({quality.problem_type}, {quality.rows} labelled rows):",
            highlight=False,
        )
        console.print(_quality_table(quality))
    if not report.violations:
        console.print("[green]No violations.[/]")
        return
    table = Table(title=f"Violations ({len(report.violations)})")
    for header in ("check", "feature", "description"):
        table.add_column(header)
    for violation in report.violations:
        table.add_row(
            Text(violation.check.value, style="red"),
            Text(violation.feature or "-"),
            Text(violation.description),
        )
    console.print(table)


def _drift_table(report: Report) -> Table:
    """One row per feature, then the prediction's: counts, means and the drift tests."""
    table = Table(title="Drift against the baseline")
    headers = ("feature", "count", "missing", "mean", "baseline mean")
    for header in (*headers, "KS / chi²", "p-value", "PSI / JS", "drift"):
        table.add_column(header, justify="left" if header in ("feature", "drift") else "right")
    for row in report.features:
        table.add_row(*_drift_cells(row), end_section=row is report.features[-1])
    if report.prediction is not None:
        cells = _drift_cells(report.prediction)
        table.add_row(Text(report.prediction.name, style="italic"), *cells[1:])
    return table


def _drift_cells(row: FeatureReport) -> list[Text | str]:
    tests = {t.test: t for t in row.tests}
    first = tests.get("kolmogorov_smirnov") or tests.get("chi_square")
    second = tests.get("population_stability_index") or tests.get("jensen_shannon")
    total = row.count + row.missing
    return [
        Text(row.name),
        str(row.count),
        f"{100 * row.missing / total:.1f}%" if total else "-",
        fmt_number(row.mean),
        fmt_number(row.baseline_mean),
        _test_cell(first),
        fmt_number(first.p_value) if first else "-",
        _test_cell(second),
        Text("yes", style="bold red") if row.drift else Text("no", style="green"),
    ]


def _test_cell(test: Any) -> Text:
    if test is None:
        return Text("-")
    text = f"{TEST_LABELS[test.test]} {fmt_number(test.statistic)}"
    return Text(text, style="red" if test.drift else "")


def _quality_table(quality: ModelQuality) -> Table:
    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    for metric, value in quality.metrics.items():
        table.add_row(metric, fmt_number(value))
    if quality.confusion_matrix is not None:
        labels = [fmt_number(v) for v in quality.labels or range(len(quality.confusion_matrix))]
        table.add_row("confusion matrix", f"labels {', '.join(labels)}: {quality.confusion_matrix}")
    return table


def _alert(alert: dict[str, Any]) -> str:
    text = f"{alert.get('status', '?')} to {alert.get('url', '?')}"
    if "attempts" in alert:
        text += f" after {alert['attempts']} attempt(s)"
    return text + (f": {alert['error']}" if alert.get("error") else "")


def _retraining(state: dict[str, Any]) -> str:
    parts = [str(state.get("status", "?"))]
    if state.get("training_job"):
        parts.append(f"training job {state['training_job']}")
    if state.get("dataset"):
        parts.append(f"on {state['dataset']} v{state.get('dataset_version')}")
    if state.get("candidate_version"):
        parts.append(f"candidate {state.get('model_group')} v{state['candidate_version']}")
    if "candidate_score" in state:
        parts.append(
            f"{state.get('metric')} {fmt_number(state['candidate_score'])} vs "
            f"{fmt_number(state.get('current_score'))} (current v{state.get('current_version')})"
        )
        parts.append("promoted" if state.get("promoted") else "not promoted")
    if state.get("failure_reason"):
        parts.append(str(state["failure_reason"]))
    return ", ".join(parts)


# -- rendering baselines --------------------------------------------------------------------
def _print_features(info: BaselineOut) -> None:
    """Each feature's statistics next to its constraint (and the prediction's, if any)."""
    constraints = {c.name: c for c in info.constraints.features}
    rows: list[tuple[str, dict[str, Any], FeatureConstraint | None]] = [
        (name, info.statistics.get("features", {}).get(name, {}), constraints.get(name))
        for name in info.features
    ]
    if "prediction" in info.statistics:
        rows.append(("prediction", info.statistics["prediction"], info.constraints.prediction))
    table = Table(title="Features")
    headers = ("feature", "type", "count", "missing", "mean", "std", "min", "max")
    for header in (*headers, "completeness ≥", "non-negative", "domain", "drift"):
        table.add_column(
            header, justify="left" if header in ("feature", "type", "domain") else "right"
        )
    for name, stats, constraint in rows:
        table.add_row(
            Text(name, style="italic" if name == "prediction" else ""),
            str(stats.get("inferred_type", "-")),
            fmt_number(stats.get("count")),
            fmt_number(stats.get("missing")),
            fmt_number(stats.get("mean")),
            fmt_number(stats.get("std")),
            fmt_number(stats.get("min")),
            fmt_number(stats.get("max")),
            fmt_number(constraint.completeness) if constraint else "-",
            ("yes" if constraint.is_non_negative else "no") if constraint else "-",
            Text(_domain(constraint)),
            Text(_feature_drift(constraint)),
        )
    console.print(table)


def _domain(constraint: FeatureConstraint | None) -> str:
    if constraint is None or not constraint.categorical:
        return "-"
    values = [fmt_number(v) for v in constraint.domain or []]
    return "{" + ", ".join(values[:10]) + (", …" if len(values) > 10 else "") + "}"


def _feature_drift(constraint: FeatureConstraint | None) -> str:
    if constraint is None or constraint.drift is None:
        return "default"
    return _thresholds(constraint.drift.model_dump()) if constraint.drift.enabled else "off"


def _thresholds(drift: dict[str, Any]) -> str:
    return (
        f"KS > {fmt_number(drift['ks_threshold'])}, PSI > {fmt_number(drift['psi_threshold'])}, "
        f"JS > {fmt_number(drift['js_threshold'])}, p < {fmt_number(drift['p_value'])}"
    )


def _bounds(info: BaselineOut) -> str:
    parts = []
    for metric, bound in info.constraints.model_quality.items():
        if bound.min is not None:
            parts.append(f"{metric} ≥ {fmt_number(bound.min)}")
        if bound.max is not None:
            parts.append(f"{metric} ≤ {fmt_number(bound.max)}")
    return ", ".join(parts)


def _source(info: BaselineOut) -> str:
    text = f"dataset {info.dataset} v{info.dataset_version}"
    return text + (f" split {info.split}" if info.split else "")


def _model(info: BaselineOut) -> str:
    return f"{info.model_group} v{info.model_version}" if info.model_group else "-"


# -- small helpers --------------------------------------------------------------------------
def _cadence(info: MonitoringScheduleOut) -> str:
    if info.cron is not None:
        return f"cron {info.cron} (UTC)"
    if info.every_s is None:
        return "-"
    for unit, seconds in UNITS:
        if info.every_s % seconds == 0:
            return f"every {info.every_s // seconds}{unit}"
    return f"every {info.every_s}s"


def _retraining_config(info: MonitoringScheduleOut) -> str:
    config = info.retraining
    if config is None:
        return "off"
    return (
        f"on {', '.join(c.value for c in config.on)}: train on "
        f"{config.dataset or 'its training dataset'}, compare on {config.holdout_split} by "
        f"{config.metric or 'the default metric'}, "
        + ("promote if better" if config.auto_promote else "do not promote")
    )


def _last_run(info: MonitoringScheduleOut, *, short: bool = False) -> Text:
    last = info.last_execution
    if last is None:
        return Text("-")
    text = Text(f"#{last.number} ")
    text.append(last.status.value, style=EXECUTION_STYLES[last.status])
    if short:
        return text.append(f" ({last.violations})" if last.violations else "")
    text.append(f", {last.violations} violation(s), window end {_time(last.window_end)}")
    return text


def _window(info: MonitoringExecutionOut) -> str:
    start, end = info.window_start, info.window_end
    same_day = start.date() == end.date()
    return f"{_time(start)} → {end:%H:%M:%S}" if same_day else f"{_time(start)} → {_time(end)}"


def _violations_summary(report: Report | None) -> str:
    if report is None:
        return "-"
    checks = sorted({v.check.value for v in report.violations})
    return f"{len(report.violations)}" + (f" ({', '.join(checks)})" if checks else "")


def _time(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S}" if moment is not None else "-"


def _execution_status(status: ExecutionStatus) -> str:
    return f"[{EXECUTION_STYLES[status]}]{status.value}[/]"


def _schedule_status(status: ScheduleStatus) -> str:
    return f"[{SCHEDULE_STYLES[status]}]{status.value}[/]"


def _baseline_status(status: BaselineStatus) -> str:
    return f"[{BASELINE_STYLES[status]}]{status.value}[/]"
