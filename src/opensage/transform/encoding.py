"""Predictions (joined to their input records, if asked) written as a part's output file.

Text outputs (CSV, JSON Lines) are plain lines, so the parts' files are simply
concatenated in order; a dataset output is Parquet, one file per part, merged at the end.
A part's file appears under its final name only once it is complete.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import Literal

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from opensage.transform.records import RecordError

OutputFormat = Literal["csv", "jsonl", "parquet"]
PREDICTION = "prediction"


def checked_predictions(predictions: np.ndarray, rows: int, where: str) -> np.ndarray:
    """The model's predictions for ``rows`` rows: one value per row, or a row of values
    (one per class / component); anything else is the model's error."""
    values = np.asarray(predictions)
    if values.ndim == 0 or values.shape[0] != rows:
        count = 1 if values.ndim == 0 else values.shape[0]
        raise RecordError(f"{where}: the model returned {count} predictions for {rows} rows")
    if values.ndim > 2:
        raise RecordError(f"{where}: the model returned predictions of shape {values.shape}")
    return values


def prediction_columns(values: np.ndarray) -> list[pa.Array]:
    """One array per output value of checked predictions."""
    if values.ndim == 1:
        return [pa.array(values)]
    return [pa.array(values[:, i]) for i in range(values.shape[1])]


def csv_lines(predictions: np.ndarray) -> bytes | None:
    """Predictions alone as CSV lines, through orjson's number formatting: the shortest
    text that reads back as the same value, as Arrow's CSV writer gives (``838.0`` where
    it writes ``838``), in about half the time. None where it does not apply: values
    other than numbers, or not finite (orjson writes those as JSON's null)."""
    values = np.ascontiguousarray(predictions)
    if values.dtype.kind not in "fiu" or values.ndim not in (1, 2) or 0 in values.shape:
        return None
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        return None
    text = orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY)
    if values.ndim == 1:  # [a,b,c]
        return text[1:-1].replace(b",", b"\n") + b"\n"
    return text[2:-2].replace(b"],[", b"\n") + b"\n"  # [[a,b],[c,d]]


def prediction_names(count: int) -> list[str]:
    """Column names of the predictions in tabular outputs."""
    return [PREDICTION] if count == 1 else [f"{PREDICTION}_{i}" for i in range(count)]


class PartWriter:
    """Writes one part's output to ``path`` (atomically: a temporary file, then renamed)."""

    def __init__(self, path: Path, fmt: OutputFormat) -> None:
        self.path = path
        self.fmt = fmt
        self._temp = path.with_name(f"{path.name}.partial")
        self._handle = None if fmt == "parquet" else open(self._temp, "wb")  # noqa: SIM115
        self._parquet: pq.ParquetWriter | None = None

    def write(
        self, rows: int, inputs: pa.Table | None, predictions: np.ndarray, where: str
    ) -> None:
        """Write a batch of ``rows`` records: their predictions, after the input columns
        when ``inputs`` is given."""
        predictions = checked_predictions(predictions, rows, where)
        if inputs is not None and PREDICTION in inputs.column_names:
            raise RecordError(
                f"{where}: the input has a column named {PREDICTION!r}, which join_source "
                "input would overwrite"
            )
        if self.fmt == "jsonl":
            self._write_jsonl(inputs, predictions, rows)
            return
        if self.fmt == "csv" and inputs is None:
            lines = csv_lines(predictions)
            if lines is not None:
                assert self._handle is not None
                self._handle.write(lines)
                return
        columns = prediction_columns(predictions)
        names = prediction_names(len(columns))
        table = pa.table(dict(zip(names, columns, strict=True)))
        if inputs is not None:
            for name, column in zip(table.column_names, table.columns, strict=True):
                inputs = inputs.append_column(name, column)
            table = inputs
        if self.fmt == "csv":
            sink = pa.BufferOutputStream()
            options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
            pacsv.write_csv(table, sink, write_options=options)
            assert self._handle is not None
            self._handle.write(sink.getvalue())
            return
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(str(self._temp), table.schema, compression="snappy")
        elif table.schema != self._parquet.schema:
            try:
                table = table.cast(self._parquet.schema)
            except (pa.ArrowInvalid, ValueError) as exc:
                raise RecordError(
                    f"{where}: column types differ from earlier rows: {exc}"
                ) from None
        self._parquet.write_table(table)

    def _write_jsonl(self, inputs: pa.Table | None, predictions: np.ndarray, rows: int) -> None:
        records = inputs.to_pylist() if inputs is not None else [{} for _ in range(rows)]
        lines = []
        for record, value in zip(records, np.asarray(predictions).tolist(), strict=True):
            record[PREDICTION] = value
            lines.append(orjson.dumps(record, default=str))
        assert self._handle is not None
        self._handle.write(b"\n".join(lines) + b"\n")

    def close(self) -> None:
        """Finish the file and give it its final name. (Not synced to disk: a part is
        scratch, read back into the job's output, which is; a job cut short by a crash
        fails and its parts are removed.)"""
        if self._parquet is not None:
            self._parquet.close()
        if self._handle is not None:
            self._handle.close()
        os.replace(self._temp, self.path)

    def __enter__(self) -> PartWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
            return
        if self._parquet is not None:
            self._parquet.close()
        if self._handle is not None:
            self._handle.close()
        self._temp.unlink(missing_ok=True)
