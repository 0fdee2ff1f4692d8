"""CSV files read in many blocks come out exactly as a one-go read of the same file.

The server reads a CSV in blocks of ``BLOCK_SIZE`` bytes cut at line breaks outside
quoted values, the first through Arrow's streaming reader (which infers the types), the
others with ``read_csv`` in pieces of ``CSV_PIECE_SIZE`` on threads (in one piece if a
quoted value in them holds a line break); a later value that does not fit the inferred
type widens its column and the file is read again. Shrinking both sizes to a few KiB
makes small files cross many block and piece edges.
"""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

import opensage
from opensage.datasets import ingest

BLOCK = 4 * 1024
PIECE = 1024


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of 4 KiB parsed in pieces of 1 KiB (the app runs in-process: this reaches it)."""
    monkeypatch.setattr(ingest, "BLOCK_SIZE", BLOCK)
    monkeypatch.setattr(ingest, "CSV_PIECE_SIZE", PIECE)


def _one_go(path: Path, delimiter: str = ",") -> pa.Table:
    """The file read in one block, as a reference."""
    return pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=path.stat().st_size + 1),
        parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
    )


def _blocks(path: Path) -> list[bytes]:
    """The file cut at line breaks regardless of quotes (as a naive reader would)."""
    with open(path, "rb") as handle:
        return [bytes(block) for block, _ in ingest._line_blocks(handle, BLOCK, quote=None)]


def _assert_same(
    client: opensage.Client, path: Path, name: str, delimiter: str | None = None
) -> opensage.Dataset:
    """Create a dataset from ``path``; its data must equal the one-go read, value for value
    and type for type, and pandas' reading of the file."""
    assert path.stat().st_size > 4 * BLOCK, "the file must span several blocks"
    dataset = client.datasets.create(path, name=name, delimiter=delimiter)
    stored = pq.read_table(dataset.latest.artifact_url)
    expected = _one_go(path, delimiter or ("\t" if path.suffix == ".tsv" else ","))
    assert stored.schema.names == expected.schema.names
    assert stored.schema.types == expected.schema.types
    assert stored.num_rows == expected.num_rows == dataset.num_rows
    for column in expected.column_names:
        assert stored.column(column).to_pylist() == expected.column(column).to_pylist(), column
    from_pandas = pd.read_csv(path, sep=delimiter or ("\t" if path.suffix == ".tsv" else ","))
    pd.testing.assert_frame_equal(dataset.to_pandas(), from_pandas, check_dtype=False)
    return dataset


def _numbers(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(rows),
            "count": rng.integers(-1000, 1000, rows),
            "value": rng.normal(0, 100, rows).round(3),
            "ratio": rng.random(rows).round(6),
        }
    )


def _write(path: Path, text: str, *, newline: str = "\n", bom: bool = False) -> Path:
    data = text.replace("\n", newline).encode()
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def test_plain_numeric_csv(client: opensage.Client, tmp_path: Path) -> None:
    path = tmp_path / "numbers.csv"
    _numbers(3000).to_csv(path, index=False)
    dataset = _assert_same(client, path, "numbers")
    assert [c.type for c in dataset.columns] == ["integer", "integer", "float", "float"]
    assert len(_blocks(path)) > 10


def test_crlf_line_endings(client: opensage.Client, tmp_path: Path) -> None:
    path = _write(tmp_path / "crlf.csv", _numbers(2000).to_csv(index=False), newline="\r\n")
    assert b"\r\n" in path.read_bytes()
    dataset = _assert_same(client, path, "crlf")
    assert dataset.to_pandas()["ratio"].dtype == np.float64  # no stray "\r" left on values


def test_utf8_byte_order_mark(client: opensage.Client, tmp_path: Path) -> None:
    frame = _numbers(2000).assign(city=lambda f: np.where(f["id"] % 3, "Zürich", "Kraków"))
    path = _write(tmp_path / "bom.csv", frame.to_csv(index=False), bom=True)
    dataset = _assert_same(client, path, "bom")
    assert dataset.columns[0].name == "id"


def test_last_line_without_line_break(client: opensage.Client, tmp_path: Path) -> None:
    for newline in ("\n", "\r\n"):
        text = _numbers(1500).to_csv(index=False).rstrip("\n").replace("\n", newline)
        name = "no-final-lf" if newline == "\n" else "no-final-crlf"
        path = tmp_path / f"{name}.csv"
        path.write_bytes(text.encode())
        assert not path.read_bytes().endswith(b"\n")
        dataset = _assert_same(client, path, name)
        assert dataset.to_pandas()["id"].iloc[-1] == 1499


def test_tab_separated(client: opensage.Client, tmp_path: Path) -> None:
    frame = _numbers(2000).assign(text=lambda f: "a, b " + f["id"].astype(str))
    tsv = tmp_path / "numbers.tsv"
    frame.to_csv(tsv, index=False, sep="\t")
    dataset = _assert_same(client, tsv, "tsv")
    assert dataset.to_pandas()["text"].iloc[5] == "a, b 5"
    semicolons = tmp_path / "semicolons.txt"
    frame.to_csv(semicolons, index=False, sep=";")
    dataset = client.datasets.create(semicolons, name="semi", format="csv", delimiter=";")
    pd.testing.assert_frame_equal(dataset.to_pandas(), frame, check_dtype=False)


def test_quoted_fields_with_commas_from_the_start(client: opensage.Client, tmp_path: Path) -> None:
    frame = _numbers(2000).assign(name=lambda f: "Doe, J. " + f["id"].astype(str))
    path = tmp_path / "quoted.csv"
    frame.to_csv(path, index=False)
    assert b'"' in _blocks(path)[0]
    _assert_same(client, path, "quoted")


def test_quoted_fields_with_commas_only_late(client: opensage.Client, tmp_path: Path) -> None:
    frame = _numbers(3000).assign(name=lambda f: "plain " + f["id"].astype(str))
    frame.loc[2000::7, "name"] = "late, with a comma"
    path = tmp_path / "late-quotes.csv"
    frame.to_csv(path, index=False)
    blocks = _blocks(path)
    assert b'"' not in blocks[0] and b'"' in blocks[-1]
    _assert_same(client, path, "late-quotes")


def _multiline(rows: int, every: int, start: int = 0, seed: int = 0) -> str:
    """CSV text whose ``text`` column holds quoted values with line breaks (and commas and
    doubled quotes) from row ``start`` on, in every ``every``-th row."""
    rng = np.random.default_rng(seed)
    lines = ["id,text,x"]
    for i in range(rows):
        if i >= start and i % every == 0:
            filler = "y" * int(rng.integers(0, 300))
            lines.append(f'{i},"first, line\n{filler}\n""third"" line {i}",{i * 0.5}')
        else:
            lines.append(f"{i},plain {'z' * int(rng.integers(0, 60))},{i * 0.5}")
    return "\n".join(lines) + "\n"


def _cuts_inside_quotes(path: Path) -> int:
    """How many of the line-break cuts between blocks fall inside a quoted value."""
    inside, count = False, 0
    for block in _blocks(path)[:-1]:
        inside ^= block.count(b'"') % 2 == 1
        count += inside
    return count


@pytest.mark.parametrize("start", [0, 1500], ids=["from-the-start", "only-late"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_quoted_line_breaks_across_block_edges(
    client: opensage.Client, tmp_path: Path, start: int, newline: str
) -> None:
    path = _write(tmp_path / "multiline.csv", _multiline(2500, 9, start), newline=newline)
    assert _cuts_inside_quotes(path) > 3  # the naive cuts would split quoted values
    dataset = _assert_same(client, path, "multiline")
    texts = dataset.to_pandas()["text"]
    row = start + 9 - start % 9 if start % 9 else start
    assert texts[row].startswith(f"first, line{newline}") and '"third" line' in texts[row]


def test_a_quoted_line_break_right_at_a_cut_does_not_shift_rows(
    client: opensage.Client, tmp_path: Path
) -> None:
    # The quoted value is the last field and what follows its line break has as many
    # commas as a row has: parsing the blocks on their own would silently make two rows.
    def layout(rows: int) -> str:
        head = "".join(f"k{i},t{i},v{i}\n" for i in range(rows))
        tail = "".join(f"k{i},t{i},v{i}\n" for i in range(5000, 6000))
        return f'id,text,x\n{head}k,v,"p\nq,r,s"\n{tail}'

    for rows in range(560, 2000):
        path = _write(tmp_path / "edge.csv", layout(rows))
        if any(block.endswith(b',"p\n') for block in _blocks(path)[1:]):
            break
    else:  # pragma: no cover - the layout search is deterministic
        pytest.fail("no layout puts a cut right after the quoted line break")
    dataset = _assert_same(client, path, "edge")
    frame = dataset.to_pandas()
    assert frame.loc[frame["id"] == "k", "x"].tolist() == ["p\nq,r,s"]


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_only_blocks_whose_quoted_values_hold_line_breaks_are_flagged(
    tmp_path: Path, newline: str
) -> None:
    # Those blocks are parsed in one piece; the others, quoted or not, in pieces on threads.
    rows = [f'{i},"quoted, {i}",plain {i}' for i in range(2000)]
    rows[1200] = '1200,"two' + newline + 'lines",plain'
    path = tmp_path / "flags.csv"
    path.write_bytes(("id,text,other" + newline + newline.join(rows) + newline).encode())
    with open(path, "rb") as handle:
        blocks = [
            (bytes(block), breaks)
            for block, breaks in ingest._line_blocks(handle, BLOCK, quote=b'"')
        ]
    flagged = [block for block, breaks in blocks if breaks]
    assert len(blocks) > 10
    assert len(flagged) == 1
    assert b'1200,"two' + newline.encode() + b'lines"' in flagged[0]
    assert b"".join(block for block, _ in blocks) == path.read_bytes()


def _quoting_reference(data: bytes, row_start: int) -> tuple[int, bool]:
    """``_row_end`` worked out byte by byte, as Arrow reads quotes: where the last row ends
    (after the last line break outside quoted values; -1 if none), and whether a quoted
    value before there holds a line break."""
    line_break = b"\n" if b"\n" in data else b"\r"
    outside: list[int] = []  # line breaks outside quoted values
    inside: list[int] = []  # line breaks inside them
    state, i = "start", row_start  # start of a field, in a field, in a quoted value
    while i < len(data):
        char = data[i : i + 1]
        if state == "quoted":
            if char == b'"':
                if data[i + 1 : i + 2] == b'"':
                    i += 1  # two quotes stand for one
                else:
                    state = "field"
            elif char in b"\r\n":
                inside.append(i)
        elif char == b'"' and state == "start":
            state = "quoted"
        elif char in (b",", b"\n", b"\r"):
            state = "start"
            if char == line_break:
                outside.append(i)
        else:
            state = "field"
        i += 1
    if not outside:
        return -1, False
    cut = outside[-1]
    return cut + 1, any(position < cut for position in inside)


def _quoted_rows(rnd: random.Random) -> bytes:
    """Rows of quoted and plain fields: mostly well formed (each value opened at a field
    start and closed by the next quote), now and then a line break, a doubled quote or a
    quote inside a plain field."""
    rows = []
    odd_share = rnd.choice([0.0, 0.03])  # a block without anything odd, or with some
    for _ in range(rnd.randint(1, 30)):
        fields = []
        for _ in range(rnd.randint(1, 4)):
            text = "".join(rnd.choice("ab ,") for _ in range(rnd.randint(0, 6)))
            odd = rnd.random()
            if odd < odd_share:
                text += rnd.choice(["\n", "\r\n", '""'])
            if rnd.random() < 0.5:
                fields.append(f'"{text}"')
            else:
                fields.append(text.replace(",", "") + ('x"y' if odd > 1 - odd_share else ""))
        rows.append(",".join(fields))
    text = rnd.choice(["\n", "\r\n"]).join(rows)
    cut = rnd.randint(0, len(text))  # a block ends anywhere
    return text[:cut].encode()


@pytest.mark.parametrize("gather_share", [0.0, 1.0], ids=["line breaks", "inside bytes"])
@pytest.mark.parametrize("family", ["random bytes", "quoted rows"])
def test_row_ends_follow_arrows_quoting(
    monkeypatch: pytest.MonkeyPatch, family: str, gather_share: float
) -> None:
    # Random blocks through ``_row_end`` (each of its paths: runs of single quotes opened
    # and closed in turn, doubled quotes, quotes in plain fields; line breaks in quoted
    # values found either way) against a byte-by-byte reading.
    monkeypatch.setattr(ingest, "GATHER_SHARE", gather_share)
    rnd = random.Random(7)
    for _ in range(3000):
        if family == "random bytes":
            data = bytes(rnd.choice(b'aa,,""\n\r') for _ in range(rnd.randint(0, 120)))
        else:
            data = _quoted_rows(rnd)
        bom = rnd.random() < 0.1
        block = bytearray((b"\xef\xbb\xbf" if bom else b"") + data)
        got = ingest._row_end(block, len(block), b'"', b",", bom=bom)
        assert got == _quoting_reference(bytes(block), 3 if bom else 0), bytes(block)


def test_late_values_widen_int_to_float_and_to_string(
    client: opensage.Client, tmp_path: Path
) -> None:
    frame = _numbers(3000)
    text = frame.to_csv(index=False).splitlines()
    # Row 2000: count becomes float; row 2500: ratio (float) becomes string; row 2800:
    # id goes int → float → string.
    text[2001] = text[2001].replace(f",{frame['count'][2000]},", ",12.5,")
    text[2501] = ",".join([*text[2501].split(",")[:3], "unknown"])
    text[2701] = text[2701].replace("2700,", "2700.5,", 1)
    text[2801] = text[2801].replace("2800,", "id-2800,", 1)
    path = _write(tmp_path / "widen.csv", "\n".join(text) + "\n")
    assert path.read_bytes().index(b"2000,12.5,") > 10 * BLOCK
    dataset = _assert_same(client, path, "widen")
    types = {c.name: c.type for c in dataset.columns}
    assert types == {"id": "string", "count": "float", "value": "float", "ratio": "string"}
    assert dataset.to_pandas()["count"][2000] == 12.5


def test_late_widening_after_quotes(client: opensage.Client, tmp_path: Path) -> None:
    lines = _multiline(2500, 11, start=1000).splitlines()
    lines = [x.replace(",1200.0", ",oops") if x.startswith("2400,") else x for x in lines]
    path = _write(tmp_path / "widen-quoted.csv", "\n".join(lines) + "\n")  # x: float → string
    assert b'"' not in _blocks(path)[0] and b"oops" in path.read_bytes()
    dataset = _assert_same(client, path, "widen-quoted")
    assert {c.name: c.type for c in dataset.columns}["x"] == "string"


def test_lines_longer_than_a_piece_or_a_block(client: opensage.Client, tmp_path: Path) -> None:
    frame = _numbers(2500).assign(note="n")
    frame.loc[1500, "note"] = "w" * (3 * PIECE)  # longer than a piece
    frame.loc[2000, "note"] = "v" * (2 * BLOCK)  # longer than a block
    path = tmp_path / "long-lines.csv"
    frame.to_csv(path, index=False)
    dataset = _assert_same(client, path, "long-lines")
    assert dataset.to_pandas()["note"][2000] == "v" * (2 * BLOCK)


def test_quoted_values_longer_than_a_block(client: opensage.Client, tmp_path: Path) -> None:
    rows = [f"{i},plain,{i}" for i in range(1500)]
    rows[700] = f'700,"{"q" * (2 * BLOCK)}\nmore, and more",700'
    rows[1200] = f'1200,"{"r" * BLOCK}\r\n{"s" * BLOCK}",1200'
    path = _write(tmp_path / "big-values.csv", "a,b,c\n" + "\n".join(rows) + "\n")
    dataset = _assert_same(client, path, "big-values")
    assert dataset.to_pandas()["b"][700] == "q" * (2 * BLOCK) + "\nmore, and more"


def test_a_quoted_line_break_in_a_last_line_without_line_break(
    client: opensage.Client, tmp_path: Path
) -> None:
    text = _multiline(1500, 50) + '1500,"last\nvalue, unterminated line",750.0'
    path = _write(tmp_path / "last-quoted.csv", text)
    dataset = _assert_same(client, path, "last-quoted")
    assert dataset.to_pandas()["text"].iloc[-1] == "last\nvalue, unterminated line"


def test_byte_order_mark_before_a_quoted_header(client: opensage.Client, tmp_path: Path) -> None:
    text = _multiline(2000, 7).replace("id,text,x", '"id","te\nxt","x"', 1)
    path = _write(tmp_path / "bom-quoted.csv", text, bom=True)
    dataset = _assert_same(client, path, "bom-quoted")
    assert [c.name for c in dataset.columns] == ["id", "te\nxt", "x"]


def test_columns_empty_in_the_first_block_take_their_type_from_later_values(
    client: opensage.Client, tmp_path: Path
) -> None:
    rows = [f"{i},,,,2024-01-{i % 28 + 1:02d}" for i in range(3000)]
    rows[2000] = "2000,7,1,yes,2024-01-01"
    rows[2500] = "2500,8,2.5,no,not a date"
    rows[2900] = "2900,9,3,,2024-02-30"
    path = _write(tmp_path / "sparse.csv", "id,n,f,s,day\n" + "\n".join(rows) + "\n")
    assert path.read_bytes().index(b"2000,7,") > 4 * BLOCK
    dataset = _assert_same(client, path, "sparse")
    types = {c.name: c.type for c in dataset.columns}
    assert types == {"id": "integer", "n": "integer", "f": "float", "s": "string", "day": "string"}


def _random_csv(seed: int) -> bytes:
    """A CSV as Python's csv module writes it (quoted values with commas, quotes, line
    breaks), now and then a line with quotes inside unquoted fields (plain characters to
    Arrow), LF or CRLF, with or without a final line break and a byte order mark."""
    rnd = random.Random(seed)
    columns = rnd.randint(1, 4)
    buffer = io.StringIO()
    writer = csv.writer(
        buffer,
        lineterminator=rnd.choice(["\n", "\r\n"]),
        quoting=rnd.choice([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]),
    )
    writer.writerow([f"c{i}" for i in range(columns)])

    def value() -> str:
        if rnd.random() < 0.3:
            return str(rnd.randint(-99, 99))
        tokens = ["a", "b", " ", ",", "\n", "\r\n", '"', "x", ";"]
        return "".join(rnd.choice(tokens) for _ in range(rnd.randint(0, 40)))

    for _ in range(rnd.randint(200, 600)):
        writer.writerow([value() for _ in range(columns)])
        if rnd.random() < 0.05:
            buffer.write(",".join(f'v{rnd.randint(0, 9)}"x"' for _ in range(columns)) + "\n")
    text = buffer.getvalue()
    if rnd.random() < 0.3:
        text = text.rstrip("\r\n")
    return (b"\xef\xbb\xbf" if rnd.random() < 0.2 else b"") + text.encode()


@pytest.mark.parametrize("seed", range(40))
def test_random_quoted_csv_reads_as_in_one_go(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, seed: int
) -> None:
    # Straight through the converter (as the service calls it), with blocks so small that
    # every few rows are a block; the service's retry loop on ``Widen`` is reproduced.
    monkeypatch.setattr(ingest, "BLOCK_SIZE", 256)
    monkeypatch.setattr(ingest, "CSV_PIECE_SIZE", 64)
    path = tmp_path / "random.csv"
    path.write_bytes(_random_csv(seed))
    types: dict[str, str | pa.DataType] = {}
    for _ in range(50):
        target = io.BytesIO()
        try:
            with open(path, "rb") as source:
                ingest.convert_to_parquet(source, "csv", target, column_types=types)
            break
        except ingest.Widen as widen:
            types[widen.column] = widen.to
    expected = _one_go(path)
    stored = pq.read_table(io.BytesIO(target.getvalue()))
    assert stored.schema.names == expected.schema.names
    assert stored.num_rows == expected.num_rows
    for column in expected.column_names:
        assert stored.column(column).to_pylist() == expected.column(column).to_pylist(), column


def _upload(http: TestClient, content: bytes, filename: str) -> str:
    response = http.post("/api/v1/uploads", params={"filename": filename}, content=content)
    assert response.status_code == 201, response.text
    return str(response.json()["source"])


def test_a_quote_never_closed_is_a_clear_422(http: TestClient) -> None:
    # Everything after the quote is one value, and a value may span a few blocks only:
    # a clear error, never a 500, wrong data or the whole file in memory.
    rows = [f"{i},plain,{i}" for i in range(5000)]
    rows[1000] = '1000,"never closed,1000'
    content = ("a,b,c\n" + "\n".join(rows) + "\n").encode()
    assert len(content) - content.index(b"never") > (ingest.MAX_ROW_BLOCKS + 1) * BLOCK
    source = _upload(http, content, "unclosed.csv")

    response = http.post("/api/v1/datasets", json={"name": "unclosed", "source": source})

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input" and error["field"] == "source"
    limit = ingest.MAX_ROW_BLOCKS * BLOCK
    assert f"a row is longer than {limit} bytes" in error["message"]
    assert "never closed" in error["message"]
    assert http.get("/api/v1/datasets/unclosed").status_code == 404
