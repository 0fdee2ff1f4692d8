"""A job's log in the artifact store: immutable segments appended while the job runs.

The job writes to a local file; the runner ships each new piece of it as the next
segment (``logs/part-<attempt>-<seq>.log``), so the log survives the machine and can be
read from anywhere. A reader sees the segments in order, then the local tail not yet
shipped — one consistent byte stream across attempts.
"""

from __future__ import annotations

from pathlib import Path

from opensage.storage import ArtifactStore


def log_prefix(job: str) -> str:
    """Where a job's log segments live."""
    return f"training-jobs/{job}/logs"


class LogShipper:
    """Ships the new bytes of one attempt's local log file as segments."""

    def __init__(self, store: ArtifactStore, job: str, attempt: int, local: Path) -> None:
        self.store = store
        self.prefix = f"{log_prefix(job)}/part-{attempt:03d}-"
        self.local = local
        self.shipped = 0
        self.sequence = 0

    def ship(self) -> int:
        """Upload what was written since the last call; how many bytes."""
        if not self.local.exists():
            return 0
        with open(self.local, "rb") as handle:
            handle.seek(self.shipped)
            data = handle.read()
        if not data:
            return 0
        self.sequence += 1
        self.store.put_bytes(data, f"{self.prefix}{self.sequence:06d}.log")
        self.shipped += len(data)
        return len(data)


def read_log(
    store: ArtifactStore, job: str, attempt: int, local: Path | None, offset: int, limit: int
) -> bytes:
    """Up to ``limit`` bytes of the job's whole log from ``offset``."""
    parts = [k for k in store.list(log_prefix(job)) if k.endswith(".log")]
    current = f"part-{attempt:03d}-"
    pieces: list[tuple[str, int]] = [(k, store.size(k)) for k in parts]
    shipped_now = sum(size for key, size in pieces if key.rsplit("/", 1)[-1].startswith(current))
    out = bytearray()
    position = 0
    for key, size in pieces:
        if len(out) >= limit:
            break
        if position + size > offset:
            data = store.read_bytes(key)
            start = max(0, offset - position)
            out += data[start : start + limit - len(out)]
        position += size
    if local is not None and local.exists() and len(out) < limit:
        with open(local, "rb") as handle:
            handle.seek(shipped_now + max(0, offset - position))
            out += handle.read(limit - len(out))
    return bytes(out)
