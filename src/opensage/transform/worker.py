"""A transform worker process: loads the model once, then predicts part after part.

Forked from the platform's warm fork server, like training jobs. The workers of a job
share its folder: a worker claims the next part by creating its claim file (O_EXCL),
writes the part's output beside it, and reports the rows it has done in its progress
file; a bad record ends it with the reason in its failure file, which the runner
reports as the job's.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from opensage.algorithms.threads import ThreadPools
from opensage.serving.model import ServedModel
from opensage.training.child import die_with_parent
from opensage.training.launcher import preloaded_pools
from opensage.transform.encoding import PartWriter
from opensage.transform.layout import FeatureLayout
from opensage.transform.parts import Part
from opensage.transform.records import RecordError, read_part

PROGRESS_EVERY_S = 0.2


class JobFolder:
    """The files the runner and the workers of one job exchange."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.model_dir = root / "model"
        self.input_dir = root / "input"
        self.claims = root / "claims"
        self.outputs = root / "parts"
        self.progress = root / "progress"
        self.failures = root / "failures"
        self.logs = root / "logs"
        self.assembled = root / "assembled"

    def create(self) -> None:
        for folder in (
            self.claims, self.outputs, self.progress, self.failures, self.logs, self.assembled
        ):  # fmt: skip
            folder.mkdir(parents=True, exist_ok=True)

    def output(self, index: int, fmt: str) -> Path:
        return self.outputs / f"part-{index:06d}.{fmt}"

    def rows_done(self) -> int:
        """Rows the workers have predicted so far."""
        total = 0
        for path in self.progress.glob("worker-*"):
            with contextlib.suppress(OSError, ValueError):
                total += int(path.read_text() or 0)
        return total

    def failure(self) -> str | None:
        """The reason of the earliest failed part, if a worker failed."""
        found: list[tuple[int, str]] = []
        for path in self.failures.glob("worker-*.json"):
            with contextlib.suppress(OSError, ValueError):
                data = json.loads(path.read_text())
                found.append((int(data.get("part", -1)), str(data["reason"])))
        return min(found)[1] if found else None


def run_worker(spec: dict[str, Any]) -> None:
    """Entry point of a worker process (``spec`` from the transform runner)."""
    os.setpgrp()  # its own group: stopping the job reaches whatever the model started
    die_with_parent()
    folder = JobFolder(Path(spec["folder"]))
    worker = _Worker(spec, folder)
    log = os.open(
        folder.logs / f"worker-{worker.number}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644
    )
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    signal.signal(signal.SIGTERM, _terminated)
    try:
        worker.run()
    except SystemExit:
        os._exit(1)
    except BaseException as exc:
        traceback.print_exc()
        reason = str(exc) if isinstance(exc, RecordError) else f"{type(exc).__name__}: {exc}"
        worker.fail(reason)
        sys.stderr.flush()
        os._exit(1)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


class _Worker:
    """One worker's loop over the parts it claims."""

    def __init__(self, spec: dict[str, Any], folder: JobFolder) -> None:
        self.spec = spec
        self.folder = folder
        self.number = int(spec["worker"])
        self.layout = FeatureLayout.from_dict(spec["layout"])
        self.join = bool(spec["join"])
        self.format = spec["format"]
        self.batch_size = int(spec["batch_size"])
        self.part = -1
        self.rows_done = 0
        self.last_report = 0.0

    def run(self) -> None:
        try:
            model = ServedModel(self.folder.model_dir)
        except Exception as exc:
            raise RecordError(
                f"the model could not be loaded: {type(exc).__name__}: {exc}"
            ) from exc
        # Each worker holds one CPU slot of the job (max_parallel slots in all): its
        # model's native thread pools stay on one core instead of fighting the others.
        # A built-in's are those the fork server found (no scan of every loaded library
        # again); a model with its own code may have loaded other libraries.
        pools = preloaded_pools() if model.code is None else ThreadPools()
        with pools.limit(1):
            for data in self.spec["parts"]:
                part = Part.from_dict(data)
                if self._claim(part.index):
                    self.part = part.index
                    self._predict(model, part)

    def _predict(self, model: ServedModel, part: Part) -> None:
        output = self.folder.output(part.index, self.format)
        with PartWriter(output, self.format) as writer:
            for batch in read_part(part, self.layout, self.batch_size, keep_columns=self.join):
                where = part.describe_rows(batch.offset, batch.table.num_rows)
                try:
                    predictions = model.predict(batch.features)
                except Exception as exc:
                    raise RecordError(
                        f"the model failed on {where}: {type(exc).__name__}: {exc}"
                    ) from exc
                rows = batch.table.num_rows
                writer.write(rows, batch.table if self.join else None, predictions, where)
                self.rows_done += batch.table.num_rows
                now = time.monotonic()
                if now - self.last_report >= PROGRESS_EVERY_S:
                    self._report()
                    self.last_report = now
        self._report()

    def _claim(self, index: int) -> bool:
        claim = self.folder.claims / f"part-{index:06d}"
        try:
            os.close(os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return False
        return True

    def _report(self) -> None:
        temp = self.folder.progress / f".worker-{self.number}"
        temp.write_text(str(self.rows_done))
        os.replace(temp, self.folder.progress / f"worker-{self.number}")

    def fail(self, reason: str) -> None:
        path = self.folder.failures / f"worker-{self.number}.json"
        path.write_text(json.dumps({"part": self.part, "reason": reason}))


def _terminated(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)
