"""``opensage tune`` and ``opensage tuning list|show|trials|importances|stop|delete``."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.live import Live
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from opensage.cli import definition
from opensage.cli.context import client_from
from opensage.cli.output import (
    CLIError,
    console,
    err_console,
    fmt_number,
    parse_pairs,
    print_json,
)
from opensage.client.tuning import TuningJob
from opensage.tuning.schemas import (
    CategoricalRange,
    ContinuousRange,
    EarlyStopping,
    IntegerRange,
    ObjectiveType,
    ParameterRange,
    Scaling,
    Strategy,
    TrialCounts,
    TrialOut,
    TuningJobOut,
)
from opensage.tuning.states import ACTIVE, TuningJobStatus

tuning_app = typer.Typer(
    help="Inspect and stop tuning jobs; read their trials.", no_args_is_help=True
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
POLL_S = 0.5
RANGE_FORMS = "NAME=LOW..HIGH[:SCALING] or NAME=A|B|..."
SCALINGS = {
    "auto": Scaling.AUTO,
    "linear": Scaling.LINEAR,
    "log": Scaling.LOGARITHMIC,
    "logarithmic": Scaling.LOGARITHMIC,
    "reverse_log": Scaling.REVERSE_LOGARITHMIC,
    "reverse_logarithmic": Scaling.REVERSE_LOGARITHMIC,
}


# -- --range ---------------------------------------------------------------------------
def parse_range(item: str) -> tuple[str, ParameterRange]:
    """``eta=0.01..0.3:log``, ``max_depth=3..10`` or ``booster=gbtree|dart`` → the
    hyperparameter's name and range; a malformed one is a CLI error naming it.

    Bounds written as whole numbers make an integer range, a ``.`` or an exponent a
    continuous one. Categorical values stay strings, as hyperparameters are passed.
    """
    name, sep, spec = item.partition("=")
    if not sep or not name or not spec:
        raise CLIError(f"--range expects {RANGE_FORMS}, got {item!r}")
    try:
        if "|" in spec:
            values = spec.split("|")
            if "" in values:
                raise CLIError(f"--range {item!r}: a categorical value is empty")
            return name, CategoricalRange(values=list(values))
        if ".." in spec:
            return name, _numeric_range(item, spec)
    except ValidationError as exc:
        reasons = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise CLIError(f"--range {item!r}: {reasons}") from None
    raise CLIError(f"--range expects {RANGE_FORMS}, got {item!r}")


def _numeric_range(item: str, spec: str) -> IntegerRange | ContinuousRange:
    bounds, _, scaling_text = spec.partition(":")
    low_text, _, high_text = bounds.partition("..")
    scaling = SCALINGS.get(scaling_text or "auto")
    if scaling is None:
        raise CLIError(
            f"--range {item!r}: unknown scaling {scaling_text!r}; "
            "use log, linear, reverse_log or auto"
        )
    try:
        low, high = float(low_text), float(high_text)
    except ValueError:
        raise CLIError(f"--range {item!r}: LOW and HIGH must be numbers") from None
    if _is_integer(low_text) and _is_integer(high_text):
        return IntegerRange(min=int(low_text), max=int(high_text), scaling=scaling)
    return ContinuousRange(min=low, max=high, scaling=scaling)


def _is_integer(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def parse_ranges(values: list[str]) -> dict[str, ParameterRange]:
    """Every ``--range``, by hyperparameter; naming one twice is a CLI error."""
    ranges: dict[str, ParameterRange] = {}
    for item in values:
        name, spec = parse_range(item)
        if name in ranges:
            raise CLIError(f"--range {name} is given twice")
        ranges[name] = spec
    return ranges


# -- opensage tune ---------------------------------------------------------------------
def tune(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Tuning job name; trials are NAME-001, ...")],
    objective: Annotated[str, typer.Option(help="The metric to optimize, e.g. validation:rmse.")],
    range_: Annotated[
        list[str],
        typer.Option(
            "--range",
            help="A searched hyperparameter (repeat): eta=0.01..0.3[:log|linear|reverse_log"
            "|auto], max_depth=3..10 (integers) or booster=gbtree|dart.",
        ),
    ],
    maximize: Annotated[
        bool, typer.Option("--maximize", help="Maximize the objective (default: minimize).")
    ] = False,
    strategy: Annotated[
        Strategy, typer.Option(help="How trials' hyperparameters are chosen.")
    ] = Strategy.BAYESIAN,
    max_trials: Annotated[
        int | None, typer.Option(min=1, help="Trials to run (grid: every point by default).")
    ] = None,
    parallel: Annotated[int, typer.Option(min=1, help="Trials to run at once.")] = 1,
    max_runtime: Annotated[
        int | None, typer.Option(min=1, help="Seconds before the whole search is stopped.")
    ] = None,
    early_stopping: Annotated[
        EarlyStopping,
        typer.Option(help="auto: stop a trial that lags the median of earlier ones."),
    ] = EarlyStopping.OFF,
    target: Annotated[
        float | None, typer.Option(help="End once a trial reaches this objective value.")
    ] = None,
    patience: Annotated[
        int | None,
        typer.Option(min=1, help="End after this many finished trials without improvement."),
    ] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Seed of the search.")] = None,
    warm_start: Annotated[
        list[str] | None,
        typer.Option(help="An ended tuning job whose trials seed this one (repeat)."),
    ] = None,
    algorithm: definition.Algorithm = None,
    script: definition.Script = None,
    source_dir: definition.SourceDir = None,
    entry_point: definition.EntryPoint = None,
    channel: definition.Channels = None,
    hp: definition.Hyperparameters = None,
    cpu_slots: definition.CpuSlots = 1,
    trial_max_runtime: Annotated[
        int | None, typer.Option(min=1, help="Seconds before a trial is stopped.")
    ] = None,
    metric: definition.Metrics = None,
    env: definition.Environment = None,
    tag: Annotated[list[str] | None, typer.Option(help="A tag K=V (repeat).")] = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Show the trials' progress until it ends.")
    ] = True,
    json_: JsonFlag = False,
) -> None:
    """Start a tuning job: trials of a built-in algorithm or your script, searching --range."""
    ranges = parse_ranges(range_)
    job = client_from(ctx).tuning_jobs.create(
        name,
        parameter_ranges=ranges,
        objective=objective,
        objective_type="maximize" if maximize else "minimize",
        strategy=strategy.value,
        max_trials=max_trials,
        max_parallel_trials=parallel,
        max_runtime_s=max_runtime,
        early_stopping=early_stopping.value,
        target_objective_value=target,
        max_trials_without_improvement=patience,
        seed=seed,
        warm_start_from=warm_start,
        tags=parse_pairs(tag, "--tag"),
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
        trial_max_runtime_s=trial_max_runtime,
    )
    if not wait:
        if json_:
            print_json(job.info)
        else:
            console.print(f"Started tuning job [bold]{job.name}[/] ({job.status.value})")
        return
    if json_:
        job.wait(poll_s=POLL_S)
        print_json(job.info)
        return
    info = job.info
    console.print(
        f"Started tuning job [bold]{job.name}[/]: {info.strategy.value} search, "
        f"{info.max_trials} trials, {info.max_parallel_trials} at a time"
    )
    _follow(job)
    _print_summary(job.info)
    if job.status is not TuningJobStatus.COMPLETED:
        raise typer.Exit(1)


def _follow(job: TuningJob) -> None:
    """A live bar of finished trials out of the budget, with the best objective so far."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("trials  best {task.fields[best]}"),
        TimeElapsedColumn(),
        console=err_console,
    ) as progress:
        task = progress.add_task(job.name, total=job.info.max_trials, best="-")
        while True:
            info = job.refresh().info
            progress.update(
                task,
                completed=_finished(info.trial_counts),
                total=info.max_trials,
                best=_best_value(info),
            )
            if info.status not in ACTIVE:
                return
            time.sleep(POLL_S)


# -- opensage tuning ... ---------------------------------------------------------------
@tuning_app.command("list")
def list_tuning_jobs(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="Only tuning jobs in this status.")] = None,
    name_contains: Annotated[str | None, typer.Option(help="Only names containing this.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 50,
    json_: JsonFlag = False,
) -> None:
    """List tuning jobs, newest first."""
    jobs = client_from(ctx).tuning_jobs.list(
        status=status, name_contains=name_contains, limit=limit
    )
    if json_:
        print_json([j.info for j in jobs])
        return
    table = Table(title="Tuning jobs")
    for header in ("name", "status", "strategy", "objective", "trials", "best", "created"):
        table.add_column(header)
    for job in jobs:
        info = job.info
        table.add_row(
            info.name,
            info.status.value,
            info.strategy.value,
            Text(f"{info.objective.type.value} {info.objective.metric}"),
            f"{_finished(info.trial_counts)}/{info.max_trials}",
            _best_value(info),
            f"{info.created_at:%Y-%m-%d %H:%M:%S}",
        )
    console.print(table)


@tuning_app.command("show")
def show(ctx: typer.Context, name: str, json_: JsonFlag = False) -> None:
    """Show a tuning job: status, search space, budget, trial counts and the best trial."""
    info = client_from(ctx).tuning_jobs.get(name).info
    if json_:
        print_json(info)
        return
    _print_summary(info)
    settings = Table(title="Search", show_header=False)
    settings.add_column("setting", style="bold")
    settings.add_column("value")
    criteria = info.completion_criteria
    for label, value in (
        ("objective", f"{info.objective.type.value} {info.objective.metric}"),
        ("strategy", info.strategy.value),
        ("trials", f"{info.max_trials}, {info.max_parallel_trials} at a time"),
        ("max runtime", f"{info.max_runtime_s} s" if info.max_runtime_s else "-"),
        ("early stopping", info.early_stopping.value),
        ("target objective", fmt_number(criteria.target_objective_value)),
        ("patience", fmt_number(criteria.max_trials_without_improvement)),
        ("seed", fmt_number(info.seed)),
        ("warm start", _warm_start(info)),
        ("training", _training(info)),
    ):
        settings.add_row(label, Text(value))
    console.print(settings)
    ranges = Table(title="Searched hyperparameters")
    for header in ("hyperparameter", "type", "range", "scaling"):
        ranges.add_column(header)
    for param, spec in info.parameter_ranges.items():
        ranges.add_row(Text(param), spec.type, *_describe_range(spec))
    console.print(ranges)
    static = info.training_job_definition.hyperparameters
    if static:
        console.print("Static hyperparameters: " + json.dumps(static), markup=False)


@tuning_app.command("trials")
def trials(ctx: typer.Context, name: str, json_: JsonFlag = False) -> None:
    """A tuning job's trials, best objective first, one column per searched hyperparameter."""
    job = client_from(ctx).tuning_jobs.get(name)
    info = job.info
    ranked = _best_first(job.trial_list(), info.objective.type)
    if json_:
        print_json(ranked)
        return
    searched = list(info.parameter_ranges)
    table = Table(
        title=Text(f"Trials of {name} ({info.objective.type.value} {info.objective.metric})")
    )
    for header in ("#", "training job", "status", info.objective.metric, *searched, "note"):
        table.add_column(Text(header))
    for trial in ranked:
        table.add_row(
            str(trial.number),
            trial.training_job_name,
            trial.status.value,
            fmt_number(trial.objective_value),
            *(Text(fmt_number(trial.hyperparameters.get(param))) for param in searched),
            Text(trial.failure_reason or ""),
        )
    console.print(table)


def _best_first(trials: list[TrialOut], objective: ObjectiveType) -> list[TrialOut]:
    """Trials with an objective value from best to worst, then the others, each by number."""
    sign = -1.0 if objective is ObjectiveType.MAXIMIZE else 1.0
    return sorted(
        trials,
        key=lambda t: (
            t.objective_value is None,
            sign * (t.objective_value or 0.0),
            t.number,
        ),
    )


@tuning_app.command("importances")
def importances(ctx: typer.Context, name: str, json_: JsonFlag = False) -> None:
    """How much each searched hyperparameter explains the objective (they sum to 1)."""
    values = client_from(ctx).tuning_jobs.get(name).parameter_importances()
    if json_:
        print_json(values)
        return
    if not values:
        console.print(f"{name} has fewer than 2 completed trials: no importances yet")
        return
    table = Table(title=f"Hyperparameter importances of {name}")
    for header in ("hyperparameter", "importance", ""):
        table.add_column(header)
    for param, value in values.items():
        table.add_row(Text(param), f"{value:.3f}", "█" * max(1, round(value * 30)))
    console.print(table)


@tuning_app.command("stop")
def stop(ctx: typer.Context, name: str) -> None:
    """Stop a tuning job and its running trials, and wait until they have stopped."""
    job = client_from(ctx).tuning_jobs.get(name).stop()
    with Live(console=console, transient=True) as live:
        while job.refresh().status in ACTIVE:
            live.update(f"{job.name}: {job.status.value}…")
            time.sleep(0.2)
    console.print(f"{job.name}: {job.status.value}")


@tuning_app.command("delete")
def delete(ctx: typer.Context, name: str) -> None:
    """Delete an ended tuning job with its trials' training jobs."""
    client_from(ctx).tuning_jobs.get(name).delete()
    console.print(f"Deleted tuning job [bold]{name}[/] and its trials' training jobs")


# -- rendering -------------------------------------------------------------------------
def _finished(counts: TrialCounts) -> int:
    return counts.completed + counts.failed + counts.stopped + counts.pruned


def _best_value(info: TuningJobOut) -> str:
    best = info.best_trial
    return "-" if best is None else fmt_number(best.objective_value)


def _duration(info: TuningJobOut) -> str:
    if info.started_at is None:
        return "-"
    if info.ended_at is None:
        return "running"
    return f"{(info.ended_at - info.started_at).total_seconds():.2f} s"


def _describe_range(spec: ParameterRange) -> tuple[Text, str]:
    if isinstance(spec, CategoricalRange):
        return Text(" | ".join(str(v) for v in spec.values)), "-"
    return Text(f"{fmt_number(spec.min)} .. {fmt_number(spec.max)}"), spec.scaling.value


def _warm_start(info: TuningJobOut) -> str:
    if not info.warm_start_from:
        return "-"
    return f"{', '.join(info.warm_start_from)} ({info.warm_start_trials} trials)"


def _training(info: TuningJobOut) -> str:
    job = info.training_job_definition
    if job.algorithm is not None:
        return job.algorithm
    entry_point = job.script.entry_point if job.script else None
    return f"script: {entry_point}" if entry_point else "script"


def _print_summary(info: TuningJobOut) -> None:
    console.print(f"[bold]{info.name}[/]: {info.status.value} in {_duration(info)}")
    reason = info.failure_reason or info.completion_reason
    if reason:
        console.print(f"Reason: {reason}", markup=False, highlight=False)
    counts = info.trial_counts
    console.print(
        f"Trials: {_finished(counts)} of {info.max_trials} finished — {counts.completed} "
        f"completed, {counts.failed} failed, {counts.stopped} stopped, {counts.pruned} pruned"
        + (f", {counts.pending + counts.in_progress} running" if info.status in ACTIVE else ""),
        highlight=False,
    )
    best = info.best_trial
    if best is None:
        console.print("No completed trial yet.")
        return
    console.print(
        f"Best: trial {best.number} ({best.training_job_name}), "
        f"{info.objective.metric} = {fmt_number(best.objective_value)}",
        markup=False,
        highlight=False,
    )
    for param, value in best.hyperparameters.items():
        console.print(f"  {param} = {fmt_number(value)}", markup=False, highlight=False)
