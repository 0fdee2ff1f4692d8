"""The datasets capability: ingest sources into immutable Parquet versions and describe them."""

from __future__ import annotations

import logging
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.utils import infer_compression
from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer

from opensage.datasets import splits as splitting
from opensage.datasets.ingest import (
    IngestResult,
    SourceFormat,
    Widen,
    convert_to_parquet,
    detect_format,
    logical_type,
    rows_to_keep,
)
from opensage.datasets.models import Dataset, DatasetVersion
from opensage.datasets.schemas import (
    ColumnSchema,
    ColumnStatistics,
    DatasetCreate,
    DatasetOut,
    DatasetStatistics,
    DatasetVersionCreate,
    DatasetVersionOut,
    SplitInfo,
)
from opensage.datasets.statistics import compute_statistics, table_statistics
from opensage.db import Database, utcnow
from opensage.errors import Conflict, InvalidInput, NotFound
from opensage.names import validate_name
from opensage.pagination import Page, check_limit, decode_token, encode_token
from opensage.storage import ArtifactStore
from opensage.storage.uploads import UPLOAD_PREFIX, UploadArea, server_file

logger = logging.getLogger(__name__)

DATA_FILE = "data.parquet"
SPLITS_FILE = "splits.parquet"
_MAX_WIDENINGS = 256


@dataclass
class _Ingested:
    """A version's files, written to the artifact store but not yet recorded."""

    prefix: str
    num_rows: int
    num_bytes: int
    columns: list[dict[str, Any]]
    statistics: dict[str, Any]
    splits: dict[str, Any] | None
    label: str | None
    source_format: str


class DatasetService:
    """Create, read and delete datasets and their versions."""

    def __init__(
        self,
        db: Database,
        store: ArtifactStore,
        uploads: UploadArea,
        *,
        s3_endpoint_url: str | None = None,
        allow_local_paths: bool = True,
    ) -> None:
        self.db = db
        self.store = store
        self.uploads = uploads
        self.s3_endpoint_url = s3_endpoint_url
        self.allow_local_paths = allow_local_paths

    # -- create -----------------------------------------------------------------------
    def create(self, request: DatasetCreate) -> DatasetVersionOut:
        """Create dataset ``request.name`` with its first version from ``request.source``."""
        name = validate_name(request.name)
        with self.db.reader() as session:
            if self._find(session, name) is not None:
                raise Conflict(f"dataset {name!r} already exists", field="name")
        ingested = self._ingest(name, 1, request, request.label)
        try:
            with self.db.transaction() as session:
                now = utcnow()
                dataset = Dataset(
                    name=name,
                    description=request.description,
                    latest_version=1,
                    created_at=now,
                    updated_at=now,
                )
                session.add(dataset)
                session.flush()
                row = self._record(session, dataset, 1, request.source, ingested)
                out = self._version_out(name, row)
        except IntegrityError:
            self.store.delete_prefix(ingested.prefix)
            raise Conflict(f"dataset {name!r} already exists", field="name") from None
        except BaseException:
            self.store.delete_prefix(ingested.prefix)
            raise
        self._consume(request.source)
        return out

    def create_version(self, name: str, request: DatasetVersionCreate) -> DatasetVersionOut:
        """Add a new version to dataset ``name``; label and splits default to the latest's."""
        with self.db.reader() as session:
            dataset = self._get(session, name)
            latest = self._version_row(session, dataset, None)
            label = request.label if request.label is not None else latest.label
            if request.splits is None and latest.splits is not None:
                request = request.model_copy(
                    update={
                        "splits": latest.splits["fractions"],
                        "seed": request.seed
                        if "seed" in request.model_fields_set
                        else latest.splits["seed"],
                    }
                )
            number = dataset.latest_version + 1
        ingested = self._ingest(name, number, request, label)
        try:
            with self.db.transaction() as session:
                dataset = self._get(session, name)
                if dataset.latest_version + 1 != number:
                    raise Conflict(
                        f"dataset {name!r} got another version meanwhile; try again", field="name"
                    )
                dataset.latest_version = number
                dataset.updated_at = utcnow()
                row = self._record(session, dataset, number, request.source, ingested)
                out = self._version_out(name, row)
        except IntegrityError:
            self.store.delete_prefix(ingested.prefix)
            raise Conflict(f"dataset {name!r} got another version meanwhile; try again") from None
        except BaseException:
            self.store.delete_prefix(ingested.prefix)
            raise
        self._consume(request.source)
        return out

    # -- read -------------------------------------------------------------------------
    def get(self, name: str) -> DatasetOut:
        """Dataset ``name`` with its latest version."""
        with self.db.reader() as session:
            dataset = self._get(session, name)
            latest = self._version_row(session, dataset, None, with_statistics=False)
            return self._dataset_out(dataset, latest)

    def list_datasets(
        self, *, limit: int = 50, page_token: str | None = None, name_contains: str | None = None
    ) -> Page[DatasetOut]:
        """Datasets by name, one page at a time."""
        check_limit(limit)
        after = decode_token(page_token)
        query = (
            select(Dataset, DatasetVersion)
            .outerjoin(
                DatasetVersion,
                and_(
                    DatasetVersion.dataset_id == Dataset.id,
                    DatasetVersion.version == Dataset.latest_version,
                ),
            )
            .options(defer(DatasetVersion.statistics))
            .order_by(Dataset.name)
            .limit(limit + 1)
        )
        if after is not None:
            query = query.where(Dataset.name > str(after.get("name", "")))
        if name_contains:
            pattern = name_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(Dataset.name.like(f"%{pattern}%", escape="\\"))
        with self.db.reader() as session:
            rows = session.execute(query).all()
            items = [self._dataset_out(d, v) for d, v in rows[:limit]]
        token = encode_token({"name": items[-1].name}) if len(rows) > limit else None
        return Page[DatasetOut](items=items, next_page_token=token)

    def count(self) -> int:
        """How many datasets there are."""
        with self.db.reader() as session:
            return int(session.scalar(select(func.count()).select_from(Dataset)) or 0)

    def get_version(self, name: str, version: int | None = None) -> DatasetVersionOut:
        """One version of dataset ``name`` (the latest when ``version`` is None)."""
        with self.db.reader() as session:
            dataset = self._get(session, name)
            row = self._version_row(session, dataset, version, with_statistics=False)
            return self._version_out(name, row)

    def list_versions(
        self, name: str, *, limit: int = 50, page_token: str | None = None
    ) -> Page[DatasetVersionOut]:
        """The versions of dataset ``name``, newest first."""
        check_limit(limit)
        after = decode_token(page_token)
        with self.db.reader() as session:
            dataset = self._get(session, name)
            query = (
                select(DatasetVersion)
                .where(DatasetVersion.dataset_id == dataset.id)
                .options(defer(DatasetVersion.statistics))
                .order_by(DatasetVersion.version.desc())
                .limit(limit + 1)
            )
            if after is not None:
                query = query.where(DatasetVersion.version < int(after.get("version", 0)))
            rows = session.scalars(query).all()
            items = [self._version_out(name, r) for r in rows[:limit]]
        token = encode_token({"version": items[-1].version}) if len(rows) > limit else None
        return Page[DatasetVersionOut](items=items, next_page_token=token)

    def statistics(self, name: str, version: int | None = None) -> DatasetStatistics:
        """Per-column statistics of a version."""
        with self.db.reader() as session:
            dataset = self._get(session, name)
            row = self._version_row(session, dataset, version)
            return DatasetStatistics(
                dataset=name,
                version=row.version,
                num_rows=row.num_rows,
                columns=[ColumnStatistics.model_validate(c) for c in row.statistics["columns"]],
            )

    def export(
        self, name: str, version: int | None = None, split: str | None = None
    ) -> Iterator[bytes]:
        """The Parquet bytes of a version, or of one of its splits, as a stream of chunks.

        Lookups and validation happen before the first chunk, so errors surface as errors
        rather than as a broken stream.
        """
        with self.db.reader() as session:
            dataset = self._get(session, name)
            row = self._version_row(session, dataset, version, with_statistics=False)
            data_key, splits = row.artifact_path, row.splits
        if split is None:
            return self.store.iter_chunks(data_key)
        _split_index(name, splits, split)
        return self._split_chunks(data_key, splits, split, name)

    def materialize(
        self,
        name: str,
        version: int | None,
        split: str | None,
        target: Path,
        *,
        read_only: bool = False,
    ) -> int:
        """Write a version (or one split of it) as a local Parquet file; the row count.
        ``read_only``: the caller never writes to ``target``, so a whole version may be a
        hard link to the stored file rather than a copy."""
        with self.db.reader() as session:
            dataset = self._get(session, name)
            row = self._version_row(session, dataset, version, with_statistics=False)
            data_key, splits, num_rows = row.artifact_path, row.splits, row.num_rows
        target.parent.mkdir(parents=True, exist_ok=True)
        if split is not None:
            return self.write_split(data_key, splits, split, str(target), name=name)
        self.store.copy_to(data_key, target, link=read_only)
        return num_rows

    def _split_chunks(
        self, data_key: str, splits: dict[str, Any] | None, split: str, name: str
    ) -> Iterator[bytes]:
        with tempfile.TemporaryDirectory(dir=self.uploads.directory.parent) as scratch:
            target = Path(scratch) / "split.parquet"
            self.write_split(data_key, splits, split, str(target), name=name)
            yield from _file_chunks(target)

    def write_split(
        self,
        data_key: str,
        splits: dict[str, Any] | None,
        split: str,
        target: str,
        *,
        name: str = "",
    ) -> int:
        """Write the rows of ``split`` of the version stored at ``data_key`` to ``target``."""
        index = _split_index(name, splits, split)
        splits_key = f"{data_key.rsplit('/', 1)[0]}/{SPLITS_FILE}"
        with self.store.open_read(splits_key) as handle:
            assignment = pq.read_table(handle).column("split").to_numpy()
        rows = 0
        with self.store.open_read(data_key) as handle:
            data = pq.ParquetFile(handle)
            with pq.ParquetWriter(target, data.schema_arrow, compression="snappy") as writer:
                for batch in splitting.iter_split_batches(data, assignment, index):
                    writer.write_batch(batch)
                    rows += batch.num_rows
        return rows

    def sweep_orphans(self, older_than_s: float = 3600.0) -> int:
        """Delete files under ``datasets/`` that no version refers to (an ingest a crash
        cut short); only old ones, so an ingest in progress elsewhere is never touched."""
        with self.db.reader() as session:
            kept = {
                path.rsplit("/", 1)[0]
                for path in session.scalars(select(DatasetVersion.artifact_path))
            }
        removed = 0
        for path in self.store.stale_files("datasets", older_than_s):
            if path.rsplit("/", 1)[0] not in kept:
                self.store.delete_file(path)
                removed += 1
        return removed

    # -- delete -----------------------------------------------------------------------
    def delete(self, name: str) -> None:
        """Delete dataset ``name``, all its versions and their files."""
        with self.db.transaction() as session:
            dataset = self._get(session, name)
            prefixes = [
                r.artifact_path.rsplit("/", 1)[0]
                for r in session.scalars(
                    select(DatasetVersion).where(DatasetVersion.dataset_id == dataset.id)
                )
            ]
            session.delete(dataset)
        for prefix in prefixes:
            try:
                self.store.delete_prefix(prefix)
            except OSError:
                logger.warning("could not delete artifacts under %s", prefix, exc_info=True)

    # -- internals --------------------------------------------------------------------
    def _ingest(
        self,
        name: str,
        number: int,
        request: DatasetCreate | DatasetVersionCreate,
        label: str | None,
    ) -> _Ingested:
        fractions = splitting.validate_fractions(request.splits) if request.splits else None
        filename = self._source_name(request.source)
        fmt = detect_format(filename, request.format)
        delimiter = request.delimiter or ("\t" if filename.lower().endswith(".tsv") else ",")
        prefix = f"datasets/{name}/v{number}-{uuid.uuid4().hex[:12]}"
        data_key = f"{prefix}/{DATA_FILE}"
        types: dict[str, Any] = dict(request.column_types or {})
        try:
            result, statistics = self._convert(request.source, fmt, delimiter, types, data_key)
            pa.default_memory_pool().release_unused()  # the rows held for the statistics
            if label is not None and label not in result.schema.names:
                raise InvalidInput(
                    f"label column {label!r} is not in the data; columns are {result.schema.names}",
                    field="label",
                )
            by_column = {c["name"]: c for c in statistics}
            columns = [
                ColumnSchema(
                    name=f.name,
                    type=logical_type(f.type),
                    arrow_type=str(f.type),
                    nullable=by_column[f.name]["missing"] > 0,
                ).model_dump()
                for f in result.schema
            ]
            split_info = None
            if fractions is not None:
                split_info = self._write_splits(
                    prefix, data_key, result.num_rows, fractions, request, label, by_column
                )
            return _Ingested(
                prefix=prefix,
                num_rows=result.num_rows,
                num_bytes=self.store.size(data_key),
                columns=columns,
                statistics={"columns": statistics},
                splits=split_info,
                label=label,
                source_format=fmt,
            )
        except BaseException:
            self.store.delete_prefix(prefix)
            raise

    def _convert(
        self, source: str, fmt: SourceFormat, delimiter: str, types: dict[str, Any], data_key: str
    ) -> tuple[IngestResult, list[dict[str, Any]]]:
        """Convert ``source`` into Parquet at ``data_key`` (widening a column's type and
        starting over as needed) and describe its columns: from the rows in memory when
        they fit there (while the file is synced to disk), else by reading the file back."""
        with ThreadPoolExecutor(1, thread_name_prefix="opensage-describe") as describer:
            described: Future[list[dict[str, Any]]] | None = None
            for _ in range(_MAX_WIDENINGS):
                try:
                    with (
                        self._open_source(source) as reader,
                        self.store.open_write(data_key) as target,
                    ):
                        kept = rows_to_keep(reader)
                        result = convert_to_parquet(
                            reader, fmt, target, column_types=types, delimiter=delimiter, keep=kept
                        )
                        table = kept.table(result.schema)
                        if table is not None:  # described while the file is synced
                            described = describer.submit(table_statistics, table)
                            del table
                    break
                except Widen as widen:
                    types[widen.column] = widen.to
            else:  # pragma: no cover - needs more than _MAX_WIDENINGS distinct columns
                raise InvalidInput("too many columns change type mid-file", field="source")
            if described is not None:
                return result, described.result()
        return result, self._statistics(data_key)

    def _statistics(self, data_key: str) -> list[dict[str, Any]]:
        if self.store.is_local:
            return compute_statistics(self.store.path(data_key))
        with self.store.open_read(data_key) as handle:
            return compute_statistics(handle)

    def _write_splits(
        self,
        prefix: str,
        data_key: str,
        num_rows: int,
        fractions: dict[str, float],
        request: DatasetCreate | DatasetVersionCreate,
        label: str | None,
        by_column: dict[str, dict[str, Any]],
    ) -> dict[str, Any]:
        stratify = request.stratify
        if stratify and label is None:
            raise InvalidInput("stratify needs a label column", field="stratify")
        if stratify is None:
            stratify = label is not None and splitting.looks_categorical(
                by_column[label]["type"], by_column[label]["distinct"], by_column[label]["count"]
            )
        labels = None
        if stratify and label is not None:
            with self.store.open_read(data_key) as handle:
                labels = pq.read_table(handle, columns=[label]).column(0)
        assignment = splitting.assign_splits(num_rows, fractions, request.seed, labels)
        with self.store.open_write(f"{prefix}/{SPLITS_FILE}") as target:
            splitting.write_assignment(assignment, target)
        return SplitInfo(
            fractions=fractions,
            seed=request.seed,
            stratified=bool(stratify),
            counts=splitting.split_counts(assignment, fractions),
        ).model_dump()

    def _source_name(self, source: str) -> str:
        if source.startswith(UPLOAD_PREFIX):
            return self.uploads.resolve(source)[1]
        return source.rstrip("/").rsplit("/", 1)[-1]

    @contextmanager
    def _open_source(self, source: str) -> Iterator[IO[bytes]]:
        if source.startswith(UPLOAD_PREFIX):
            path, filename = self.uploads.resolve(source)
            with _open_local(path, filename) as handle:
                yield handle
            return
        protocol, _ = fsspec.core.split_protocol(source)
        if protocol not in (None, "file"):
            if protocol != "s3":
                raise InvalidInput(
                    f"unsupported source scheme {protocol!r}; use upload:, s3:// or a path",
                    field="source",
                )
            options: dict[str, Any] = {"skip_instance_cache": True}
            if self.s3_endpoint_url:
                options["client_kwargs"] = {"endpoint_url": self.s3_endpoint_url}
            try:
                handle = fsspec.open(source, "rb", compression="infer", **options).open()
            except FileNotFoundError:
                raise InvalidInput(f"{source} does not exist", field="source") from None
            except Exception as exc:  # s3fs raises OSError, ValueError and botocore's own errors
                # A bad bucket name, an unreachable endpoint, missing credentials, no access:
                # the caller's source cannot be read, which is not a server failure.
                logger.info("cannot open source %s", source, exc_info=True)
                raise InvalidInput(f"cannot open {source}: {exc}", field="source") from None
            try:
                yield handle
            finally:
                handle.close()
            return
        if not self.allow_local_paths:
            raise InvalidInput(
                "this server does not read paths on its own machine (auth is on); "
                "upload the file or give an s3:// URI",
                field="source",
            )
        path = server_file(Path(fsspec.core.strip_protocol(source)).expanduser(), "source")
        with _open_local(path, path.name) as handle:
            yield handle

    def _consume(self, source: str) -> None:
        if source.startswith(UPLOAD_PREFIX):
            self.uploads.discard(source)

    def _record(
        self, session: Session, dataset: Dataset, number: int, source: str, ingested: _Ingested
    ) -> DatasetVersion:
        shown_source = source
        if source.startswith(UPLOAD_PREFIX):
            shown_source = f"upload:{self.uploads.resolve(source)[1]}"
        row = DatasetVersion(
            dataset_id=dataset.id,
            version=number,
            source=shown_source,
            source_format=ingested.source_format,
            artifact_path=f"{ingested.prefix}/{DATA_FILE}",
            label=ingested.label,
            num_rows=ingested.num_rows,
            num_bytes=ingested.num_bytes,
            columns=ingested.columns,
            statistics=ingested.statistics,
            splits=ingested.splits,
            created_at=utcnow(),
        )
        session.add(row)
        session.flush()
        return row

    @staticmethod
    def _find(session: Session, name: str) -> Dataset | None:
        return session.scalar(select(Dataset).where(Dataset.name == name))

    def _get(self, session: Session, name: str) -> Dataset:
        dataset = self._find(session, name)
        if dataset is None:
            raise NotFound(f"dataset {name!r} does not exist", field="name")
        return dataset

    @staticmethod
    def _version_row(
        session: Session, dataset: Dataset, version: int | None, *, with_statistics: bool = True
    ) -> DatasetVersion:
        number = dataset.latest_version if version is None else version
        query = select(DatasetVersion).where(
            DatasetVersion.dataset_id == dataset.id, DatasetVersion.version == number
        )
        if not with_statistics:
            query = query.options(defer(DatasetVersion.statistics))
        row = session.scalar(query)
        if row is None:
            raise NotFound(f"dataset {dataset.name!r} has no version {number}", field="version")
        return row

    def _version_out(self, name: str, row: DatasetVersion) -> DatasetVersionOut:
        return DatasetVersionOut(
            dataset=name,
            version=row.version,
            source=row.source,
            source_format=row.source_format,
            label=row.label,
            num_rows=row.num_rows,
            num_bytes=row.num_bytes,
            columns=[ColumnSchema.model_validate(c) for c in row.columns],
            splits=SplitInfo.model_validate(row.splits) if row.splits else None,
            artifact_url=self.store.url(row.artifact_path),
            created_at=row.created_at,
        )

    def _dataset_out(self, dataset: Dataset, latest: DatasetVersion | None) -> DatasetOut:
        return DatasetOut(
            name=dataset.name,
            description=dataset.description,
            latest_version=dataset.latest_version,
            created_at=dataset.created_at,
            updated_at=dataset.updated_at,
            latest=self._version_out(dataset.name, latest) if latest is not None else None,
        )


def _split_index(name: str, splits: dict[str, Any] | None, split: str) -> int:
    if not splits:
        raise InvalidInput(f"dataset {name!r} has no splits", field="split")
    names = list(splits["fractions"])
    if split not in names:
        raise InvalidInput(
            f"dataset {name!r} has no split {split!r}; its splits are {names}", field="split"
        )
    return names.index(split)


@contextmanager
def _open_local(path: Path, filename: str) -> Iterator[IO[bytes]]:
    """Open a local source; compressed files are decompressed on the fly."""
    compression = infer_compression(filename)
    if compression is not None:
        with fsspec.open(str(path), "rb", compression=compression) as handle:
            yield handle
        return
    # pyarrow's native file reads without the GIL, which keeps the CSV parser threads busy.
    with pa.OSFile(str(path), "rb") as handle:
        yield handle


def _file_chunks(path: Path, chunk_size: int = 1 << 20) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            yield chunk
