"""CLI for signing in, users, API keys and the audit log."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from opensage.auth.schemas import ApiKeyOut
from opensage.cli.context import client_from, server_url
from opensage.cli.output import CLIError, console, print_json
from opensage.client import Client
from opensage.client.credentials import forget_api_key, save_api_key

users_app = typer.Typer(help="Manage users and their roles (admins).", no_args_is_help=True)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
audit_app = typer.Typer(help="Read the audit log (admins).", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def login(
    ctx: typer.Context,
    key: Annotated[
        str | None, typer.Option(help="The API key; asked for (hidden) when omitted.")
    ] = None,
) -> None:
    """Check an API key against the server and save it for this URL (file mode 0600)."""
    url = server_url(ctx)
    secret = key or typer.prompt("API key", hide_input=True)
    with Client(url, api_key=secret) as client:
        me = client.whoami()
    path = save_api_key(url, secret)
    console.print(
        f"Signed in to {url} as [bold]{me.name}[/] ({me.role.value}); key saved in {path}"
    )


def logout(ctx: typer.Context) -> None:
    """Forget the saved API key for this URL."""
    url = server_url(ctx)
    if forget_api_key(url):
        console.print(f"Forgot the key for {url}")
    else:
        console.print(f"No key was saved for {url}")


def whoami(ctx: typer.Context, json_: JsonFlag = False) -> None:
    """Show who the server thinks you are."""
    me = client_from(ctx).whoami()
    if json_:
        print_json(me)
        return
    state = "on" if me.auth_enabled else "off (loopback)"
    console.print(f"{me.name} ({me.role.value}); auth {state}")


@users_app.command("create")
def create_user(
    ctx: typer.Context,
    name: str,
    role: Annotated[str, typer.Option(help="admin, scientist, labeler or viewer.")],
    json_: JsonFlag = False,
) -> None:
    """Create a user."""
    user = client_from(ctx).users.create(name, role)
    if json_:
        print_json(user)
        return
    console.print(f"Created user [bold]{user.name}[/] ({user.role.value})")


@users_app.command("list")
def list_users(ctx: typer.Context, json_: JsonFlag = False) -> None:
    """List users."""
    users = client_from(ctx).users.list()
    if json_:
        print_json(users)
        return
    table = Table(title="Users")
    for header in ("name", "role", "disabled", "created"):
        table.add_column(header)
    for user in users:
        table.add_row(
            user.name,
            user.role.value,
            "yes" if user.disabled else "no",
            f"{user.created_at:%Y-%m-%d %H:%M}",
        )
    console.print(table)


@users_app.command("show")
def show_user(ctx: typer.Context, name: str, json_: JsonFlag = False) -> None:
    """Show a user and their keys."""
    client = client_from(ctx)
    user = client.users.get(name)
    keys = client.keys.list(user=name)
    if json_:
        print_json({"user": user, "keys": keys})
        return
    console.print(f"[bold]{user.name}[/] ({user.role.value}){' disabled' if user.disabled else ''}")
    _print_keys(keys)


@users_app.command("update")
def update_user(
    ctx: typer.Context,
    name: str,
    role: Annotated[str | None, typer.Option(help="The new role.")] = None,
    disabled: Annotated[
        bool | None, typer.Option("--disable/--enable", help="Disable or enable the user.")
    ] = None,
    json_: JsonFlag = False,
) -> None:
    """Change a user's role, or disable / enable them."""
    if role is None and disabled is None:
        raise CLIError("give --role, --disable or --enable")
    user = client_from(ctx).users.update(name, role=role, disabled=disabled)
    if json_:
        print_json(user)
        return
    console.print(f"{user.name}: {user.role.value}{', disabled' if user.disabled else ''}")


@keys_app.command("create")
def create_key(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="What the key is for.")] = "",
    expires_in_days: Annotated[
        float | None, typer.Option(min=0.001, help="Days until it stops working.")
    ] = None,
    user: Annotated[str | None, typer.Option(help="Another user's key (admins).")] = None,
    json_: JsonFlag = False,
) -> None:
    """Create an API key; the key is printed once and never again."""
    created = client_from(ctx).keys.create(name=name, expires_in_days=expires_in_days, user=user)
    if json_:
        print_json(created)
        return
    console.print(
        f"Created key {created.key_id} for {created.user}. Copy it now, it is not shown again:"
    )
    console.print(f"  {created.key}", markup=False, highlight=False)


@keys_app.command("list")
def list_keys(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option(help="Another user's keys (admins).")] = None,
    json_: JsonFlag = False,
) -> None:
    """List API keys (never their secrets)."""
    keys = client_from(ctx).keys.list(user=user)
    if json_:
        print_json(keys)
        return
    _print_keys(keys)


@keys_app.command("revoke")
def revoke_key(ctx: typer.Context, key_id: str) -> None:
    """Revoke an API key; it stops working at once."""
    revoked = client_from(ctx).keys.revoke(key_id)
    console.print(f"Revoked key {revoked.key_id} ({revoked.prefix}…) of {revoked.user}")


@audit_app.command("list")
def list_audit(
    ctx: typer.Context,
    actor: Annotated[str | None, typer.Option(help="Only this user's actions.")] = None,
    action: Annotated[str | None, typer.Option(help="e.g. create_dataset.")] = None,
    resource_type: Annotated[str | None, typer.Option(help="e.g. datasets.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many entries.")] = 50,
    json_: JsonFlag = False,
) -> None:
    """Show the newest audit-log entries."""
    events = client_from(ctx).audit.list(
        actor=actor, action=action, resource_type=resource_type, limit=limit
    )
    if json_:
        print_json(events)
        return
    table = Table(title="Audit log")
    for header in ("when", "actor", "action", "resource", "status"):
        table.add_column(header)
    for event in events:
        table.add_row(
            f"{event.at:%Y-%m-%d %H:%M:%S}",
            event.actor,
            event.action,
            f"{event.resource_type}/{event.resource_name}",
            str(event.status),
        )
    console.print(table)


def _print_keys(keys: list[ApiKeyOut]) -> None:
    table = Table(title="API keys")
    for header in ("key id", "prefix", "name", "created", "expires", "last used", "state"):
        table.add_column(header)
    for key in keys:
        table.add_row(
            key.key_id,
            key.prefix + "…",
            key.name or "-",
            f"{key.created_at:%Y-%m-%d %H:%M}",
            f"{key.expires_at:%Y-%m-%d %H:%M}" if key.expires_at else "never",
            f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "-",
            "revoked" if key.revoked_at else "active",
        )
    console.print(table)
