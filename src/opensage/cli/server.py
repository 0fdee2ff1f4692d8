"""``opensage up``: start the platform's server."""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from pydantic import ValidationError

from opensage.cli.output import CLIError, console
from opensage.config import Settings, is_loopback
from opensage.errors import OpenSageError


def up(
    host: Annotated[str | None, typer.Option(help="Address to listen on [127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [8080].")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Data directory [./.opensage].")] = None,
    database_url: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL [SQLite in the data directory].")
    ] = None,
    artifact_url: Annotated[
        str | None, typer.Option(help="Artifact store: a folder or s3://bucket/prefix.")
    ] = None,
    s3_endpoint_url: Annotated[
        str | None, typer.Option(help="Endpoint of an S3-compatible store.")
    ] = None,
    auth: Annotated[
        str | None,
        typer.Option(help="API keys and roles: auto (on beyond loopback), on or off."),
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Start the OpenSage server (API at /api/v1, OpenAPI at /openapi.json)."""
    overrides: dict[str, Any] = {
        "host": host,
        "port": port,
        "data_dir": data_dir,
        "database_url": database_url,
        "artifact_url": artifact_url,
        "s3_endpoint_url": s3_endpoint_url,
        "auth": auth,
    }
    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise CLIError(f"invalid setting {first['loc'][0]}: {first['msg']}") from None
    if not is_loopback(settings.host) and not settings.auth_enabled:
        raise CLIError(
            f"refusing to listen on {settings.host} with auth off: beyond loopback every "
            "caller needs an API key (use --auth on, or listen on 127.0.0.1)"
        )
    serve(settings, log_level=log_level)


def serve(settings: Settings, *, log_level: str = "info") -> None:
    """Run the server in this process until interrupted."""
    from opensage.platform import open_platform
    from opensage.server.app import create_app

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        platform = open_platform(settings)
    except OpenSageError as exc:
        raise CLIError(f"cannot start: {exc}") from None
    app = create_app(platform=platform)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level=log_level, access_log=False
    )
    server = uvicorn.Server(config)
    listening = _bind(settings.host, settings.port)
    console.print(f"OpenSage {app.version} listening on [bold]{settings.url}[/]")
    console.print(f"  console:   {settings.url}/")
    console.print(f"  API:       {settings.url}/api/v1   (OpenAPI: {settings.url}/openapi.json)")
    console.print(f"  data:      {settings.data_dir}")
    console.print(f"  metadata:  {_redact(settings.resolved_database_url)}")
    console.print(f"  artifacts: {settings.resolved_artifact_url}")
    console.print(f"  auth:      {'on (API keys and roles)' if settings.auth_enabled else 'off'}")
    if platform.bootstrap_key:
        console.print(
            "\n[bold yellow]Created the admin user. Its API key is shown only this once:[/]"
        )
        console.print(f"  {platform.bootstrap_key}", markup=False, highlight=False)
        console.print(f"  sign in with: opensage login --url {settings.url}\n")
    try:
        server.run(sockets=[listening])
    finally:
        platform.close()


def _bind(host: str, port: int) -> socket.socket:
    """Take the listening socket up front, so a busy port is one clear error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio turns Nagle off (TCP_NODELAY) only on sockets whose
    # proto says TCP, and accepted sockets inherit it; with proto 0 every keep-alive
    # response waited ~40 ms for the client's delayed ACK.
    listening = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((host, port))
    except OSError as exc:
        listening.close()
        raise CLIError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    listening.listen(2048)
    listening.set_inheritable(True)
    return listening


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
