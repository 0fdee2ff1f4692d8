"""The CLI's shared state: which server to talk to."""

from __future__ import annotations

import typer

from opensage.client import Client
from opensage.client.http import default_url


def server_url(ctx: typer.Context) -> str:
    """The server URL chosen by ``--url`` / ``OPENSAGE_URL`` (or the local default)."""
    root = ctx.find_root()
    url = (root.obj or {}).get("url")
    return str(url or default_url()).rstrip("/")


def client_from(ctx: typer.Context) -> Client:
    """The SDK client for the server chosen by ``--url`` / ``OPENSAGE_URL``."""
    root = ctx.find_root()
    root.obj = root.obj or {}
    client: Client | None = root.obj.get("client")
    if client is None:
        client = Client(server_url(ctx))
        root.obj["client"] = client
        root.call_on_close(client.close)
    return client
