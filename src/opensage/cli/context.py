"""The CLI's shared state: which server to talk to."""

from __future__ import annotations

import typer

from opensage.client import Client


def client_from(ctx: typer.Context) -> Client:
    """The SDK client for the server chosen by ``--url`` / ``OPENSAGE_URL``."""
    root = ctx.find_root()
    root.obj = root.obj or {}
    client: Client | None = root.obj.get("client")
    if client is None:
        client = Client(root.obj.get("url"))
        root.obj["client"] = client
        root.call_on_close(client.close)
    return client
