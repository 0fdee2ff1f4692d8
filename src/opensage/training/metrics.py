"""Metric values read from a job's log: SageMaker-style regexes and ``log_metric`` lines."""

from __future__ import annotations

import json
import math
import re
from datetime import datetime

from opensage.algorithms.base import METRIC_PREFIX
from opensage.db import utcnow

Point = tuple[str, int, float, datetime]


class MetricParser:
    """Feeds on log text as it arrives (partial lines kept) and yields metric points.

    A regex definition's first group is the value; its step counts the matches so far.
    A ``#opensage-metric {...}`` line (``opensage.log_metric``) carries its own step.
    """

    def __init__(self, definitions: list[dict[str, str]]) -> None:
        self._patterns = [(d["name"], re.compile(d["regex"])) for d in definitions]
        self._steps: dict[str, int] = {}
        self._partial = ""

    def feed(self, text: str, *, final: bool = False) -> list[Point]:
        """Metric points in the complete lines of ``text`` (and the rest, when final)."""
        lines = (self._partial + text).split("\n")
        self._partial = "" if final else lines.pop()
        points: list[Point] = []
        for line in lines:
            points.extend(self._parse(line))
        return points

    def _parse(self, line: str) -> list[Point]:
        now = utcnow()
        if line.startswith(METRIC_PREFIX):
            try:
                record = json.loads(line[len(METRIC_PREFIX) :])
                name, value = str(record["name"]), float(record["value"])
            except (ValueError, KeyError, TypeError):
                return []
            step = record.get("step")
            return self._point(name, value, int(step) if step is not None else None, now)
        found: list[Point] = []
        for name, pattern in self._patterns:
            for match in pattern.finditer(line):
                try:
                    value = float(match.group(1))
                except (TypeError, ValueError):
                    continue
                found.extend(self._point(name, value, None, now))
        return found

    def _point(self, name: str, value: float, step: int | None, at: datetime) -> list[Point]:
        if not math.isfinite(value):
            return []
        if step is None:
            step = self._steps.get(name, -1) + 1
        self._steps[name] = max(step, self._steps.get(name, -1))
        return [(name, step, value, at)]
