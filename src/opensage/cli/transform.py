"""``opensage transform create|list|show|stop|delete|output``: batch transform jobs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any, get_args

import typer
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from opensage.cli.context import client_from
from opensage.cli.endpoints import parse_model
from opensage.cli.output import (
    CLIError,
    console,
    err_console,
    human_bytes,
    parse_pairs,
    print_json,
)
from opensage.client.transform import TransformJob
from opensage.transform.schemas import (
    CSV,
    FileContentType,
    JoinSource,
    OutputContentType,
    TransformJobOut,
)
from opensage.transform.states import ACTIVE, TransformJobStatus

transform_app = typer.Typer(
    help="Batch predictions: run a registered model over a dataset or files.",
    no_args_is_help=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
POLL_S = 0.2
INPUT_TYPES: tuple[str, ...] = get_args(FileContentType)
OUTPUT_TYPES: tuple[str, ...] = get_args(OutputContentType)
STATUS_STYLES = {
    TransformJobStatus.COMPLETED: "green",
    TransformJobStatus.FAILED: "red",
    TransformJobStatus.IN_PROGRESS: "yellow",
    TransformJobStatus.STOPPING: "yellow",
    TransformJobStatus.STOPPED: "yellow",
}


# -- parsing ----------------------------------------------------------------------------
def parse_dataset(item: str) -> tuple[str, str | None]:
    """``students`` or ``students:test`` → the dataset's name and split (None: all rows)."""
    name, sep, split = item.partition(":")
    if not name or (sep and not split):
        raise CLIError(f"--dataset expects NAME[:SPLIT], got {item!r}")
    return name, split or None


def input_options(
    dataset: str | None, dataset_version: int | None, uri: str | None, content_type: str | None
) -> dict[str, Any]:
    """The SDK's keywords for the job's input, from ``--dataset`` or ``--input``."""
    if (dataset is None) == (uri is None):
        raise CLIError("give --dataset NAME[:SPLIT] or --input URI")
    if dataset is not None:
        if content_type is not None:
            raise CLIError("--content-type applies to --input files, not to --dataset")
        name, split = parse_dataset(dataset)
        return {"dataset": name, "version": dataset_version, "split": split}
    if dataset_version is not None:
        raise CLIError("--dataset-version applies to --dataset, not to --input")
    kind = content_type or CSV
    if kind not in INPUT_TYPES:
        raise CLIError(f"--content-type must be one of {', '.join(INPUT_TYPES)}; got {kind!r}")
    return {"uri": uri, "content_type": kind}


def output_options(
    output_dataset: str | None, output_path: str | None, accept: str | None
) -> dict[str, Any]:
    """The SDK's keywords for where the predictions go."""
    if output_dataset is not None and output_path is not None:
        raise CLIError("give --output-dataset or --output-path, not both")
    if output_dataset is not None and accept is not None:
        raise CLIError("--accept applies to output files, not to --output-dataset (Parquet)")
    kind = accept or CSV
    if kind not in OUTPUT_TYPES:
        raise CLIError(f"--accept must be one of {', '.join(OUTPUT_TYPES)}; got {kind!r}")
    return {"output_dataset": output_dataset, "output_path": output_path, "accept": kind}


# -- commands ---------------------------------------------------------------------------
@transform_app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Transform job name.")],
    model: Annotated[
        str,
        typer.Option("--model", help="GROUP[:VERSION] (default version: the newest approved)."),
    ],
    dataset: Annotated[
        str | None,
        typer.Option("--dataset", help="Predict a dataset's rows: NAME[:SPLIT]."),
    ] = None,
    dataset_version: Annotated[
        int | None, typer.Option("--dataset-version", min=1, help="Default: the latest.")
    ] = None,
    input_: Annotated[
        str | None,
        typer.Option(
            "--input",
            help="Predict files instead: an s3:// object or prefix, or a local file or folder "
            "(a server on this machine with auth off).",
        ),
    ] = None,
    content_type: Annotated[
        str | None,
        typer.Option(help=f"Type of the --input files: {', '.join(INPUT_TYPES)} (default {CSV})."),
    ] = None,
    output_dataset: Annotated[
        str | None, typer.Option(help="Write the predictions as this new dataset.")
    ] = None,
    output_path: Annotated[
        str | None,
        typer.Option(
            help="Write them as files under this artifact-store prefix "
            "(default transform-jobs/NAME/output)."
        ),
    ] = None,
    accept: Annotated[
        str | None,
        typer.Option(help=f"Type of the output files: {', '.join(OUTPUT_TYPES)} (default {CSV})."),
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(min=1, help="Rows per predict call (default 50,000).")
    ] = None,
    parallel: Annotated[int, typer.Option(min=1, help="Worker processes predicting at once.")] = 1,
    join_input: Annotated[
        bool, typer.Option("--join-input", help="Keep the input columns next to the predictions.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Use a version not approved (yet).")
    ] = False,
    tag: Annotated[list[str] | None, typer.Option(help="A tag K=V (repeat).")] = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Show the rows' progress until it ends.")
    ] = True,
    json_: JsonFlag = False,
) -> None:
    """Submit a batch transform: a registered model's predictions over a dataset or files."""
    chosen = parse_model(model)
    job = client_from(ctx).transform_jobs.create(
        name,
        model_group=chosen["model_group"],
        model_version=chosen["model_version"],
        **input_options(dataset, dataset_version, input_, content_type),
        **output_options(output_dataset, output_path, accept),
        batch_size=batch_size,
        max_parallel=parallel,
        join_source=(JoinSource.INPUT if join_input else JoinSource.NONE).value,
        force=force,
        tags=parse_pairs(tag, "--tag"),
    )
    if not wait:
        if json_:
            print_json(job.info)
        else:
            console.print(f"Submitted transform job [bold]{job.name}[/] ({job.status.value})")
        return
    if json_:
        job.wait(poll_s=POLL_S)
        print_json(job.info)
    else:
        info = job.info
        console.print(
            f"Submitted transform job [bold]{job.name}[/]: "
            f"{_model(info)} over {_describe_input(info)}",
            highlight=False,
        )
        _follow(job)
        _print_summary(job.info)
    if job.status is not TransformJobStatus.COMPLETED:
        raise typer.Exit(1)


@transform_app.command("list")
def list_jobs(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="Only jobs in this status.")] = None,
    name_contains: Annotated[str | None, typer.Option(help="Only names containing this.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 50,
    json_: JsonFlag = False,
) -> None:
    """List transform jobs, newest first."""
    jobs = client_from(ctx).transform_jobs.list(
        status=status, name_contains=name_contains, limit=limit
    )
    if json_:
        print_json([j.info for j in jobs])
        return
    table = Table(title="Transform jobs")
    for header in ("name", "status", "model", "input", "rows", "output", "created", "duration"):
        table.add_column(header, justify="right" if header == "rows" else "left")
    for job in jobs:
        info = job.info
        table.add_row(
            info.name,
            _status(info.status),
            Text(_model(info)),
            Text(_describe_input(info)),
            _rows(info),
            Text(_describe_output(info, full=False)),
            f"{info.created_at:%Y-%m-%d %H:%M:%S}",
            _duration(info),
        )
    console.print(table)


@transform_app.command("show")
def show(ctx: typer.Context, name: str, json_: JsonFlag = False) -> None:
    """Show a job: status, progress, model, input, output and, once done, its files."""
    job = client_from(ctx).transform_jobs.get(name)
    info = job.info
    if json_:
        print_json(info)
        return
    _print_summary(info)
    details = Table(title="Transform job", show_header=False)
    details.add_column("field", style="bold")
    details.add_column("value")
    for label, value in (
        ("model", _model(info) + (" (forced)" if info.force else "")),
        ("input", _describe_input(info)),
        ("output", _describe_output(info)),
        ("batch size", str(info.batch_size)),
        ("parallel", f"{info.max_parallel} worker process(es)"),
        ("join source", info.join_source.value),
        ("tags", ", ".join(f"{k}={v}" for k, v in sorted(info.tags.items())) or "-"),
        ("created", f"{info.created_at:%Y-%m-%d %H:%M:%S}"),
        ("started", f"{info.started_at:%Y-%m-%d %H:%M:%S}" if info.started_at else "-"),
        ("ended", f"{info.ended_at:%Y-%m-%d %H:%M:%S}" if info.ended_at else "-"),
    ):
        details.add_row(label, Text(value))
    console.print(details)
    if info.status is TransformJobStatus.COMPLETED and "path" in info.output:
        files = Table(title="Output files")
        files.add_column("file")
        files.add_column("size", justify="right")
        for item in job.output_files():
            files.add_row(Text(item.name), human_bytes(item.size))
        console.print(files)


@transform_app.command("stop")
def stop(ctx: typer.Context, name: str) -> None:
    """Stop a job (its workers get SIGTERM, then SIGKILL) and wait until it has stopped."""
    job = client_from(ctx).transform_jobs.get(name).stop()
    with Live(console=console, transient=True) as live:
        while job.refresh().status in ACTIVE:
            live.update(f"{job.name}: {job.status.value}…")
            time.sleep(POLL_S)
    console.print(f"{job.name}: {job.status.value}")


@transform_app.command("delete")
def delete(ctx: typer.Context, name: str) -> None:
    """Delete an ended job (an output dataset, or files at your own --output-path, stay)."""
    client_from(ctx).transform_jobs.get(name).delete()
    console.print(f"Deleted transform job [bold]{name}[/]")


@transform_app.command("output")
def output(
    ctx: typer.Context,
    name: str,
    file: Annotated[
        str | None,
        typer.Option("--file", "-f", help="The output file to print (default: the only one)."),
    ] = None,
    to: Annotated[
        Path | None, typer.Option("--to", help="Download every output file into this folder.")
    ] = None,
) -> None:
    """Print a completed job's output file, or download them all with --to."""
    if file is not None and to is not None:
        raise CLIError("give --file (print one file) or --to DIR (download them all), not both")
    job = client_from(ctx).transform_jobs.get(name)
    dataset = job.output_dataset
    if job.status is TransformJobStatus.COMPLETED and dataset is not None:
        raise CLIError(
            f"transform job {name!r} wrote dataset {dataset!r}; read it with "
            f"`opensage dataset download {dataset} -o FILE`"
        )
    files = job.output_files()  # the server says why there are none (yet)
    if to is not None:
        written = job.download(to.expanduser())
        for path, item in zip(written, files, strict=True):
            console.print(f"{path} ({human_bytes(item.size)})", markup=False, highlight=False)
        console.print(f"Downloaded {len(written)} file(s) to {to}", markup=False, highlight=False)
        return
    if file is None:
        if len(files) != 1:
            names = ", ".join(f.name for f in files[:20])
            raise CLIError(
                f"transform job {name!r} wrote {len(files)} files ({names}); print one with "
                "--file NAME, or download them all with --to DIR"
            )
        file = files[0].name
    typer.echo(job.read_output(file), nl=False)


# -- following and rendering ------------------------------------------------------------
def _follow(job: TransformJob) -> None:
    """A live bar of rows predicted out of the input's rows (unknown until it is read)."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows  {task.fields[phase]}"),
        TimeElapsedColumn(),
        console=err_console,
    ) as progress:
        task = progress.add_task(job.name, total=None, phase=_phase(job.info))
        while True:
            info = job.refresh().info
            progress.update(
                task,
                completed=info.progress.rows_done,
                total=info.progress.rows_total,
                phase=_phase(info),
            )
            if info.status not in ACTIVE:
                return
            time.sleep(POLL_S)


def _print_summary(info: TransformJobOut) -> None:
    took = f" in {_duration(info)}" if info.started_at and info.ended_at else ""
    console.print(f"[bold]{info.name}[/]: {_status(info.status)}{took}", highlight=False)
    if info.failure_reason:
        console.print("Reason: " + info.failure_reason, markup=False, highlight=False)
    console.print(f"Rows: {_rows(info)} predicted", highlight=False)
    if info.status is TransformJobStatus.COMPLETED:
        console.print(f"Output: {_describe_output(info)}", markup=False, highlight=False)


def _phase(info: TransformJobOut) -> str:
    if info.status is TransformJobStatus.IN_PROGRESS and info.started_at is None:
        return "queued"
    return info.status.value


def _model(info: TransformJobOut) -> str:
    return f"{info.model.model_group} v{info.model.model_version}"


def _describe_input(info: TransformJobOut) -> str:
    source = info.input
    if "dataset" in source:
        text = f"dataset {source['dataset']} v{source.get('version')}"
        return text + (f" split {source['split']}" if source.get("split") else "")
    files = source.get("files")
    count = f", {files} file(s)" if files is not None else ""
    return f"{source.get('uri')} ({source.get('content_type')}{count})"


def _describe_output(info: TransformJobOut, *, full: bool = True) -> str:
    """The output dataset, or the output files' location: their URL, else (``full`` False)
    their shorter path in the artifact store."""
    target = info.output
    if "dataset" in target:
        version = target.get("dataset_version")
        return f"dataset {target['dataset']}" + (f" v{version}" if version else "")
    where = target.get("url") if full else None
    return f"{where or target.get('path')} ({target.get('accept')})"


def _rows(info: TransformJobOut) -> str:
    total = info.progress.rows_total
    return f"{info.progress.rows_done}/{'?' if total is None else total}"


def _duration(info: TransformJobOut) -> str:
    if info.started_at is None:
        return "-"
    if info.ended_at is None:
        return "running"
    return f"{(info.ended_at - info.started_at).total_seconds():.2f} s"


def _status(status: TransformJobStatus) -> str:
    return f"[{STATUS_STYLES[status]}]{status.value}[/]"
