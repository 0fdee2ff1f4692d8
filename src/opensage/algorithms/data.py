"""Reads a training job's channels into arrays: numeric features and the labels, checked.

Two layouts are understood, chosen by the channel's ``ContentType`` (or, without one, by
the files found):

* **platform dataset** (``application/x-parquet``): one or more ``*.parquet`` files; the
  label is the column named by ``OpenSageLabel`` and every other column is a feature.
* **SageMaker CSV** (``text/csv``): files without a header row; the label is the first
  column (``label_size=1``, the default for supervised algorithms) or there is none
  (``text/csv;label_size=0``, the default for unsupervised ones: k-means, PCA, RCF).

Features must be numeric (integers, floats, booleans; nulls become NaN). A text, date or
timestamp feature column is rejected with an error naming it rather than encoded behind
the user's back: a model served later receives plain float arrays, so the encoding has
to live in the dataset, where every consumer sees it.

Classification labels become class indices ``0 .. k-1``: numeric labels must already be
those integers (SageMaker's rule); text or boolean labels are mapped in sorted order, and
the class names are kept (``classes``) for the manifest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from opensage.algorithms.base import TabularData, TrainingContext
from opensage.errors import InvalidInput

PARQUET = "application/x-parquet"
CSV = "text/csv"
_PARQUET_TYPES = {PARQUET, "application/parquet", "application/vnd.apache.parquet"}


@dataclass
class TrainingData:
    """The ``train`` channel and, when the job has one, the ``validation`` channel."""

    train: TabularData
    validation: TabularData | None

    @property
    def feature_names(self) -> list[str]:
        return self.train.feature_names

    @property
    def label_name(self) -> str | None:
        return self.train.label_name


@dataclass
class EncodedLabels:
    """Labels of both channels as numbers the learning library takes, plus the class names."""

    train: np.ndarray
    validation: np.ndarray | None
    classes: list[Any] | None
    """Class names in index order (None for regression)."""

    @property
    def num_classes(self) -> int:
        return len(self.classes or [])


def _channel_error(channel: str, message: str) -> InvalidInput:
    return InvalidInput(f"channel {channel!r}: {message}", field=f"channels.{channel}")


def _content_type(context: TrainingContext, channel: str) -> tuple[str | None, dict[str, str]]:
    raw = context.input_data_config.get(channel, {}).get("ContentType")
    if not raw:
        return None, {}
    mime, *rest = (part.strip() for part in str(raw).split(";"))
    options = dict(part.split("=", 1) for part in rest if "=" in part)
    return mime.lower(), {key.strip().lower(): value.strip() for key, value in options.items()}


def _data_files(directory: Path, pattern: str) -> list[Path]:
    return sorted(
        path
        for path in directory.rglob(pattern)
        if path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(directory).parts)
    )


def read_channel(context: TrainingContext, channel: str, *, labelled: bool) -> TabularData:
    """Read one channel; ``labelled`` says whether the algorithm needs labels from it."""
    directory = context.channels.get(channel)
    if directory is None:
        raise _channel_error(channel, "is required but the job has no such channel")
    if not directory.is_dir():
        raise _channel_error(channel, f"directory {directory} does not exist")
    mime, options = _content_type(context, channel)
    if mime is None:
        mime = PARQUET if _data_files(directory, "*.parquet") else CSV
    if mime in _PARQUET_TYPES:
        data = _read_parquet(context, channel, directory, labelled=labelled)
    elif mime == CSV:
        label_size = options.get("label_size")
        if label_size not in (None, "0", "1"):
            raise _channel_error(channel, f"label_size must be 0 or 1, not {label_size!r}")
        has_label = labelled if label_size is None else label_size == "1"
        data = _read_csv(channel, directory, has_label=has_label)
    else:
        raise _channel_error(
            channel, f"content type {mime!r} is not supported; use {PARQUET!r} or {CSV!r}"
        )
    if labelled and data.labels is None:
        raise _channel_error(channel, "this algorithm needs labels but the channel has none")
    if data.features.shape[0] == 0:
        raise _channel_error(channel, "has no rows")
    if data.features.shape[1] == 0:
        raise _channel_error(channel, "has no feature columns")
    return data


def read_training_data(context: TrainingContext, *, labelled: bool) -> TrainingData:
    """Read ``train`` and, if present, ``validation`` (which must have the same features)."""
    train = read_channel(context, "train", labelled=labelled)
    validation = None
    if "validation" in context.channels:
        validation = read_channel(context, "validation", labelled=labelled)
        if validation.features.shape[1] != train.features.shape[1]:
            raise _channel_error(
                "validation",
                f"has {validation.features.shape[1]} features but train has "
                f"{train.features.shape[1]}",
            )
        if validation.feature_names != train.feature_names:
            raise _channel_error(
                "validation",
                f"feature columns {validation.feature_names} differ from train's "
                f"{train.feature_names}",
            )
    return TrainingData(train=train, validation=validation)


def _read_parquet(
    context: TrainingContext, channel: str, directory: Path, *, labelled: bool
) -> TabularData:
    files = _data_files(directory, "*.parquet")
    if not files:
        raise _channel_error(channel, f"no *.parquet files in {directory}")
    try:
        tables = [pq.read_table(path) for path in files]
        table = pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowException, OSError) as exc:
        raise _channel_error(channel, f"cannot read Parquet: {exc}") from None
    label = context.channel_label(channel)
    if labelled and label is None:
        raise _channel_error(
            channel, "a platform dataset channel needs its label column (OpenSageLabel)"
        )
    if label is not None and label not in table.column_names:
        raise _channel_error(channel, f"label column {label!r} is not in the data")
    feature_names = [name for name in table.column_names if name != label]
    features = _numeric_matrix(
        channel, table.num_rows, [(name, table.column(name)) for name in feature_names]
    )
    labels = _labels(channel, label, table.column(label)) if label is not None else None
    return TabularData(
        features=features, labels=labels, feature_names=feature_names, label_name=label
    )


def _read_csv(channel: str, directory: Path, *, has_label: bool) -> TabularData:
    files = _data_files(directory, "*")
    if not files:
        raise _channel_error(channel, f"no data files in {directory}")
    tables = []
    for path in files:
        try:
            tables.append(
                pacsv.read_csv(path, read_options=pacsv.ReadOptions(autogenerate_column_names=True))
            )
        except pa.ArrowInvalid as exc:
            raise _channel_error(channel, f"cannot read CSV file {path.name}: {exc}") from None
    widths = {table.num_columns for table in tables}
    if len(widths) > 1:
        raise _channel_error(channel, f"CSV files have different numbers of columns: {widths}")
    try:
        table = pa.concat_tables(tables, promote_options="permissive")
    except pa.ArrowException as exc:
        raise _channel_error(channel, f"CSV files do not agree on column types: {exc}") from None
    columns = [table.column(i) for i in range(table.num_columns)]
    labels = None
    if has_label:
        label = columns.pop(0)
        if not _is_numeric(label.type):
            raise _channel_error(
                channel,
                f"the label (column 0) is {label.type}; SageMaker CSV has numeric labels "
                "first and no header row",
            )
        labels = _labels(channel, "column 0 (label)", label)
    offset = 1 if has_label else 0
    names = [f"f{i}" for i in range(len(columns))]
    # Errors name the column as the file numbers it (the label being column 0).
    features = _numeric_matrix(
        channel,
        table.num_rows,
        [(f"column {i + offset}", column) for i, column in enumerate(columns)],
    )
    return TabularData(features=features, labels=labels, feature_names=names, label_name=None)


def _is_numeric(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_null(kind)
    )


def _numeric_matrix(
    channel: str, rows: int, columns: list[tuple[str, pa.ChunkedArray]]
) -> np.ndarray:
    arrays = []
    for name, column in columns:
        if not _is_numeric(column.type):
            raise _channel_error(
                channel,
                f"feature {name!r} is {column.type}, but the built-in algorithms take "
                "numeric features only; encode it (e.g. one-hot) or drop it from the dataset",
            )
        arrays.append(column.cast(pa.float64()).to_numpy(zero_copy_only=False))
    if not arrays:
        return np.empty((rows, 0))
    return np.column_stack(arrays).astype(np.float64, copy=False)


def _labels(channel: str, name: str, column: pa.ChunkedArray) -> np.ndarray:
    if column.null_count:
        raise _channel_error(channel, f"label {name!r} has {column.null_count} missing values")
    if _is_numeric(column.type):
        labels: np.ndarray = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
        if not np.isfinite(labels).all():
            raise _channel_error(channel, f"label {name!r} has non-finite values")
        return labels
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return np.asarray(column.to_pylist(), dtype=object)
    raise _channel_error(channel, f"label {name!r} is {column.type}; use numbers or text")


def regression_labels(data: TrainingData) -> EncodedLabels:
    """Labels as floats for a regression model (text labels are an error)."""

    def numeric(table: TabularData, channel: str) -> np.ndarray:
        assert table.labels is not None
        if table.labels.dtype == object:
            raise _channel_error(channel, "regression needs numeric labels, found text")
        return table.labels

    validation = numeric(data.validation, "validation") if data.validation else None
    return EncodedLabels(numeric(data.train, "train"), validation, classes=None)


def class_labels(data: TrainingData, num_classes: int | None, *, field: str) -> EncodedLabels:
    """Labels as class indices ``0 .. k-1``.

    ``num_classes`` is the configured class count (or None to take it from the data);
    ``field`` names the hyperparameter that sets it, for the error when it disagrees.
    """
    assert data.train.labels is not None
    train_labels = data.train.labels
    valid_labels = data.validation.labels if data.validation else None
    if train_labels.dtype == object:
        classes: list[Any] = sorted(set(train_labels.tolist()))
    else:
        for channel, labels in (("train", train_labels), ("validation", valid_labels)):
            if labels is None:
                continue
            if labels.dtype == object:
                raise _channel_error(channel, "labels are text but train's are numbers")
            bad = labels[(labels < 0) | (labels != np.round(labels))]
            if bad.size:
                raise _channel_error(
                    channel,
                    f"class labels must be integers 0..k-1 (or text); found {bad[0]:g}",
                )
        top = int(max(train_labels.max(), -1 if valid_labels is None else valid_labels.max()))
        if num_classes is not None and top >= num_classes:
            raise InvalidInput(
                f"{num_classes} classes expected (hyperparameter {field!r}), so labels must "
                f"be integers 0..{num_classes - 1}, but the data has label {top}",
                field=f"hyperparameters.{field}",
            )
        classes = list(range(num_classes or max(top + 1, 2)))
    if num_classes is not None and len(classes) != num_classes:
        raise InvalidInput(
            f"{num_classes} classes expected (hyperparameter {field!r}), but the train "
            f"labels have {len(classes)}: {classes[:10]}",
            field=f"hyperparameters.{field}",
        )
    if len(classes) < 2:
        raise _channel_error("train", "classification needs at least two classes")
    index = {value: position for position, value in enumerate(classes)}

    def encode(labels: np.ndarray | None, channel: str) -> np.ndarray | None:
        if labels is None:
            return None
        if labels.dtype != object:
            return labels.astype(np.int64)
        unknown = sorted({value for value in labels.tolist() if value not in index})
        if unknown:
            raise _channel_error(channel, f"labels {unknown[:5]} do not occur in train")
        return np.fromiter((index[value] for value in labels.tolist()), np.int64, len(labels))

    encoded_train = encode(train_labels, "train")
    assert encoded_train is not None
    return EncodedLabels(encoded_train, encode(valid_labels, "validation"), classes)


def require_finite(data: TrainingData, algorithm: str) -> None:
    """Reject missing feature values for algorithms that cannot handle them (naming the column)."""
    for channel, table in (("train", data.train), ("validation", data.validation)):
        if table is None:
            continue
        missing = ~np.isfinite(table.features)
        if missing.any():
            column = table.feature_names[int(np.nonzero(missing.any(axis=0))[0][0])]
            raise _channel_error(
                channel,
                f"feature {column!r} has missing or non-finite values, which {algorithm} "
                "cannot handle; fill them in the dataset (xgboost and lightgbm accept them)",
            )
