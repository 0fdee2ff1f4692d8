"""API key material: generation and keyed hashing with the server's secret."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

KEY_PREFIX = "osk_"
MIN_KEY_LENGTH = 32


def generate_key() -> str:
    """A new random API key (``osk_`` + 43 URL-safe characters, 256 bits)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def digest(secret: bytes, key: str) -> str:
    """The keyed hash stored for ``key``: HMAC-SHA256 under the server secret.

    Without the server secret the database alone gives no way to test guesses.
    """
    return hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()


def same_digest(a: str, b: str) -> bool:
    """Compare two digests in constant time."""
    return hmac.compare_digest(a.encode(), b.encode())


def display_prefix(key: str) -> str:
    """The first characters of a key, safe to show."""
    return key[: len(KEY_PREFIX) + 6]


def load_or_create_secret(path: Path, configured: str | None) -> bytes:
    """The server secret: as configured, else read from (or written once to) ``path``."""
    if configured:
        return configured.encode()
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_bytes(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(value)
    return value
