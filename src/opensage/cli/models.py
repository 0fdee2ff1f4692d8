"""``opensage model register|list|versions|show|approve|reject|delete``: the model registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from opensage.cli.context import client_from
from opensage.cli.output import CLIError, console, fmt_number, print_json, upload_progress
from opensage.client.datasets import upload_file
from opensage.client.registry import ModelVersion
from opensage.names import validate_name
from opensage.registry.schemas import ApprovalStatus, ModelVersionOut

models_app = typer.Typer(
    help="Register model versions, approve or reject them, and inspect the registry.",
    no_args_is_help=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Group = Annotated[str, typer.Argument(help="The model group.")]
Version = Annotated[int, typer.Argument(min=1, help="The version number.")]
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")
KEY_METRICS = 3
HELD_OUT = ("validation", "test")
APPROVAL_STYLES = {
    ApprovalStatus.APPROVED: "green",
    ApprovalStatus.REJECTED: "red",
    ApprovalStatus.PENDING: "yellow",
}


@models_app.command("register")
def register(
    ctx: typer.Context,
    group: Group,
    training_job: Annotated[
        str | None, typer.Option("--training-job", help="A completed training job's model.")
    ] = None,
    source: Annotated[
        Path | None,
        typer.Option(help="A .tar.gz of model files (a built-in's, or code/inference.py)."),
    ] = None,
    description: Annotated[str, typer.Option(help="What this version is.")] = "",
    approve: Annotated[
        bool, typer.Option("--approve", help="Register it Approved (deployable at once).")
    ] = False,
    json_: JsonFlag = False,
) -> None:
    """Register a new version of GROUP (created on first use) from a training job or files."""
    if (training_job is None) == (source is None):
        raise CLIError("give --training-job JOB or --source PATH.tar.gz")
    validate_name(group, field="model_group")  # before a long upload, not after
    client = client_from(ctx)
    options: dict[str, Any] = {
        "description": description,
        "approval_status": (ApprovalStatus.APPROVED if approve else ApprovalStatus.PENDING).value,
    }
    if source is not None:
        path = source.expanduser()
        if not path.is_file():
            raise CLIError(f"no such file: {source}")
        if not path.name.endswith(ARCHIVE_SUFFIXES):
            raise CLIError(f"--source must be a .tar.gz archive of model files, got {source}")
        with upload_progress(f"uploading {path.name}") as progress:
            options["source"] = upload_file(client.session, path, progress)
    else:
        options["training_job"] = training_job
    version = client.models.register(group, **options)
    if json_:
        print_json(version.info)
        return
    info = version.info
    console.print(
        f"Registered [bold]{info.model_group}[/] version {info.version} "
        f"({_approval(info.approval_status)})",
        highlight=False,
    )
    _print_metrics(info)


@models_app.command("list")
def list_groups(
    ctx: typer.Context,
    name_contains: Annotated[str | None, typer.Option(help="Only names containing this.")] = None,
    json_: JsonFlag = False,
) -> None:
    """List model groups, newest first."""
    groups = client_from(ctx).models.groups(name_contains=name_contains)
    if json_:
        print_json(groups)
        return
    table = Table(title="Model groups")
    for header in ("name", "latest version", "description", "created"):
        table.add_column(header, justify="right" if header == "latest version" else "left")
    for group in groups:
        table.add_row(
            group.name,
            fmt_number(group.latest_version),
            Text(group.description or "-"),
            f"{group.created_at:%Y-%m-%d %H:%M:%S}",
        )
    console.print(table)


@models_app.command("versions")
def versions(ctx: typer.Context, group: Group, json_: JsonFlag = False) -> None:
    """A group's versions, newest first: approval, algorithm, key metrics, training job."""
    found = [v.info for v in client_from(ctx).models.versions(group)]
    if json_:
        print_json(found)
        return
    table = Table(title=f"Versions of {group}")
    for header in ("version", "approval", "algorithm", "metrics", "training job", "created"):
        table.add_column(header, justify="right" if header == "version" else "left")
    for info in found:
        table.add_row(
            str(info.version),
            _approval(info.approval_status),
            info.algorithm or "-",
            Text(_key_metrics(info)),
            info.training_job or "-",
            f"{info.created_at:%Y-%m-%d %H:%M:%S}",
        )
    console.print(table)


@models_app.command("show")
def show(
    ctx: typer.Context,
    group: Group,
    version: Annotated[int | None, typer.Option(min=1, help="Default: the newest.")] = None,
    json_: JsonFlag = False,
) -> None:
    """Show a version: approval, algorithm, features, metrics, lineage and its files."""
    info = client_from(ctx).models.get(group, version).info
    if json_:
        print_json(info)
        return
    console.print(
        f"[bold]{info.model_group}[/] version {info.version}: {_approval(info.approval_status)}",
        highlight=False,
    )
    details = Table(title="Model", show_header=False)
    details.add_column("field", style="bold")
    details.add_column("value")
    for label, value in (
        ("algorithm", info.algorithm or "-"),
        ("problem type", info.problem_type or "-"),
        ("features", ", ".join(info.feature_names) or "-"),
        ("training job", info.training_job or "-"),
        ("description", info.description or "-"),
        ("files", info.artifact_url),
        ("created", f"{info.created_at:%Y-%m-%d %H:%M:%S}"),
    ):
        details.add_row(label, Text(value))
    console.print(details)
    _print_metrics(info)
    if info.lineage:
        lineage = Table(title="Lineage", show_header=False)
        lineage.add_column("field", style="bold")
        lineage.add_column("value")
        for key, value in info.lineage.items():
            shown = value if isinstance(value, str) else json.dumps(value, default=str)
            lineage.add_row(Text(key), Text(shown if value is not None else "-"))
        console.print(lineage)


@models_app.command("approve")
def approve(
    ctx: typer.Context,
    group: Group,
    version: Version,
    description: Annotated[str | None, typer.Option(help="Why (replaces it).")] = None,
) -> None:
    """Approve a version: endpoints may then serve it."""
    _print_approval(client_from(ctx).models.get(group, version).approve(description))


@models_app.command("reject")
def reject(
    ctx: typer.Context,
    group: Group,
    version: Version,
    description: Annotated[str | None, typer.Option(help="Why (replaces it).")] = None,
) -> None:
    """Reject a version (one an endpoint serves cannot be rejected)."""
    _print_approval(client_from(ctx).models.get(group, version).reject(description))


@models_app.command("delete")
def delete(
    ctx: typer.Context,
    group: Group,
    version: Annotated[
        int | None, typer.Option(min=1, help="Only this version (default: the whole group).")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a version, or a whole group with all its versions (none may be deployed)."""
    client = client_from(ctx)
    if version is None:
        client.models.versions(group)  # fail early, before asking, if it does not exist
        if not yes and not typer.confirm(f"Delete model group {group!r} and all its versions?"):
            raise typer.Exit(1)
        client.models.delete_group(group)
        console.print(f"Deleted model group [bold]{group}[/]")
        return
    found = client.models.get(group, version)
    if not yes and not typer.confirm(f"Delete {group} version {version}?"):
        raise typer.Exit(1)
    found.delete()
    console.print(f"Deleted [bold]{group}[/] version {version}")


# -- rendering -------------------------------------------------------------------------
def _approval(status: ApprovalStatus) -> str:
    return f"[{APPROVAL_STYLES[status]}]{status.value}[/]"


def _key_metrics(info: ModelVersionOut) -> str:
    """The first few metrics, those on held-out data first (validation, then test)."""
    shown = sorted(info.metrics.items(), key=lambda kv: (_data_rank(kv[0]), kv[0]))
    shown = shown[:KEY_METRICS]
    return ", ".join(f"{k}={fmt_number(v)}" for k, v in shown) or "-"


def _data_rank(metric: str) -> int:
    channel = metric.partition(":")[0]
    return HELD_OUT.index(channel) if channel in HELD_OUT else len(HELD_OUT)


def _print_metrics(info: ModelVersionOut) -> None:
    for key, value in sorted(info.metrics.items()):
        console.print(f"  {key} = {fmt_number(value)}", markup=False, highlight=False)


def _print_approval(version: ModelVersion) -> None:
    info = version.info
    console.print(
        f"[bold]{info.model_group}[/] version {info.version}: {_approval(info.approval_status)}",
        highlight=False,
    )
