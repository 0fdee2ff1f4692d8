"""``opensage endpoint create|list|show|update|delete|invoke``: real-time endpoints."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
from rich.table import Table
from rich.text import Text

from opensage.cli.context import client_from
from opensage.cli.output import (
    CLIError,
    console,
    err_console,
    fmt_number,
    parse_pairs,
    print_json,
)
from opensage.client.endpoints import Endpoint
from opensage.serving.schemas import EndpointOut
from opensage.serving.states import EndpointStatus

endpoints_app = typer.Typer(
    help="Deploy model versions behind HTTP endpoints, update, invoke and delete them.",
    no_args_is_help=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
POLL_S = 0.2
TRANSITIONAL = (EndpointStatus.CREATING, EndpointStatus.UPDATING, EndpointStatus.DELETING)
VARIANT_FORM = "NAME=GROUP[:VERSION[:WEIGHT]]"
CSV, JSON, JSONLINES = "text/csv", "application/json", "application/jsonlines"
SUFFIX_TYPES = {".csv": CSV, ".json": JSON, ".jsonl": JSONLINES, ".ndjson": JSONLINES}
STATUS_STYLES = {
    EndpointStatus.IN_SERVICE: "green",
    EndpointStatus.FAILED: "red",
    EndpointStatus.CREATING: "yellow",
    EndpointStatus.UPDATING: "yellow",
    EndpointStatus.DELETING: "yellow",
}

# -- options shared by create and update ------------------------------------------------
Model = Annotated[
    str | None,
    typer.Option(
        "--model", help="GROUP[:VERSION] as the single variant (default: newest approved)."
    ),
]
Variants = Annotated[
    list[str] | None,
    typer.Option(
        "--variant",
        help=f"A variant {VARIANT_FORM} (repeat): traffic splits by WEIGHT (default 1).",
    ),
]
Instances = Annotated[
    int | None, typer.Option("--instances", min=1, max=32, help="Worker processes per variant.")
]
MaxBatchSize = Annotated[
    int | None, typer.Option(min=1, help="Rows per batched predict call (default 256).")
]
MaxBatchWaitMs = Annotated[
    float | None,
    typer.Option(min=0.0, max=1000.0, help="How long a batch waits for more rows (default 0)."),
]
Capture = Annotated[
    float | None,
    typer.Option(help="Capture this percentage (0-100] of requests and responses."),
]
Force = Annotated[bool, typer.Option("--force", help="Deploy versions not approved (yet).")]
Wait = Annotated[
    bool, typer.Option("--wait/--no-wait", help="Show its status until it is InService.")
]


# -- parsing ----------------------------------------------------------------------------
def parse_model(item: str) -> dict[str, Any]:
    """``churn`` or ``churn:3`` → a variant's model (no version: the newest approved)."""
    group, sep, version = item.partition(":")
    if not group or (sep and not version):
        raise CLIError(f"--model expects GROUP[:VERSION], got {item!r}")
    return {"model_group": group, "model_version": _version(version, "--model", item)}


def parse_variant(item: str) -> dict[str, Any]:
    """``blue=churn:3:0.9`` → a variant spec. VERSION may be left empty (``churn::2``) for
    the newest approved one; WEIGHT defaults to 1."""
    name, sep, spec = item.partition("=")
    parts = spec.split(":")
    if not sep or not name or not parts[0] or len(parts) > 3:
        raise CLIError(f"--variant expects {VARIANT_FORM}, got {item!r}")
    variant: dict[str, Any] = {
        "name": name,
        "model_group": parts[0],
        "model_version": _version(parts[1] if len(parts) > 1 else "", "--variant", item),
    }
    if len(parts) > 2 and parts[2]:
        try:
            variant["initial_weight"] = float(parts[2])
        except ValueError:
            raise CLIError(f"--variant {item!r}: WEIGHT must be a number") from None
    return variant


def _version(text: str, option: str, item: str) -> int | None:
    if text in ("", "latest"):
        return None
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise CLIError(f"{option} {item!r}: VERSION must be a number from 1, or 'latest'")
    return number


def variants_from(
    model: str | None, variant: list[str] | None, current: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """The variants the options name; without --model / --variant, ``current`` ones (an
    update that only rescales), or an error when there are none."""
    if model is not None and variant:
        raise CLIError("give --model or --variant, not both")
    if model is not None:
        return [parse_model(model)]
    if variant:
        parsed = [parse_variant(item) for item in variant]
        names = [v["name"] for v in parsed]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise CLIError(f"--variant names must be distinct; repeated: {', '.join(repeated)}")
        return parsed
    if current is None:
        raise CLIError("give --model GROUP[:VERSION] or --variant " + VARIANT_FORM)
    return current


def _with_options(
    variants: list[dict[str, Any]],
    instances: int | None,
    max_batch_size: int | None,
    max_batch_wait_ms: float | None,
) -> list[dict[str, Any]]:
    """Every variant with the per-variant options that were given (others as they are)."""
    given = {
        "instance_count": instances,
        "max_batch_size": max_batch_size,
        "max_batch_wait_ms": max_batch_wait_ms,
    }
    return [{**v, **{k: x for k, x in given.items() if x is not None}} for v in variants]


def _capture(percent: float | None) -> dict[str, Any] | None:
    if percent is None:
        return None
    if not 0 < percent <= 100:
        raise CLIError(f"--capture is a percentage above 0, at most 100; got {percent:g}")
    return {"enabled": True, "sampling_percentage": percent}


# -- commands -----------------------------------------------------------------------------
@endpoints_app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Endpoint name.")],
    model: Model = None,
    variant: Variants = None,
    instances: Instances = None,
    max_batch_size: MaxBatchSize = None,
    max_batch_wait_ms: MaxBatchWaitMs = None,
    capture: Capture = None,
    force: Force = False,
    tag: Annotated[list[str] | None, typer.Option(help="A tag K=V (repeat).")] = None,
    wait: Wait = True,
    json_: JsonFlag = False,
) -> None:
    """Deploy model versions behind a new endpoint (Creating, then InService)."""
    variants = _with_options(
        variants_from(model, variant, None), instances, max_batch_size, max_batch_wait_ms
    )
    endpoint = client_from(ctx).endpoints.create(
        name,
        variants=variants,
        data_capture=_capture(capture),
        force=force,
        tags=parse_pairs(tag, "--tag"),
    )
    _settle(endpoint, wait=wait, json_=json_, verb="Creating")


@endpoints_app.command("update")
def update(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Endpoint name.")],
    model: Model = None,
    variant: Variants = None,
    instances: Instances = None,
    max_batch_size: MaxBatchSize = None,
    max_batch_wait_ms: MaxBatchWaitMs = None,
    capture: Capture = None,
    no_capture: Annotated[
        bool, typer.Option("--no-capture", help="Stop capturing requests.")
    ] = False,
    force: Force = False,
    wait: Wait = True,
    json_: JsonFlag = False,
) -> None:
    """Serve a new config, blue/green: no request in flight fails.

    Options not given keep their current value; without --model / --variant the same
    model versions are redeployed (e.g. to change --instances).
    """
    if no_capture and capture is not None:
        raise CLIError("give --capture or --no-capture, not both")
    endpoint = client_from(ctx).endpoints.get(name)
    current = [v.model_dump() for v in endpoint.info.variants]
    variants = _with_options(
        variants_from(model, variant, current), instances, max_batch_size, max_batch_wait_ms
    )
    data_capture = _capture(capture) or endpoint.info.data_capture.model_dump()
    if no_capture:
        data_capture = {"enabled": False}
    endpoint.update(variants, data_capture=data_capture, force=force, wait=False)
    _settle(endpoint, wait=wait, json_=json_, verb="Updating")


@endpoints_app.command("list")
def list_endpoints(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="Only endpoints in this status.")] = None,
    json_: JsonFlag = False,
) -> None:
    """List endpoints, newest first."""
    endpoints = client_from(ctx).endpoints.list(status=status)
    if json_:
        print_json([e.info for e in endpoints])
        return
    table = Table(title="Endpoints")
    for header in ("name", "status", "variants", "invocation URL", "created"):
        table.add_column(header)
    for endpoint in endpoints:
        info = endpoint.info
        table.add_row(
            info.name,
            _status(info.status),
            Text(
                ", ".join(
                    f"{v.name}: {_model(v.model_group, v.model_version)}" for v in info.variants
                )
            ),
            Text(info.invocation_url),
            f"{info.created_at:%Y-%m-%d %H:%M:%S}",
        )
    console.print(table)


@endpoints_app.command("show")
def show(ctx: typer.Context, name: str, json_: JsonFlag = False) -> None:
    """Show an endpoint: status, where to invoke it, its variants and data capture."""
    client = client_from(ctx)
    info = client.endpoints.get(name).info
    if json_:
        print_json(info)
        return
    _print_endpoint(info, client.url)


@endpoints_app.command("delete")
def delete(
    ctx: typer.Context,
    name: str,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Stop an endpoint's workers (requests in flight finish) and delete it."""
    endpoint = client_from(ctx).endpoints.get(name)  # fail early, before asking
    if not yes and not typer.confirm(f"Delete endpoint {name!r}? It stops answering."):
        raise typer.Exit(1)
    with err_console.status(f"{name}: Deleting…"):
        endpoint.delete()
    console.print(f"Deleted endpoint [bold]{name}[/]")


@endpoints_app.command("invoke")
def invoke(
    ctx: typer.Context,
    name: str,
    data: Annotated[
        str | None, typer.Option("--data", "-d", help="The request body, e.g. '1,2,3'.")
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="A file holding the body ('-': stdin).")
    ] = None,
    content_type: Annotated[
        str | None,
        typer.Option(
            help="text/csv, application/json or application/jsonlines "
            "(default: from the file's suffix, else JSON for a body starting with { or [, "
            "else CSV)."
        ),
    ] = None,
    accept: Annotated[
        str | None, typer.Option(help="The response's content type (default: the request's).")
    ] = None,
    variant: Annotated[
        str | None, typer.Option("--variant", help="Send it to this variant, not by weight.")
    ] = None,
) -> None:
    """Send one request to an endpoint and print the response body."""
    body, kind = _payload(data, file, content_type)
    endpoint = client_from(ctx).endpoints.get(name)
    if endpoint.status not in (EndpointStatus.IN_SERVICE, EndpointStatus.UPDATING):
        raise CLIError(f"endpoint {name!r} is {endpoint.status.value}; it answers when InService")
    answer = endpoint.invoke(body, kind, accept=accept, target_variant=variant)
    text = answer.content.decode("utf-8", errors="replace")
    typer.echo(text, nl=not text.endswith("\n"))


def _payload(data: str | None, file: Path | None, content_type: str | None) -> tuple[bytes, str]:
    """The request body and its content type, from --data or --file."""
    if (data is None) == (file is None):
        raise CLIError("give the request body with --data TEXT or --file PATH")
    if file is not None:
        if str(file) == "-":
            body = sys.stdin.buffer.read()
        else:
            path = file.expanduser()
            if not path.is_file():
                raise CLIError(f"no such file: {file}")
            body = path.read_bytes()
            content_type = content_type or SUFFIX_TYPES.get(path.suffix.lower())
    else:
        assert data is not None
        body = data.encode()
    if content_type is None:
        content_type = JSON if body.lstrip()[:1] in (b"{", b"[") else CSV
    return body, content_type


# -- waiting and rendering --------------------------------------------------------------
def _settle(endpoint: Endpoint, *, wait: bool, json_: bool, verb: str) -> None:
    """Follow the endpoint until it settles (a spinner on stderr), then report it; exit 1
    when it failed or an update was rolled back."""
    if not wait:
        if json_:
            print_json(endpoint.info)
        else:
            console.print(f"{verb} endpoint [bold]{endpoint.name}[/] ({endpoint.status.value})")
        return
    started = time.monotonic()
    with err_console.status(f"{endpoint.name}: {endpoint.status.value}…") as spinner:
        while endpoint.refresh().status in TRANSITIONAL:
            elapsed = time.monotonic() - started
            spinner.update(f"{endpoint.name}: {endpoint.status.value}… {elapsed:.0f} s")
            time.sleep(POLL_S)
    info = endpoint.info
    if json_:
        print_json(info)
    else:
        console.print(
            f"Endpoint [bold]{info.name}[/] is {_status(info.status)} "
            f"after {time.monotonic() - started:.1f} s",
            highlight=False,
        )
        if info.failure_reason:
            console.print("Reason: " + info.failure_reason, markup=False, highlight=False)
        if info.status is EndpointStatus.IN_SERVICE:
            console.print(f"Invoke: {info.invocation_url}", markup=False, highlight=False)
            _print_variants(info)
    if info.status is not EndpointStatus.IN_SERVICE or info.failure_reason:
        raise typer.Exit(1)


def _print_endpoint(info: EndpointOut, server_url: str) -> None:
    console.print(f"[bold]{info.name}[/]: {_status(info.status)}", highlight=False)
    if info.failure_reason:
        console.print("Reason: " + info.failure_reason, markup=False, highlight=False)
    data_plane = _data_plane_url(info, server_url)
    capture = info.data_capture
    details = Table(title="Endpoint", show_header=False)
    details.add_column("field", style="bold")
    details.add_column("value")
    for label, value in (
        ("invocation URL", info.invocation_url),
        ("control-plane path", f"{server_url}/endpoints/{info.name}/invocations (307)"),
        ("metrics", f"{data_plane}/metrics"),
        (
            "data capture",
            f"{fmt_number(capture.sampling_percentage)}% to "
            f"endpoints/{info.name}/data-capture/<variant>/YYYY/MM/DD/HH/"
            if capture.enabled
            else "off",
        ),
        ("tags", ", ".join(f"{k}={v}" for k, v in sorted(info.tags.items())) or "-"),
        ("created", f"{info.created_at:%Y-%m-%d %H:%M:%S}"),
        ("updated", f"{info.updated_at:%Y-%m-%d %H:%M:%S}"),
    ):
        details.add_row(label, Text(value))
    console.print(details)
    _print_variants(info)


def _print_variants(info: EndpointOut) -> None:
    total = sum(v.initial_weight for v in info.variants) or 1.0
    table = Table(title="Variants")
    for header in ("variant", "model", "instances", "weight", "traffic", "batch", "wait ms"):
        table.add_column(header, justify="left" if header in ("variant", "model") else "right")
    for v in info.variants:
        table.add_row(
            Text(v.name),
            Text(_model(v.model_group, v.model_version)),
            str(v.instance_count),
            fmt_number(v.initial_weight),
            f"{100 * v.initial_weight / total:.0f}%",
            str(v.max_batch_size),
            fmt_number(v.max_batch_wait_ms),
        )
    console.print(table)


def _data_plane_url(info: EndpointOut, server_url: str) -> str:
    """The data plane's base URL, as reachable from here (a wildcard host is the server's)."""
    host = urlsplit(info.invocation_url).hostname or "127.0.0.1"
    if host in ("0.0.0.0", "::"):
        host = urlsplit(server_url).hostname or "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{info.data_plane_port}"


def _model(group: str, version: int) -> str:
    return f"{group} v{version}"


def _status(status: EndpointStatus) -> str:
    return f"[{STATUS_STYLES[status]}]{status.value}[/]"
