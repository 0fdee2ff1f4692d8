"""Staged uploads: files streamed to the server once, then referenced as ``upload:<id>``."""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from pydantic import BaseModel, Field

from opensage.errors import InvalidInput, NotFound, PayloadTooLarge

UPLOAD_PREFIX = "upload:"
_ID = re.compile(r"^[0-9a-f]{32}$")
STALE_AFTER_S = 24 * 3600


def server_file(path: Path, field: str) -> Path:
    """``path``, an absolute path to a regular file of the server's machine; else a clear
    ``InvalidInput`` for ``field`` (also for a name too long or a folder it may not read,
    which ``Path.is_file`` raises rather than answers)."""
    if not path.is_absolute():
        raise InvalidInput(f"{str(path)!r} is not an absolute path", field=field)
    try:
        found = path.is_file()
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidInput(f"cannot read {str(path)[:300]!r}: {reason}", field=field) from None
    if not found:
        raise InvalidInput(f"no such file on the server's machine: {path}", field=field)
    return path


class UploadLink(BaseModel):
    """A file already on the server's machine, to stage in place of streaming a copy: its
    absolute path, and its size and modification time as the client sees them (so that a
    server with another view of that path, in a container say, refuses it)."""

    path: str = Field(min_length=1, max_length=4096)
    size: int = Field(ge=0)
    mtime_ns: int = Field(ge=0)
    filename: str | None = Field(default=None, min_length=1, max_length=255)


class UploadOut(BaseModel):
    """A staged upload, ready to be used as a source."""

    upload_id: str
    filename: str
    size: int
    source: str


class UploadArea:
    """A folder of uploaded files waiting to be ingested; each is written then renamed."""

    def __init__(self, directory: Path, max_bytes: int, *, allow_links: bool = True) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.allow_links = allow_links
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

    def link(self, request: UploadLink) -> UploadOut:
        """Stage a file of the server's own machine by hard-linking it into the upload
        area: no copy, and the staged file stays whole if the original name is removed.

        Refused (nothing staged) when this server may not read its own files (auth on),
        when the path is not an absolute path to a regular file, when the file's size or
        modification time is not what the client saw, and when it cannot be linked (on
        another filesystem, say): the client then streams the file instead.
        """
        if not self.allow_links:
            raise InvalidInput(
                "this server does not read files on its own machine (auth is on); "
                "stream the file to POST /api/v1/uploads",
                field="path",
            )
        path = server_file(Path(request.path), "path")
        upload_id = uuid.uuid4().hex
        staged = self.directory / upload_id
        try:
            os.link(path, staged, follow_symlinks=True)
        except OSError as exc:
            raise InvalidInput(
                f"cannot link {path} into the upload area: {exc.strerror or exc}",
                field="path",
            ) from None
        seen = staged.stat()  # the linked file itself: no race with a rename of ``path``
        if (seen.st_size, seen.st_mtime_ns) != (request.size, request.mtime_ns):
            staged.unlink()
            raise InvalidInput(
                f"{path} on the server's machine is not the file the client described "
                f"(size {seen.st_size}, modified {seen.st_mtime_ns} ns; expected "
                f"{request.size}, {request.mtime_ns})",
                field="path",
            )
        filename = os.path.basename((request.filename or path.name).strip()) or "upload"
        (self.directory / f"{upload_id}.json").write_text(
            json.dumps({"filename": filename, "size": seen.st_size, "linked_from": str(path)})
        )
        return UploadOut(
            upload_id=upload_id,
            filename=filename,
            size=seen.st_size,
            source=UPLOAD_PREFIX + upload_id,
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
        """Delete partial uploads and uploads older than ``max_age_s``; returns how many.

        An upload's age is that of its description (``<id>.json``), written when it was
        staged: a linked file keeps the modification time of its original."""
        removed = 0
        cutoff = time.time() - max_age_s
        for entry in self.directory.iterdir():
            described = entry.with_name(f"{entry.name}.json")
            staged_at = described if entry.suffix == "" and described.exists() else entry
            if entry.suffix == ".partial" or staged_at.stat().st_mtime < cutoff:
                entry.unlink(missing_ok=True)
                removed += 1
        return removed
