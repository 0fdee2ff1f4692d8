"""Cutting a job's input files into parts: the units the worker processes claim.

A part is a range of records of one file: rows of a Parquet file, or whole lines of a
CSV / JSON Lines file (SageMaker's ``SplitType: Line``). Lines are counted once here,
streaming, so the job knows its total rows, each part knows the number of its first row
in its file (for error messages), and parts can be read in parallel in any order while
the output is assembled in input order.
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import pyarrow.parquet as pq

FileKind = Literal["parquet", "csv", "jsonl"]
SCAN_BYTES = 8 << 20
MIN_PART_BYTES = 64 << 10
MAX_PART_BYTES = 256 << 20
# The smallest parts, at the end, are about a worker's share of the input over this: about
# how far apart, at most, the workers run out of work.
TAIL_PARTS_PER_WORKER = 16
# A blank line (no record): CSV readers skip empty lines, JSON readers whitespace too.
_BLANK = {
    "csv": re.compile(rb"\n(?=\r?\n)"),
    "jsonl": re.compile(rb"\n(?=[ \t\r]*\n)"),
}


@dataclass(frozen=True)
class Part:
    """Records ``[start, stop)`` of a file: byte offsets of whole lines, or Parquet rows."""

    index: int
    path: str
    source: str
    """The file's name as the user knows it (errors name it; outputs are named after it)."""
    kind: FileKind
    start: int
    stop: int
    first_row: int
    """Number (from 0) of the part's first record in its file."""
    rows: int

    def describe_row(self, offset: int) -> str:
        """Where the part's ``offset``-th record is, for a user: file and row (from 1)."""
        return f"{self.source}, row {self.first_row + offset + 1}"

    def describe_rows(self, offset: int, count: int) -> str:
        """Where ``count`` records from the ``offset``-th are: file and rows (from 1)."""
        first = self.first_row + offset + 1
        return f"{self.source}, rows {first}-{first + count - 1}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Part:
        return cls(**data)


class PartSizes:
    """How large each next part is: guided self-scheduling. A part takes 1 / (2 x
    workers) of the work not yet in a part (within ``smallest`` and ``largest``), so the
    first parts are large (few claims, few files) and the last ones small: the workers,
    claiming parts in order, run out of work at most about one smallest part apart."""

    def __init__(self, total: int, workers: int, smallest: int, largest: int) -> None:
        self.left = total
        self.workers = max(1, workers)
        self.smallest = max(1, smallest)
        self.largest = max(self.smallest, largest)

    def next(self) -> int:
        """The size of the next part (the caller may end it a little later)."""
        share = math.ceil(self.left / (2 * self.workers))
        return max(self.smallest, min(self.largest, share))

    def taken(self, amount: int) -> None:
        """A part of ``amount`` was cut."""
        self.left = max(0, self.left - amount)


def row_sizes(total_rows: int, workers: int, batch_size: int) -> PartSizes:
    """Part sizes for Parquet rows: the smallest holds at most ``batch_size`` rows."""
    tail = math.ceil(total_rows / (max(1, workers) * TAIL_PARTS_PER_WORKER))
    return PartSizes(total_rows, workers, min(batch_size, tail), max(total_rows, 1))


def byte_sizes(total_bytes: int, workers: int) -> PartSizes:
    """Part sizes for line files, in bytes, within ``MIN_PART_BYTES`` and
    ``MAX_PART_BYTES``."""
    tail = math.ceil(total_bytes / (max(1, workers) * TAIL_PARTS_PER_WORKER))
    return PartSizes(total_bytes, workers, max(MIN_PART_BYTES, tail), MAX_PART_BYTES)


def plan_parquet(path: Path, source: str, sizes: PartSizes | int, first_index: int) -> list[Part]:
    """Parts of a Parquet file, of about ``sizes`` rows (a fixed number, or guided).

    A part ends where a row group ends when one is within half its size: a row group is
    decoded from its first row, so a part that starts inside one also decodes the rows
    before it.
    """
    metadata = pq.ParquetFile(path).metadata
    total = metadata.num_rows
    group_ends = list(
        itertools.accumulate(metadata.row_group(g).num_rows for g in range(metadata.num_row_groups))
    )
    parts: list[Part] = []
    start = 0
    while start < total:
        size = _next(sizes)
        stop = _near_group_end(group_ends, start, min(total, start + size), size // 2)
        _taken(sizes, stop - start)
        index = first_index + len(parts)
        parts.append(Part(index, str(path), source, "parquet", start, stop, start, stop - start))
        start = stop
    return parts


def _near_group_end(group_ends: list[int], start: int, stop: int, slack: int) -> int:
    """The row group end after ``start`` nearest to ``stop`` if at most ``slack`` rows
    away, else ``stop``."""
    at = bisect.bisect_left(group_ends, stop)
    near = [group_ends[i] for i in (at - 1, at) if 0 <= i < len(group_ends)]
    near = [end for end in near if end > start and abs(end - stop) <= slack]
    return min(near, key=lambda end: abs(end - stop)) if near else stop


def plan_lines(
    path: Path, source: str, kind: FileKind, sizes: PartSizes | int, first_index: int
) -> list[Part]:
    """Parts of whole lines, of about ``sizes`` bytes (a fixed number, or guided), with
    their record counts."""
    parts: list[Part] = []
    ranges = _line_ranges(path, _BLANK[kind], sizes)
    for start, stop, first_row, rows in ranges:
        parts.append(
            Part(first_index + len(parts), str(path), source, kind, start, stop, first_row, rows)
        )
    return parts


def _next(sizes: PartSizes | int) -> int:
    return sizes if isinstance(sizes, int) else sizes.next()


def _taken(sizes: PartSizes | int, amount: int) -> None:
    if isinstance(sizes, PartSizes):
        sizes.taken(amount)


def _line_ranges(
    path: Path, blank: re.Pattern[bytes], sizes: PartSizes | int
) -> Iterator[tuple[int, int, int, int]]:
    """``(start, stop, first_row, rows)`` of each part; parts without records are left out."""
    target_bytes = _next(sizes)
    part_start = 0
    rows = 0
    file_rows = 0
    position = 0  # file offset of ``buffer[0]``
    carry = b""
    with open(path, "rb") as handle:
        while chunk := handle.read(SCAN_BYTES):
            buffer = carry + chunk
            end = buffer.rfind(b"\n") + 1  # the complete lines end here
            offset = 0
            while offset < end:
                wanted = part_start + target_bytes - position
                if wanted > end:
                    rows += _records(buffer[offset:end], blank)
                    offset = end
                    break
                cut = buffer.find(b"\n", max(wanted - 1, offset)) + 1
                rows += _records(buffer[offset:cut], blank)
                if rows:
                    yield part_start, position + cut, file_rows, rows
                file_rows += rows
                rows = 0
                _taken(sizes, position + cut - part_start)
                target_bytes = _next(sizes)
                part_start = position + cut
                offset = cut
            carry = buffer[end:]
            position += end
    if carry:
        rows += _records(carry + b"\n", blank)
    if rows:
        yield part_start, position + len(carry), file_rows, rows


def _records(lines: bytes, blank: re.Pattern[bytes]) -> int:
    """Records in ``lines`` (whole lines, each ending in a newline): the non-blank ones."""
    return lines.count(b"\n") - len(blank.findall(b"\n" + lines))
