"""The artifact store: files under one root URL (local folder or S3), written atomically."""

from __future__ import annotations

import builtins
import contextlib
import logging
import os
import posixpath
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import fsspec
import pyarrow.fs as pafs

from opensage.errors import Conflict, InvalidInput, NotFound

logger = logging.getLogger(__name__)

_CHUNK = 8 * 1024 * 1024
# Local writes in progress live beside their target as "<key>.partial-<hex>".
_PARTIAL = re.compile(r"\.partial-[0-9a-f]{32}$")


def _check_key(key: str) -> str:
    """Reject keys that could leave the store's root (``..``, absolute paths, empty parts)."""
    parts = key.split("/")
    if (
        not key
        or key.startswith("/")
        or any(p in ("", ".", "..") for p in parts)
        or _PARTIAL.search(key)
    ):
        raise InvalidInput(f"invalid artifact key {key!r}", field="key")
    return key


class ArtifactStore:
    """Immutable files addressed by relative keys under a root URL.

    Every write is atomic: a reader sees either nothing or the whole file under its final
    key. Locally the file is written beside its target and renamed into place; on S3 the
    multipart upload is completed only after the last byte was sent (and aborted on error).
    Keys are never overwritten: callers write to new versioned keys.
    """

    def __init__(self, root_url: str, *, s3_endpoint_url: str | None = None) -> None:
        self.root_url = root_url.rstrip("/")
        protocol, _ = fsspec.core.split_protocol(self.root_url)
        self.is_local = protocol in (None, "file", "local")
        options: dict[str, Any] = {}
        if protocol == "s3":
            options["skip_instance_cache"] = True
            if s3_endpoint_url:
                options["client_kwargs"] = {"endpoint_url": s3_endpoint_url}
                options["config_kwargs"] = {"s3": {"addressing_style": "path"}}
        self.fs: fsspec.AbstractFileSystem
        if self.is_local:
            self.root = str(Path(fsspec.core.strip_protocol(self.root_url)).resolve())
            self.fs = fsspec.filesystem("file")
            os.makedirs(self.root, exist_ok=True)
        else:
            self.fs, self.root = fsspec.core.url_to_fs(self.root_url, **options)
            self.root = self.root.rstrip("/")
        self._s3_endpoint_url = s3_endpoint_url

    # -- addressing -------------------------------------------------------------------
    def path(self, key: str) -> str:
        """The filesystem path of ``key`` (for the store's own ``fs``)."""
        return posixpath.join(self.root, _check_key(key))

    def url(self, key: str) -> str:
        """The full URL of ``key`` as a user would write it."""
        if self.is_local:
            return self.path(key)
        protocol = fsspec.core.split_protocol(self.root_url)[0]
        return f"{protocol}://{self.path(key)}"

    def arrow_filesystem(self) -> pafs.FileSystem:
        """A pyarrow filesystem over the same store, for reading Parquet efficiently."""
        if self.is_local:
            return pafs.LocalFileSystem()
        return pafs.PyFileSystem(pafs.FSSpecHandler(self.fs))

    # -- writing ----------------------------------------------------------------------
    @contextmanager
    def open_write(self, key: str) -> Iterator[IO[bytes]]:
        """Open ``key`` for writing; it appears under its name only if the block succeeds."""
        path = self.path(key)
        if self.fs.exists(path):
            raise Conflict(f"artifact {key!r} already exists and artifacts are immutable")
        if self.is_local:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            temp = f"{path}.partial-{uuid.uuid4().hex}"
            try:
                with open(temp, "wb") as handle:
                    yield handle
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temp, path)
            finally:
                if os.path.exists(temp):
                    os.remove(temp)
            return
        # ``_open``, not ``open``: ``open`` also parks every uncommitted file in the
        # filesystem's shared transaction, which nothing here completes, so they piled up.
        handle = self.fs._open(path, "wb", autocommit=False)
        try:
            yield handle
            handle.close()
            handle.commit()
        except BaseException:
            handle.discard()
            # discard() leaves the file open; closing it later (even when it is garbage
            # collected) would start a new multipart upload that nothing ever finishes.
            handle.closed = True
            raise

    def put_file(self, local_path: str | Path, key: str) -> str:
        """Copy a local file into the store under ``key``; returns the key."""
        with open(local_path, "rb") as source, self.open_write(key) as target:
            shutil.copyfileobj(source, target, _CHUNK)
        return key

    def move_in(self, local_path: Path, key: str) -> str:
        """Store a finished local file (its content already synced to disk) under
        ``key``, and remove it: a local store on the same filesystem links it into place
        (atomic, and never over an existing key), others copy it. Returns the key."""
        if self.is_local:
            path = self.path(key)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            try:
                os.link(local_path, path)
            except FileExistsError:
                raise Conflict(
                    f"artifact {key!r} already exists and artifacts are immutable"
                ) from None
            except OSError:
                pass  # another filesystem, or links not allowed: copy
            else:
                os.remove(local_path)
                return key
        self.put_file(local_path, key)
        os.remove(local_path)
        return key

    def put_bytes(self, data: bytes, key: str) -> str:
        """Store ``data`` under ``key``; returns the key."""
        with self.open_write(key) as target:
            target.write(data)
        return key

    # -- reading ----------------------------------------------------------------------
    def open_read(self, key: str) -> IO[bytes]:
        """Open ``key`` for reading, or raise ``NotFound``."""
        path = self.path(key)
        try:
            return self.fs.open(path, "rb")  # type: ignore[no-any-return]
        except FileNotFoundError as exc:
            raise NotFound(f"artifact {key!r} does not exist") from exc

    def read_bytes(self, key: str) -> bytes:
        """The whole content of ``key``."""
        with self.open_read(key) as handle:
            return handle.read()

    def read_into(self, key: str, target: memoryview) -> int:
        """Read ``key`` into ``target`` (as much as fits); how many bytes were read."""
        with self.open_read(key) as handle:
            done = 0
            while done < len(target):
                count = handle.readinto(target[done:])  # type: ignore[attr-defined]
                if not count:
                    break
                done += count
            return done

    def copy_to(self, key: str, target: Path, *, link: bool = False) -> None:
        """Copy ``key`` to the local file ``target``. With ``link`` (for callers that only
        read ``target``), a local store hard-links it instead where it can: as fast as a
        rename, and, artifacts being immutable, as good as a copy (it even outlives the
        key's deletion)."""
        if link and self.is_local:
            try:
                os.link(self.path(key), target)
                return
            except FileNotFoundError as exc:
                raise NotFound(f"artifact {key!r} does not exist") from exc
            except OSError:
                pass  # another filesystem, or links not allowed: copy
        with self.open_read(key) as source, open(target, "wb") as out:
            shutil.copyfileobj(source, out, _CHUNK)

    def iter_chunks(self, key: str, chunk_size: int = _CHUNK) -> Iterator[bytes]:
        """Stream the content of ``key`` in chunks."""
        with self.open_read(key) as handle:
            while chunk := handle.read(chunk_size):
                yield chunk

    def exists(self, key: str) -> bool:
        """Whether ``key`` is present."""
        return bool(self.fs.exists(self.path(key)))

    def size(self, key: str) -> int:
        """Size of ``key`` in bytes."""
        try:
            return int(self.fs.size(self.path(key)))
        except FileNotFoundError as exc:
            raise NotFound(f"artifact {key!r} does not exist") from exc

    def list(self, prefix: str) -> list[str]:
        """Keys under ``prefix`` (recursively), relative to the store's root."""
        return [key for key, _ in self.list_sizes(prefix)]

    def list_sizes(self, prefix: str) -> builtins.list[tuple[str, int]]:
        """Keys under ``prefix`` (recursively) with their sizes in bytes, by key."""
        base = self.path(prefix)
        if not self.fs.exists(base):
            return []
        found = self.fs.find(base, detail=True)
        root = self.root.rstrip("/") + "/"
        listed = (
            (str(p)[len(root) :] if str(p).startswith(root) else str(p), int(info.get("size") or 0))
            for p, info in found.items()
        )
        return sorted((k, size) for k, size in listed if not _PARTIAL.search(k))

    def stale_files(self, prefix: str, older_than_s: float) -> builtins.list[str]:
        """Paths (relative to the root, partial writes included) under ``prefix`` last
        modified more than ``older_than_s`` seconds ago."""
        base = self.path(prefix)
        if not self.fs.exists(base):
            return []
        cutoff = time.time() - older_than_s
        root = self.root.rstrip("/") + "/"
        stale = []
        for path, info in self.fs.find(base, detail=True).items():
            modified = info.get("mtime") or info.get("LastModified") or info.get("created")
            if hasattr(modified, "timestamp"):
                modified = modified.timestamp()
            if modified is not None and float(modified) < cutoff:
                stale.append(str(path)[len(root) :] if str(path).startswith(root) else str(path))
        return sorted(stale)

    def delete_file(self, relative: str) -> None:
        """Remove one file (a partial write included); a missing file is not an error."""
        path = posixpath.join(self.root, relative)
        if ".." in relative.split("/"):
            raise InvalidInput(f"invalid artifact path {relative!r}", field="key")
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(path)

    def delete_prefix(self, prefix: str) -> None:
        """Remove every key under ``prefix``; removing nothing is not an error."""
        path = self.path(prefix)
        try:
            if self.fs.exists(path):
                self.fs.rm(path, recursive=True)
        except FileNotFoundError:
            pass
        if not self.is_local:
            self.fs.invalidate_cache()
