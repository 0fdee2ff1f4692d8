"""Staged uploads: files streamed to the server once, then referenced as ``upload:<id>``."""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from pydantic import BaseModel

from opensage.errors import InvalidInput, NotFound, PayloadTooLarge

UPLOAD_PREFIX = "upload:"
_ID = re.compile(r"^[0-9a-f]{32}$")
STALE_AFTER_S = 24 * 3600


class UploadOut(BaseModel):
    """A staged upload, ready to be used as a source."""

    upload_id: str
    filename: str
    size: int
    source: str


class UploadArea:
    """A folder of uploaded files waiting to be ingested; each is written then renamed."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        directory.mkdir(parents=True, exist_ok=True)

    async def receive(self, chunks: AsyncIterator[bytes], filename: str) -> UploadOut:
        """Stream ``chunks`` to a new staged file; refuses bodies over ``max_bytes``."""
        filename = os.path.basename(filename.strip()) or "upload"
        upload_id = uuid.uuid4().hex
        partial = self.directory / f"{upload_id}.partial"
        size = 0
        try:
            with open(partial, "wb") as handle:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise PayloadTooLarge(
                            f"upload is larger than the {self.max_bytes} bytes this server "
                            "accepts (OPENSAGE_MAX_UPLOAD_BYTES)",
                            field="body",
                        )
                    handle.write(chunk)
            if size == 0:
                raise InvalidInput("the uploaded file is empty", field="body")
            (self.directory / f"{upload_id}.json").write_text(
                json.dumps({"filename": filename, "size": size})
            )
            os.replace(partial, self.directory / upload_id)
        finally:
            partial.unlink(missing_ok=True)
        return UploadOut(
            upload_id=upload_id, filename=filename, size=size, source=UPLOAD_PREFIX + upload_id
        )

    def resolve(self, source: str) -> tuple[Path, str]:
        """The staged file and its original name for an ``upload:<id>`` source."""
        upload_id = source.removeprefix(UPLOAD_PREFIX)
        if not _ID.fullmatch(upload_id):
            raise InvalidInput(f"{source!r} is not an upload reference", field="source")
        path = self.directory / upload_id
        meta = self.directory / f"{upload_id}.json"
        if not path.exists() or not meta.exists():
            raise NotFound(
                f"upload {upload_id} does not exist (or was already used)", field="source"
            )
        return path, str(json.loads(meta.read_text())["filename"])

    def discard(self, source: str) -> None:
        """Remove a staged upload once it has been ingested."""
        upload_id = source.removeprefix(UPLOAD_PREFIX)
        if _ID.fullmatch(upload_id):
            (self.directory / upload_id).unlink(missing_ok=True)
            (self.directory / f"{upload_id}.json").unlink(missing_ok=True)

    def sweep(self, max_age_s: float = STALE_AFTER_S) -> int:
        """Delete partial uploads and uploads older than ``max_age_s``; returns how many."""
        removed = 0
        cutoff = time.time() - max_age_s
        for entry in self.directory.iterdir():
            if entry.suffix == ".partial" or entry.stat().st_mtime < cutoff:
                entry.unlink(missing_ok=True)
                removed += 1
        return removed
