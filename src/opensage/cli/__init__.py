"""The ``opensage`` command line, built on the SDK."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from opensage._version import __version__
from opensage.cli import (
    auth,
    datasets,
    endpoints,
    models,
    monitoring,
    training,
    transform,
    tuning,
)
from opensage.cli.output import CLIError, fail
from opensage.cli.server import up
from opensage.errors import OpenSageError


class _Commands(TyperGroup):
    """Turns platform errors into one red line and exit status 1, never a traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (OpenSageError, CLIError) as exc:
            raise fail(str(exc)) from None


app = typer.Typer(
    name="opensage",
    cls=_Commands,
    help="OpenSage: a self-hosted machine-learning platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("up")(up)
app.command("login")(auth.login)
app.command("logout")(auth.logout)
app.command("whoami")(auth.whoami)
app.command("train")(training.train)
app.command("tune")(tuning.tune)
app.add_typer(datasets.app, name="dataset")
app.add_typer(training.jobs_app, name="job")
app.add_typer(tuning.tuning_app, name="tuning")
app.add_typer(models.models_app, name="model")
app.add_typer(endpoints.endpoints_app, name="endpoint")
app.add_typer(transform.transform_app, name="transform")
app.add_typer(monitoring.monitor_app, name="monitor")
app.add_typer(auth.users_app, name="user")
app.add_typer(auth.keys_app, name="key")
app.add_typer(auth.audit_app, name="audit")


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"opensage {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option(envvar="OPENSAGE_URL", help="Server URL [http://127.0.0.1:8080]."),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    ctx.obj = {"url": url}


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
