"""Files a crash left under datasets/ with no version referring to them are swept at start."""

from __future__ import annotations

import os
import time
from pathlib import Path

import opensage
from opensage.config import Settings
from opensage.platform import open_platform


def test_unreferenced_old_files_are_swept_and_referenced_ones_kept(
    client: opensage.Client, settings: Settings, tmp_path: Path
) -> None:
    source = tmp_path / "d.csv"
    source.write_text("x\n1\n2\n")
    kept = Path(client.datasets.create(source, name="kept").latest.artifact_url)
    artifacts = Path(settings.resolved_artifact_url)
    orphan = artifacts / "datasets" / "lost" / "v1-0123456789ab" / "data.parquet"
    partial = (
        artifacts / "datasets" / "lost" / "v1-0123456789ab" / ("splits.parquet.partial-" + "0" * 32)
    )
    fresh = artifacts / "datasets" / "busy" / "v1-ba9876543210" / "data.parquet"
    for path in (orphan, partial, fresh):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"PAR1")
    two_hours_ago = time.time() - 7200
    for path in (orphan, partial, kept):
        os.utime(path, (two_hours_ago, two_hours_ago))

    reopened = open_platform(settings)
    reopened.close()

    assert not orphan.exists() and not partial.exists()
    assert fresh.exists()  # too young: maybe an ingest in progress on another server
    assert kept.exists()
    assert len(client.datasets.get("kept").to_pandas()) == 2
