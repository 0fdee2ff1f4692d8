"""The platform: settings, stores and services wired together, once per server (or test)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from opensage.auth.keys import load_or_create_secret
from opensage.auth.service import AuthService
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
    auth: AuthService
    bootstrap_key: str | None = None
    """The first admin's key, when this start created it (to show once)."""

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
    # With auth on, callers are not the machine's owner: they may not make the server read
    # its own files (e.g. /etc/shadow) into a dataset they can then download.
    datasets = DatasetService(
        db,
        store,
        uploads,
        s3_endpoint_url=settings.s3_endpoint_url,
        allow_local_paths=not settings.auth_enabled,
    )
    secret = load_or_create_secret(settings.data_dir / "secret.key", settings.secret_key)
    auth = AuthService(db, secret, enabled=settings.auth_enabled)
    bootstrap_key = auth.bootstrap(settings.admin_api_key) if auth.enabled else None
    return Platform(
        settings=settings,
        db=db,
        store=store,
        uploads=uploads,
        datasets=datasets,
        auth=auth,
        bootstrap_key=bootstrap_key,
    )
