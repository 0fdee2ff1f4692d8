"""The platform: settings, stores and services wired together, once per server (or test)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from opensage.config import Settings
from opensage.datasets.service import DatasetService
from opensage.db import Database
from opensage.storage import ArtifactStore
from opensage.storage.uploads import UploadArea

logger = logging.getLogger(__name__)


@dataclass
class Platform:
    """Everything a request handler may need; built by :func:`open_platform`."""

    settings: Settings
    db: Database
    store: ArtifactStore
    uploads: UploadArea
    datasets: DatasetService

    def close(self) -> None:
        """Release database connections."""
        self.db.dispose()


def open_platform(settings: Settings) -> Platform:
    """Open (and migrate) the stores named by ``settings`` and build the services on them."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    db.migrate()
    store = ArtifactStore(settings.resolved_artifact_url, s3_endpoint_url=settings.s3_endpoint_url)
    uploads = UploadArea(settings.staging_dir / "uploads", settings.max_upload_bytes)
    swept = uploads.sweep()
    if swept:
        logger.info("removed %d stale or partial uploads", swept)
    datasets = DatasetService(db, store, uploads, s3_endpoint_url=settings.s3_endpoint_url)
    return Platform(settings=settings, db=db, store=store, uploads=uploads, datasets=datasets)
