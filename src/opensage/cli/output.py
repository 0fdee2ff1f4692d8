"""How the CLI shows things: Rich tables for people, JSON for scripts, errors in red."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

console = Console()
err_console = Console(stderr=True)


class CLIError(Exception):
    """A failure the CLI reports as one red line on stderr, with exit status 1."""


def fail(message: str) -> typer.Exit:
    """Print ``message`` as an error and return the exit to raise."""
    err_console.print("[bold red]Error:[/]", end=" ")
    err_console.print(message, markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(1)


def parse_pairs(
    values: list[str] | None, option: str, *, allow_empty_value: bool = False
) -> dict[str, str]:
    """``["a=1", "b=2"]`` → ``{"a": "1", "b": "2"}``; a malformed item is a CLI error."""
    parsed: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key or (not value and not allow_empty_value):
            raise CLIError(f"{option} expects NAME=VALUE, got {item!r}")
        parsed[key] = value
    return parsed


def print_json(value: Any) -> None:
    """Write ``value`` (pydantic models included) as JSON on stdout."""
    typer.echo(json.dumps(_plain(value), indent=2, default=str))


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@contextmanager
def upload_progress(description: str) -> Iterator[Any]:
    """A byte progress bar; yields the ``(sent, total)`` callback to feed it."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    ) as progress:
        task = progress.add_task(description, total=None)

        def advance(sent: int, total: int) -> None:
            progress.update(task, completed=sent, total=total)

        yield advance


def human_bytes(size: int) -> str:
    """1536 → '1.5 KiB'."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover


def fmt_number(value: Any) -> str:
    """A compact rendering of a statistic (None as a dash)."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
