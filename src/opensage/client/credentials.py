"""Where the SDK and CLI find an API key: argument, ``OPENSAGE_API_KEY``, or the login file."""

from __future__ import annotations

import json
import os
from pathlib import Path


def config_dir() -> Path:
    """``OPENSAGE_CONFIG_DIR``, else ``~/.config/opensage``."""
    configured = os.environ.get("OPENSAGE_CONFIG_DIR")
    return Path(configured) if configured else Path.home() / ".config" / "opensage"


def credentials_file() -> Path:
    """The file ``opensage login`` writes (mode 0600): server URL → API key."""
    return config_dir() / "credentials.json"


def _read() -> dict[str, str]:
    path = credentials_file()
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def find_api_key(url: str, explicit: str | None = None) -> str | None:
    """The key to send to ``url``: the explicit one, the environment's, or the saved one."""
    return explicit or os.environ.get("OPENSAGE_API_KEY") or _read().get(url.rstrip("/"))


def save_api_key(url: str, key: str) -> Path:
    """Remember ``key`` for ``url`` in the credentials file, readable by the owner only."""
    stored = _read()
    stored[url.rstrip("/")] = key
    return _write(stored)


def forget_api_key(url: str) -> bool:
    """Drop the saved key for ``url``; whether there was one."""
    stored = _read()
    if stored.pop(url.rstrip("/"), None) is None:
        return False
    _write(stored)
    return True


def _write(stored: dict[str, str]) -> Path:
    path = credentials_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = path.with_suffix(".tmp")
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(stored, handle, indent=2)
    os.chmod(temp, 0o600)
    os.replace(temp, path)
    return path
