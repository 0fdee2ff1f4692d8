"""A job's input files (an s3:// object or prefix, or a local path) and the layout they give.

Used twice: at submit, to reject input the model cannot take while the caller waits (the
first record is enough to know the columns), and by the runner, which copies s3:// files
next to the workers and reads local ones in place.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fsspec
import pyarrow.parquet as pq

from opensage.datasets.ingest import logical_type
from opensage.errors import InvalidInput
from opensage.transform.layout import (
    PREVIEW_BYTES,
    FeatureLayout,
    csv_layout,
    csv_width,
    first_line,
    json_layout,
    json_record,
    table_layout,
)
from opensage.transform.parts import FileKind
from opensage.transform.schemas import CSV, JSONLINES, PARQUET

KINDS: dict[str, FileKind] = {CSV: "csv", JSONLINES: "jsonl", PARQUET: "parquet"}


@dataclass
class InputFiles:
    """The files under a URI, sorted, with the names the user knows them by."""

    fs: fsspec.AbstractFileSystem
    root: str
    paths: list[str]

    @property
    def is_local(self) -> bool:
        return "file" in _protocols(self.fs)

    def source(self, path: str) -> str:
        """The file's name relative to the URI (its own name when the URI is the file)."""
        if path == self.root:
            return posixpath.basename(path)
        return posixpath.relpath(path, self.root)

    def head(self, path: str) -> bytes:
        with self.fs.open(path, "rb") as handle:
            data: bytes = handle.read(PREVIEW_BYTES)
        return data


def _protocols(fs: fsspec.AbstractFileSystem) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def find_files(
    uri: str, *, s3_endpoint_url: str | None, allow_local_paths: bool, field: str = "input.uri"
) -> InputFiles:
    """The data files at ``uri`` (hidden files left out), or ``InvalidInput``."""
    if uri.startswith("s3://"):
        options: dict[str, Any] = {"skip_instance_cache": True}
        if s3_endpoint_url:
            options["client_kwargs"] = {"endpoint_url": s3_endpoint_url}
        try:
            fs, root = fsspec.core.url_to_fs(uri, **options)
            root = root.rstrip("/")
            paths = [root] if fs.isfile(root) else sorted(fs.find(root))
        except Exception as exc:  # s3fs raises OSError, ValueError and botocore's own errors
            raise InvalidInput(f"cannot list {uri}: {exc}", field=field) from None
    else:
        if "://" in uri:
            raise InvalidInput("give an s3:// URI or an absolute local path", field=field)
        if not allow_local_paths:
            raise InvalidInput(
                "this server does not read paths on its own machine (auth is on); use a "
                "dataset or an s3:// URI",
                field=field,
            )
        path = Path(uri)
        if not path.is_absolute() or not path.exists():
            raise InvalidInput(
                f"no such file or folder {uri!r} (give an absolute path)", field=field
            )
        fs = fsspec.filesystem("file")
        root = str(path.resolve())
        if path.is_file():
            paths = [root]
        else:
            paths = sorted(str(p) for p in Path(root).rglob("*") if p.is_file())
    files = InputFiles(fs, root, [])
    files.paths = [
        p for p in paths if not any(part.startswith(".") for part in files.source(p).split("/"))
    ]
    if not files.paths:
        raise InvalidInput(f"there are no files at {uri}", field=field)
    return files


def files_layout(
    files: InputFiles, content_type: str, model_features: list[str] | None
) -> FeatureLayout:
    """The layout of the files' records, from the first record of the first file with one."""
    kind = KINDS[content_type]
    for path in files.paths:
        where = files.source(path)
        if kind == "parquet":
            try:
                with files.fs.open(path, "rb") as handle:
                    schema = pq.read_schema(handle)
            except Exception as exc:
                raise InvalidInput(f"{where} is not Parquet: {exc}", field="input") from None
            types = {field.name: logical_type(field.type) for field in schema}
            return table_layout(model_features, types, None, where=where)
        line = first_line(files.head(path))
        if line is None:
            continue
        if kind == "csv":
            return csv_layout(model_features, csv_width(line, where=where), where=where)
        return json_layout(model_features, json_record(line, where=where), where=where)
    raise InvalidInput("the input files hold no records", field="input")


def local_copies(files: InputFiles, target: Path) -> list[tuple[Path, str]]:
    """Each file as a local path with its source name: local files in place, others copied."""
    found = []
    for path in files.paths:
        source = files.source(path)
        if files.is_local:
            found.append((Path(path), source))
            continue
        local = target / source
        local.parent.mkdir(parents=True, exist_ok=True)
        files.fs.get(path, str(local))
        found.append((local, source))
    return found
