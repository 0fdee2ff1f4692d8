"""``opensage up``: start the platform's server."""

from __future__ import annotations

import ipaddress
import logging
import socket
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from pydantic import ValidationError

from opensage.cli.output import CLIError, console
from opensage.config import Settings


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(
                ipaddress.ip_address(info[4][0]).is_loopback
                for info in socket.getaddrinfo(host, None)
            )
        except OSError:
            return False


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
    }
    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise CLIError(f"invalid setting {first['loc'][0]}: {first['msg']}") from None
    if not is_loopback(settings.host):
        raise CLIError(
            f"refusing to listen on {settings.host}: this version has no authentication yet, "
            "so the server only listens on loopback (127.0.0.1)"
        )
    serve(settings, log_level=log_level)


def serve(settings: Settings, *, log_level: str = "info") -> None:
    """Run the server in this process until interrupted."""
    from opensage.server.app import create_app

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = create_app(settings)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level=log_level, access_log=False
    )
    server = uvicorn.Server(config)
    listening = _bind(settings.host, settings.port)
    console.print(f"OpenSage {app.version} listening on [bold]{settings.url}[/]")
    console.print(f"  API:       {settings.url}/api/v1   (OpenAPI: {settings.url}/openapi.json)")
    console.print(f"  data:      {settings.data_dir}")
    console.print(f"  metadata:  {_redact(settings.resolved_database_url)}")
    console.print(f"  artifacts: {settings.resolved_artifact_url}")
    server.run(sockets=[listening])


def _bind(host: str, port: int) -> socket.socket:
    """Take the listening socket up front, so a busy port is one clear error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
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
