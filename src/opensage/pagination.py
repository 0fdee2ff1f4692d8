"""One page of a list: its items and the token for the next page."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel
from sqlalchemy import Select

from opensage.errors import InvalidInput

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


class Page(BaseModel, Generic[T]):
    """A page of results; pass ``next_page_token`` back to get the following page."""

    items: list[T]
    next_page_token: str | None = None


def encode_token(position: dict[str, Any]) -> str:
    """An opaque token for the keyset position after the last item of a page."""
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


def decode_token(token: str | None) -> dict[str, Any] | None:
    """The keyset position encoded in ``token``, or ``None`` for the first page."""
    if not token:
        return None
    try:
        position = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        position = None
    if not isinstance(position, dict):
        raise InvalidInput("page_token is not a token this server issued", field="page_token")
    return position


def check_limit(limit: int) -> int:
    """Validate a page size."""
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    return limit


def contains_pattern(text: str) -> str:
    """A SQL ``LIKE`` pattern (escape character ``\\``) matching values that contain ``text``."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class _Timeline(Protocol):
    """A table listed newest first: it has ``created_at`` and a string ``id``."""

    created_at: Any
    id: Any


def newest_first(
    query: Select[Any], table: type[_Timeline], limit: int, page_token: str | None
) -> Select[Any]:
    """``query`` ordered newest first (``created_at``, then ``id``), from the position in
    ``page_token``, one row longer than the page (to know whether another follows)."""
    check_limit(limit)
    after = decode_token(page_token)
    query = query.order_by(table.created_at.desc(), table.id.desc()).limit(limit + 1)
    if after is None:
        return query
    try:
        moment = datetime.fromisoformat(str(after.get("created_at")))
    except ValueError:
        raise InvalidInput(
            "page_token is not a token this server issued", field="page_token"
        ) from None
    return query.where(
        (table.created_at < moment)
        | ((table.created_at == moment) & (table.id < str(after.get("id"))))
    )


def newest_first_page(rows: Sequence[Any], limit: int, out: Callable[[Any], T]) -> Page[T]:
    """The page of ``rows`` (fetched by :func:`newest_first`) and its next-page token."""
    token = None
    if len(rows) > limit:
        last = rows[limit - 1]
        token = encode_token({"created_at": last.created_at.isoformat(), "id": last.id})
    return Page[T](items=[out(row) for row in rows[:limit]], next_page_token=token)
