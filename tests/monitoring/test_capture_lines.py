"""The one-pass reader of the data plane's own single-row CSV capture lines: it reads
exactly what the JSON reader reads, and declines every line it does not fully know."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pytest

from opensage.monitoring import captured
from opensage.monitoring.capture_lines import layout, read_own_lines
from opensage.serving.capture import capture_line
from opensage.storage import ArtifactStore

START = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
FEATURES = ["a", "b", "c"]


def line(
    body: str,
    output: str = "1.5\n",
    *,
    seconds: float = 0.0,
    event: str = "e",
    inference_id: str | None = None,
    content_type: str = "text/csv",
    accept: str = "text/csv",
) -> bytes:
    return capture_line(
        event,
        "AllTraffic",
        content_type,
        body.encode(),
        accept,
        output.encode(),
        START + timedelta(seconds=seconds),
        inference_id,
    )


def group(*lines: bytes) -> pa.Buffer:
    return pa.py_buffer(b"\n".join(lines) + b"\n")


def test_the_layout_follows_the_writer() -> None:
    shape = layout(3)
    assert shape is not None
    assert shape.width == 3 and shape.fields == len(line("7,7,7").decode().split(","))
    assert shape.first.prefix == '"data":"' and shape.last_suffix == '"'
    assert shape.output.suffix == '\\n"'
    assert layout(1) is None  # one value: prefix and suffix in one field; the JSON reader


def test_reads_values_times_events_and_predictions() -> None:
    rows = [
        ("1.5", "-2", "3e2", "10.25\n", 0.25),
        ("0", "7", "-0.001", "-4\n", 1.0),
        ("12345.678", "1e-05", "4", "0.5\n", 2.5),
    ]
    own = read_own_lines(
        group(
            *(
                line(f"{a},{b},{c}", out, seconds=s, event=f"ev{i}")
                for i, (a, b, c, out, s) in enumerate(rows)
            )
        ),
        3,
    )
    assert own is not None
    columns = [captured._floats(v) for v in own.values]
    expected = np.array([[float(v) for v in r[:3]] for r in rows])
    np.testing.assert_array_equal(np.column_stack(columns), expected)
    assert captured._floats(own.predictions).tolist() == [10.25, -4.0, 0.5]
    assert own.events.to_pylist() == ["ev0", "ev1", "ev2"]
    assert [t.as_py() for t in own.times] == [START + timedelta(seconds=r[4]) for r in rows]


@pytest.mark.parametrize(
    "odd",
    [
        line("1,2\n3,4,5"),  # two rows
        line("1,2,3", inference_id="mine"),  # an inference id
        line('"1",2,3'),  # quoted values
        line("1,2,3", "1.5,2.5\n"),  # two outputs per row
        line("1,2,3,4"),  # an extra column
        line("1,2"),  # a missing one
        line("1,x,3"),  # text among the middle values
        line('{"instances": [[1, 2, 3]]}', content_type="application/json"),
        line("1,2,3", '{"predictions": [1.5]}', accept="application/json"),
        line("1,2,3\t", "1.5\n"),  # an escape other than a line end
    ],
)
def test_declines_lines_it_does_not_fully_know(odd: bytes) -> None:
    plain = line("1,2,3")
    assert read_own_lines(group(plain, plain), 3) is not None
    assert read_own_lines(group(plain, odd, plain), 3) is None


def test_declines_lines_of_another_writer() -> None:
    record = orjson.loads(line("1,2,3"))
    reordered = {"eventMetadata": record["eventMetadata"], **record}
    assert read_own_lines(group(orjson.dumps(reordered)), 3) is None
    record["captureData"]["endpointInput"]["encoding"] = "BASE64"
    record["captureData"]["endpointInput"]["data"] = base64.b64encode(b"1,2,3").decode()
    assert read_own_lines(group(orjson.dumps(record)), 3) is None


def _window(store: ArtifactStore, lines: list[bytes]) -> captured.Window:
    key = f"endpoints/ep/data-capture/AllTraffic/{START:%Y/%m/%d/%H}/part.jsonl"
    store.put_bytes(b"\n".join(lines) + b"\n", key)
    return captured.read_window(store, "ep", START, START + timedelta(minutes=5), FEATURES)


def test_reads_the_same_as_the_json_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    lines = [
        line(
            f"{float(a)!r},{int(b)},{float(c)!r}",
            f"{float(p)!r}\n",
            seconds=i * 0.01,
            event=f"e{i}",
        )
        for i, (a, b, c, p) in enumerate(
            zip(
                rng.normal(size=300),
                rng.integers(-5, 5, 300),
                rng.lognormal(size=300),
                rng.normal(size=300),
                strict=True,
            )
        )
    ]
    lines += [
        line(",2,3", seconds=4.0, event="empty-first"),
        line("1,2,", seconds=4.1, event="empty-last"),
        line("abc,2,3", seconds=4.2, event="text-first"),
        line("1,2,n/a", seconds=4.3, event="text-last"),
        line("1,2,3\n", seconds=4.4, event="trailing-line-end"),
        line("1,2,3", seconds=600.0, event="after-the-window"),
    ]
    store = ArtifactStore(str(tmp_path / "fast"))
    fast = _window(store, lines)
    used: list[bool] = []
    real = captured.read_own_lines

    def spy(data: pa.Buffer, width: int) -> object:
        result = real(data, width)
        used.append(result is not None)
        return result

    monkeypatch.setattr(captured, "read_own_lines", spy)
    _window(ArtifactStore(str(tmp_path / "spied")), lines)
    assert used == [True]
    monkeypatch.setattr(captured, "read_own_lines", lambda data, width: None)
    slow = _window(ArtifactStore(str(tmp_path / "slow")), lines)
    assert fast.records == slow.records == 305 and fast.rows == slow.rows == 305
    for name in FEATURES:
        one, other = fast.columns[name], slow.columns[name]
        np.testing.assert_array_equal(one.values, other.values)
        assert (one.missing, one.non_numeric) == (other.missing, other.non_numeric)
        assert one.examples == other.examples
    assert fast.columns["a"].non_numeric == 1 and fast.columns["c"].non_numeric == 1
    assert fast.columns["a"].missing == 2 and fast.columns["c"].missing == 2
    assert fast.predictions is not None and slow.predictions is not None
    np.testing.assert_array_equal(fast.predictions, slow.predictions)
    assert fast.event_ids is not None and slow.event_ids is not None
    assert fast.event_ids.to_pylist() == slow.event_ids.to_pylist()
    assert "after-the-window" not in fast.event_ids.to_pylist()
    assert (fast.extra_columns, fast.missing_columns) == ([], [])
