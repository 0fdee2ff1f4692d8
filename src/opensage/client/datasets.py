"""SDK resources for datasets: ``client.datasets`` and the ``Dataset`` objects it returns."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq

from opensage.client.http import HTTPSession, iter_pages
from opensage.client.resource import Resource
from opensage.datasets.schemas import (
    ColumnSchema,
    DatasetOut,
    DatasetStatistics,
    DatasetVersionOut,
    SplitInfo,
)

if TYPE_CHECKING:
    import pandas as pd

Progress = Callable[[int, int], None]
"""Called with (bytes sent so far, total bytes) while a file uploads."""

_UPLOAD_CHUNK = 1 << 20


class Dataset(Resource[DatasetOut]):
    """A dataset on the server, as of its latest version (or the version it was fetched at)."""

    info_type = DatasetOut

    @property
    def path(self) -> str:
        return f"/api/v1/datasets/{self.name}"

    # -- what it is -------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.info.name

    @property
    def description(self) -> str:
        return self.info.description

    @property
    def version(self) -> int:
        """The latest version's number."""
        return self.info.latest_version

    @property
    def latest(self) -> DatasetVersionOut:
        if self.info.latest is None:  # pragma: no cover - every dataset has a version
            raise RuntimeError(f"dataset {self.name} has no version")
        return self.info.latest

    @property
    def label(self) -> str | None:
        return self.latest.label

    @property
    def num_rows(self) -> int:
        return self.latest.num_rows

    @property
    def columns(self) -> list[ColumnSchema]:
        return self.latest.columns

    @property
    def splits(self) -> SplitInfo | None:
        return self.latest.splits

    def __repr__(self) -> str:
        return f"Dataset(name={self.name!r}, version={self.version}, rows={self.num_rows})"

    # -- what it can do ---------------------------------------------------------------
    def stats(self, version: int | None = None) -> DatasetStatistics:
        """Per-column statistics (count, missing, mean, std, quantiles, histogram ...)."""
        params = {"version": version} if version else None
        body = self._session.json("GET", f"{self.path}/statistics", params=params)
        return DatasetStatistics.model_validate(body)

    def to_pandas(self, split: str | None = None, version: int | None = None) -> pd.DataFrame:
        """The rows of a version (or one of its splits) as a DataFrame."""
        frame: pd.DataFrame = self.to_arrow(split=split, version=version).to_pandas()
        return frame

    def to_arrow(self, split: str | None = None, version: int | None = None) -> Any:
        """The rows of a version (or one of its splits) as a ``pyarrow.Table``."""
        params: dict[str, Any] = {}
        if split:
            params["split"] = split
        if version:
            params["version"] = version
        buffer = io.BytesIO()
        for chunk in self._session.stream("GET", f"{self.path}/data", params=params):
            buffer.write(chunk)
        buffer.seek(0)
        return pq.read_table(buffer)

    def versions(self) -> list[DatasetVersionOut]:
        """Every version, newest first."""
        return list(iter_pages(self._session, f"{self.path}/versions", DatasetVersionOut))

    def add_version(
        self, source: str | Path | pd.DataFrame, *, progress: Progress | None = None, **options: Any
    ) -> Dataset:
        """Add a new version from ``source``; options as for ``client.datasets.create``."""
        body = {"source": _resolve_source(self._session, source, progress), **_clean(options)}
        self._session.json("POST", f"{self.path}/versions", json=body)
        return self.refresh()

    def delete(self) -> None:
        """Delete the dataset and all its versions."""
        self._session.request("DELETE", self.path)


class Datasets:
    """``client.datasets``: create, get, list and delete datasets."""

    def __init__(self, session: HTTPSession) -> None:
        self._session = session

    def create(
        self,
        source: str | Path | pd.DataFrame,
        *,
        name: str,
        label: str | None = None,
        splits: dict[str, float] | None = None,
        seed: int = 0,
        stratify: bool | None = None,
        format: str | None = None,
        delimiter: str | None = None,
        column_types: dict[str, str] | None = None,
        description: str = "",
        progress: Progress | None = None,
    ) -> Dataset:
        """Create a dataset from a local file (uploaded), an ``s3://`` URI or a DataFrame."""
        body = _clean(
            {
                "name": name,
                "source": _resolve_source(self._session, source, progress),
                "label": label,
                "splits": splits,
                "seed": seed,
                "stratify": stratify,
                "format": format,
                "delimiter": delimiter,
                "column_types": column_types,
                "description": description,
            }
        )
        self._session.json("POST", "/api/v1/datasets", json=body)
        return self.get(name)

    def get(self, name: str) -> Dataset:
        """The dataset called ``name``."""
        body = self._session.json("GET", f"/api/v1/datasets/{name}")
        return Dataset(self._session, DatasetOut.model_validate(body))

    def list(self, *, name_contains: str | None = None, limit: int | None = None) -> list[Dataset]:
        """Datasets by name (all of them, or the first ``limit``)."""
        params = {"name_contains": name_contains} if name_contains else {}
        found = []
        for info in iter_pages(self._session, "/api/v1/datasets", DatasetOut, params):
            found.append(Dataset(self._session, info))
            if limit is not None and len(found) >= limit:
                break
        return found

    def delete(self, name: str) -> None:
        """Delete dataset ``name`` and all its versions."""
        self._session.request("DELETE", f"/api/v1/datasets/{name}")

    def upload(
        self, path: str | Path, *, progress: Progress | None = None, in_place: bool | None = None
    ) -> str:
        """Stage a local file on the server; returns the ``upload:<id>`` source to create a
        dataset from. A server on this machine links the file instead of receiving a copy
        (see ``upload_file`` for ``in_place``)."""
        return upload_file(self._session, Path(path), progress, in_place=in_place)


def upload_file(
    session: HTTPSession,
    path: Path,
    progress: Progress | None = None,
    *,
    in_place: bool | None = None,
) -> str:
    """Stage a local file in the server's upload area; returns its source reference.

    ``in_place``: None (the default) asks a server on this machine (a loopback URL) to
    link the file where it is (``POST /api/v1/uploads/link``: no copy, however large the
    file) and streams it when the server refuses (auth on, another filesystem, another
    view of that path); False always streams; True links or raises the server's error.
    """
    from opensage.errors import InvalidInput, OpenSageError

    path = path.expanduser().absolute()
    if not path.is_file():
        raise InvalidInput(f"no such file: {path}", field="source")
    seen = path.stat()
    total = seen.st_size
    if in_place or (in_place is None and session.is_local):
        link = {"path": str(path), "size": total, "mtime_ns": seen.st_mtime_ns}
        try:
            linked = session.json("POST", "/api/v1/uploads/link", json=link)
        except OpenSageError:
            if in_place:
                raise
        else:
            if progress is not None:
                progress(total, total)
            return str(linked["source"])

    def chunks() -> Iterator[bytes]:
        sent = 0
        with open(path, "rb") as handle:
            while chunk := handle.read(_UPLOAD_CHUNK):
                sent += len(chunk)
                yield chunk
                if progress is not None:
                    progress(sent, total)

    body = session.json(
        "POST",
        "/api/v1/uploads",
        params={"filename": path.name},
        content=chunks(),
        headers={"Content-Type": "application/octet-stream", "Content-Length": str(total)},
    )
    return str(body["source"])


def _resolve_source(
    session: HTTPSession, source: str | Path | pd.DataFrame, progress: Progress | None
) -> str:
    if isinstance(source, str) and (source.startswith(("s3://", "upload:"))):
        return source
    if isinstance(source, str | Path):
        return upload_file(session, Path(source), progress)
    # A DataFrame: ship it as Parquet, which keeps its column types.
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / "dataframe.parquet"
        source.to_parquet(target, index=False)
        return upload_file(session, target, progress)


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


__all__ = ["Dataset", "Datasets", "Progress", "upload_file"]
