"""One page of a list: its items and the token for the next page."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

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
