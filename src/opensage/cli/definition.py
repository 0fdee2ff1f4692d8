"""The options that say what a training job runs, shared by ``opensage train`` and
``opensage tune`` (whose trials all run one such definition)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from opensage.cli.output import CLIError, parse_pairs

Algorithm = Annotated[str | None, typer.Option(help="A built-in, e.g. xgboost.")]
Script = Annotated[Path | None, typer.Option(help="Your training script (.py).")]
SourceDir = Annotated[Path | None, typer.Option(help="A folder to ship with it.")]
EntryPoint = Annotated[str | None, typer.Option(help="Script inside --source-dir.")]
Channels = Annotated[
    list[str] | None,
    typer.Option("--channel", help="CHANNEL=DATASET[:SPLIT] or CHANNEL=s3://... (repeat)."),
]
Hyperparameters = Annotated[
    list[str] | None, typer.Option("--hp", help="A hyperparameter NAME=VALUE (repeat).")
]
CpuSlots = Annotated[int, typer.Option("--cpu-slots", min=1, help="CPU cores for the job.")]
Metrics = Annotated[
    list[str] | None,
    typer.Option("--metric", help="A metric NAME=REGEX read from the log (repeat)."),
]
Environment = Annotated[
    list[str] | None, typer.Option("--env", help="An environment variable K=V (repeat).")
]


def definition_options(
    *,
    algorithm: str | None,
    script: Path | None,
    source_dir: Path | None,
    entry_point: str | None,
    channel: list[str] | None,
    hp: list[str] | None,
    cpu_slots: int,
    metric: list[str] | None,
    env: list[str] | None,
) -> dict[str, Any]:
    """The SDK's keywords for a training job definition, from the command-line options."""
    if (algorithm is None) == (script is None and source_dir is None):
        raise CLIError("give --algorithm, or --script / --source-dir")
    channels: dict[str, Any] = dict(parse_pairs(channel, "--channel"))
    return {
        "algorithm": algorithm,
        "script": script,
        "source_dir": source_dir,
        "entry_point": entry_point,
        "hyperparameters": dict(parse_pairs(hp, "--hp")),
        "channels": channels,
        "cpu_slots": cpu_slots,
        "metric_definitions": [
            {"name": k, "regex": v} for k, v in parse_pairs(metric, "--metric").items()
        ],
        "environment": parse_pairs(env, "--env", allow_empty_value=True),
    }
