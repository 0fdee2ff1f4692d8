"""``opensage dataset ...``: create, list, show, stats, download and delete datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from opensage.cli.context import client_from
from opensage.cli.output import (
    CLIError,
    console,
    fmt_number,
    human_bytes,
    parse_pairs,
    print_json,
    upload_progress,
)
from opensage.datasets.schemas import DatasetVersionOut

app = typer.Typer(help="Create, inspect and delete datasets.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _fractions(values: list[str] | None) -> dict[str, float] | None:
    pairs = parse_pairs(values, "--split")
    if not pairs:
        return None
    try:
        return {k: float(v) for k, v in pairs.items()}
    except ValueError:
        raise CLIError(f"--split fractions must be numbers, got {values}") from None


@app.command("create")
def create(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="A local CSV/Parquet/JSONL file or an s3:// URI.")],
    name: Annotated[str, typer.Option("--name", "-n", help="Dataset name.")],
    label: Annotated[str | None, typer.Option(help="The column to predict.")] = None,
    split: Annotated[
        list[str] | None,
        typer.Option(help="A split and its fraction, e.g. --split train=0.8 (repeat)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the split assignment.")] = 0,
    stratify: Annotated[
        bool | None, typer.Option("--stratify/--no-stratify", help="Keep class balance.")
    ] = None,
    format: Annotated[str | None, typer.Option(help="csv, parquet or jsonl.")] = None,
    delimiter: Annotated[str | None, typer.Option(help="CSV field separator.")] = None,
    column_type: Annotated[
        list[str] | None, typer.Option("--type", help="Force a column type: COLUMN=float.")
    ] = None,
    description: Annotated[str, typer.Option(help="What the data is.")] = "",
    json_: JsonFlag = False,
) -> None:
    """Create a dataset from a file (uploaded with a progress bar) or an s3:// URI."""
    client = client_from(ctx)
    options = {
        "name": name,
        "label": label,
        "splits": _fractions(split),
        "seed": seed,
        "stratify": stratify,
        "format": format,
        "delimiter": delimiter,
        "column_types": parse_pairs(column_type, "--type") or None,
        "description": description,
    }
    if source.startswith("s3://"):
        dataset = client.datasets.create(source, **options)  # type: ignore[arg-type]
    else:
        path = Path(source).expanduser()
        if not path.is_file():
            raise CLIError(f"no such file: {source}")
        with upload_progress(f"uploading {path.name}") as progress:
            dataset = client.datasets.create(path, progress=progress, **options)  # type: ignore[arg-type]
    if json_:
        print_json(dataset.latest)
        return
    console.print(
        f"Created dataset [bold]{dataset.name}[/] version {dataset.version}: "
        f"{dataset.num_rows:,} rows, {len(dataset.columns)} columns"
    )
    _print_version(dataset.latest)


@app.command("list")
def list_(
    ctx: typer.Context,
    name_contains: Annotated[str | None, typer.Option(help="Only names containing this.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many.")] = None,
    json_: JsonFlag = False,
) -> None:
    """List datasets."""
    datasets = client_from(ctx).datasets.list(name_contains=name_contains, limit=limit)
    if json_:
        print_json([d.info for d in datasets])
        return
    table = Table(title="Datasets")
    for column in ("name", "version", "rows", "columns", "label", "size", "created"):
        table.add_column(column, justify="right" if column in ("version", "rows") else "left")
    for dataset in datasets:
        latest = dataset.latest
        table.add_row(
            dataset.name,
            str(dataset.version),
            f"{latest.num_rows:,}",
            str(len(latest.columns)),
            latest.label or "-",
            human_bytes(latest.num_bytes),
            f"{dataset.info.created_at:%Y-%m-%d %H:%M}",
        )
    console.print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    name: str,
    version: Annotated[int | None, typer.Option(min=1, help="Default: the latest.")] = None,
    json_: JsonFlag = False,
) -> None:
    """Show a dataset version: source, schema and splits."""
    client = client_from(ctx)
    dataset = client.datasets.get(name)
    info = dataset.latest
    if version is not None and version != info.version:
        info = next((v for v in dataset.versions() if v.version == version), None)  # type: ignore[assignment]
        if info is None:
            raise CLIError(f"dataset {name!r} has no version {version}")
    if json_:
        print_json(info)
        return
    if dataset.description:
        console.print(dataset.description)
    _print_version(info)


@app.command("versions")
def versions(ctx: typer.Context, name: str, json_: JsonFlag = False) -> None:
    """List the versions of a dataset, newest first."""
    found = client_from(ctx).datasets.get(name).versions()
    if json_:
        print_json(found)
        return
    table = Table(title=f"Versions of {name}")
    for column in ("version", "rows", "source", "label", "splits", "created"):
        table.add_column(column)
    for v in found:
        splits = ", ".join(f"{k}={n:,}" for k, n in v.splits.counts.items()) if v.splits else "-"
        table.add_row(
            str(v.version),
            f"{v.num_rows:,}",
            v.source,
            v.label or "-",
            splits,
            f"{v.created_at:%Y-%m-%d %H:%M}",
        )
    console.print(table)


@app.command("stats")
def stats(
    ctx: typer.Context,
    name: str,
    version: Annotated[int | None, typer.Option(min=1, help="Default: the latest.")] = None,
    json_: JsonFlag = False,
) -> None:
    """Per-column statistics: count, missing, mean, std, min, quantiles, max, distinct, top."""
    statistics = client_from(ctx).datasets.get(name).stats(version)
    if json_:
        print_json(statistics)
        return
    table = Table(title=f"{name} v{statistics.version}: {statistics.num_rows:,} rows")
    headers = ("column", "type", "count", "missing", "mean", "std", "min", "p25", "p50", "p75")
    for header in (*headers, "max", "distinct", "top value"):
        table.add_column(header, justify="left" if header in ("column", "type") else "right")
    for column in statistics.columns:
        quantiles = column.quantiles or {}
        top = column.top_values[0] if column.top_values else None
        table.add_row(
            column.name,
            column.type,
            f"{column.count:,}",
            f"{column.missing:,}",
            fmt_number(column.mean),
            fmt_number(column.std),
            fmt_number(column.min),
            fmt_number(quantiles.get("0.25")),
            fmt_number(quantiles.get("0.5")),
            fmt_number(quantiles.get("0.75")),
            fmt_number(column.max),
            f"{column.distinct:,}",
            f"{top.value} ({top.count:,})" if top else "-",
        )
    console.print(table)


@app.command("download")
def download(
    ctx: typer.Context,
    name: str,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the Parquet file.")
    ],
    split: Annotated[str | None, typer.Option(help="Only this split.")] = None,
    version: Annotated[int | None, typer.Option(min=1, help="Default: the latest.")] = None,
) -> None:
    """Download a version (or one split) as a Parquet file."""
    table = client_from(ctx).datasets.get(name).to_arrow(split=split, version=version)
    import pyarrow.parquet as pq

    pq.write_table(table, output)
    console.print(f"Wrote {table.num_rows:,} rows to {output}")


@app.command("delete")
def delete(
    ctx: typer.Context,
    name: str,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a dataset with all its versions and files."""
    client = client_from(ctx)
    client.datasets.get(name)  # fail early, before asking, if it does not exist
    if not yes and not typer.confirm(f"Delete dataset {name!r} and all its versions?"):
        raise typer.Exit(1)
    client.datasets.delete(name)
    console.print(f"Deleted dataset [bold]{name}[/]")


def _print_version(info: DatasetVersionOut) -> None:
    console.print(
        f"[bold]{info.dataset}[/] v{info.version}  {info.num_rows:,} rows  "
        f"{human_bytes(info.num_bytes)}  label: {info.label or '-'}  source: {info.source}"
    )
    schema = Table(title="Schema")
    for header in ("column", "type", "arrow type", "nullable"):
        schema.add_column(header)
    for col in info.columns:
        schema.add_row(col.name, col.type, col.arrow_type, "yes" if col.nullable else "no")
    console.print(schema)
    if info.splits:
        counts = ", ".join(f"{k}: {n:,}" for k, n in info.splits.counts.items())
        kind = "stratified" if info.splits.stratified else "random"
        console.print(f"Splits ({kind}, seed {info.splits.seed}): {counts}")
