"""Part outputs: predictions as CSV lines, the fast way where it applies, Arrow's otherwise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from opensage.transform.encoding import PartWriter, csv_lines
from opensage.transform.records import RecordError


def arrow_csv(values: np.ndarray) -> bytes:
    """What Arrow's CSV writer makes of the same predictions, one column per output."""
    columns = [values] if values.ndim == 1 else [values[:, i] for i in range(values.shape[1])]
    sink = pa.BufferOutputStream()
    table = pa.table({f"c{i}": column for i, column in enumerate(columns)})
    pacsv.write_csv(table, sink, write_options=pacsv.WriteOptions(include_header=False))
    return bytes(sink.getvalue().to_pybytes())


def read_back(text: bytes, dtype: np.dtype) -> np.ndarray:
    rows = [line.split(b",") for line in text.splitlines()]
    return np.array([[dtype.type(float(v)) for v in row] for row in rows], dtype=dtype)


EXTREMES = [0.0, -0.0, 1e-7, 0.1, 1 / 3, 838.0, 123456789.0, -2.5e-12, 3.0e38, 1.2e-38]
rng = np.random.default_rng(7)


@pytest.mark.parametrize(
    "values",
    [
        np.array(EXTREMES, dtype=np.float32),
        np.array([*EXTREMES, 1e300, 5e-324], dtype=np.float64),
        (rng.random(5000) * 900 + 100).astype(np.float32),
        rng.random((300, 3)).astype(np.float32),  # class probabilities
        rng.normal(size=(7, 2)),
        np.array([3, 0, -4, 2**40], dtype=np.int64),
        np.array([[1, 2], [3, 4]], dtype=np.uint8),
        np.asfortranarray(rng.random((50, 4))),  # not C-contiguous
    ],
    ids=["f32-extremes", "f64-extremes", "f32", "f32-2d", "f64-2d", "int", "uint8-2d", "fortran"],
)
def test_fast_csv_lines_read_back_as_the_same_values_as_arrows(values: np.ndarray) -> None:
    lines = csv_lines(values)
    assert lines is not None
    expected = arrow_csv(values)
    assert lines.count(b"\n") == expected.count(b"\n") == values.shape[0]
    got = read_back(lines, values.dtype)
    np.testing.assert_array_equal(got, read_back(expected, values.dtype))
    np.testing.assert_array_equal(got.reshape(values.shape), values)
    assert np.signbit(got).tolist() == np.signbit(values.reshape(got.shape)).tolist()


@pytest.mark.parametrize(
    "values",
    [
        np.array([1.0, np.nan, 2.0], dtype=np.float32),  # orjson would write null
        np.array([np.inf, -1.0]),
        np.array([True, False]),
        np.array(["a", "b"]),
        np.zeros((2, 0)),
        np.zeros((1, 1, 1)),
    ],
)
def test_what_the_fast_lines_cannot_write_is_left_to_arrow(values: np.ndarray) -> None:
    assert csv_lines(values) is None


def test_a_part_writes_fast_and_arrow_batches_in_order(tmp_path: Path) -> None:
    path = tmp_path / "part-000000.csv"
    first = np.array([1.5, 2.0], dtype=np.float32)
    second = np.array([np.nan, 4.25], dtype=np.float32)
    with PartWriter(path, "csv") as writer:
        writer.write(2, None, first, "rows 1-2")
        writer.write(2, None, second, "rows 3-4")
    assert path.read_bytes() == csv_lines(first) + arrow_csv(second)
    assert [float(v) for v in path.read_bytes().splitlines()] == pytest.approx(
        [1.5, 2.0, np.nan, 4.25], nan_ok=True
    )


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
@pytest.mark.parametrize(
    ("predictions", "message"),
    [
        (np.zeros(3), "returned 3 predictions for 2 rows"),
        (np.float32(1.0), "returned 1 predictions for 2 rows"),
        (np.zeros((2, 2, 2)), r"returned predictions of shape \(2, 2, 2\)"),
    ],
)
def test_predictions_of_the_wrong_shape_fail_the_part_whatever_the_format(
    tmp_path: Path, fmt: str, predictions: np.ndarray, message: str
) -> None:
    path = tmp_path / f"part-000000.{fmt}"
    with (
        pytest.raises(RecordError, match=f"rows 1-2: the model {message}"),
        PartWriter(path, fmt) as writer,  # type: ignore[arg-type]
    ):
        writer.write(2, None, predictions, "rows 1-2")
    assert list(tmp_path.iterdir()) == []  # nothing left behind
