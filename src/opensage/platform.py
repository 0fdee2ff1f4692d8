"""The platform: settings, stores and services wired together, once per server (or test)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from opensage.auth.keys import load_or_create_secret
from opensage.auth.service import AuthService
from opensage.config import Settings
from opensage.datasets.service import DatasetService
from opensage.db import Database
from opensage.monitoring.monitor import Monitor
from opensage.monitoring.retraining import Retrainer
from opensage.monitoring.service import MonitoringService
from opensage.registry.service import RegistryService
from opensage.serving.deployer import Deployer
from opensage.serving.service import EndpointService
from opensage.storage import ArtifactStore
from opensage.storage.uploads import UploadArea
from opensage.training.launcher import Launcher
from opensage.training.runner import JobRunner
from opensage.training.scheduler import Scheduler
from opensage.training.service import TrainingService
from opensage.transform.runner import TransformRunner
from opensage.transform.scheduler import TransformScheduler
from opensage.transform.service import TransformService
from opensage.tuning.service import TuningService
from opensage.tuning.tuner import Tuner

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
    training: TrainingService
    scheduler: Scheduler
    tuning: TuningService
    tuner: Tuner
    registry: RegistryService
    endpoints: EndpointService
    transform: TransformService
    transform_scheduler: TransformScheduler
    monitoring: MonitoringService
    monitor: Monitor
    bootstrap_key: str | None = None
    """The first admin's key, when this start created it (to show once)."""
    _started: bool = False

    def start(self) -> None:
        """Start the background work: job recovery, the scheduler, the tuner (idempotent)."""
        if not self._started:
            self._started = True
            self.scheduler.start(warm_up=self.settings.warm_workers)
            self.tuner.start()
            self.endpoints.start()
            self.transform_scheduler.start()
            self.monitor.start()

    def stop(self) -> None:
        """Stop the tuner and the scheduler; running jobs go to the recovery policy
        (idempotent)."""
        if self._started:
            self.monitor.close()
            self.transform_scheduler.close()
            self.endpoints.close()
            self.tuner.close()
            self.scheduler.close()
            self._started = False

    def close(self) -> None:
        """Stop the background work and release the stores."""
        self.stop()
        self.db.dispose()


def open_platform(settings: Settings) -> Platform:
    """Open (and migrate) the stores named by ``settings`` and build the services on them."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    db.migrate()
    store = ArtifactStore(settings.resolved_artifact_url, s3_endpoint_url=settings.s3_endpoint_url)
    # With auth on, callers are not the machine's owner: they may not make the server read
    # its own files (e.g. /etc/shadow) into a dataset they can then download.
    uploads = UploadArea(
        settings.staging_dir / "uploads",
        settings.max_upload_bytes,
        allow_links=not settings.auth_enabled,
    )
    swept = uploads.sweep()
    if swept:
        logger.info("removed %d stale or partial uploads", swept)
    datasets = DatasetService(
        db,
        store,
        uploads,
        s3_endpoint_url=settings.s3_endpoint_url,
        allow_local_paths=not settings.auth_enabled,
    )
    orphans = datasets.sweep_orphans()
    if orphans:
        logger.info("removed %d dataset files that a crash left unreferenced", orphans)
    secret = load_or_create_secret(settings.data_dir / "secret.key", settings.secret_key)
    auth = AuthService(db, secret, enabled=settings.auth_enabled)
    bootstrap_key = auth.bootstrap(settings.admin_api_key) if auth.enabled else None
    workspaces = settings.data_dir / "workspaces"
    training = TrainingService(
        db,
        store,
        uploads,
        datasets,
        workspaces=workspaces,
        total_cpu_slots=settings.cpu_slots,
        allow_local_paths=not settings.auth_enabled,
    )
    runner = JobRunner(
        training,
        datasets,
        store,
        Launcher(),
        workspaces,
        s3_endpoint_url=settings.s3_endpoint_url,
        stop_grace_s=settings.job_stop_grace_s,
    )
    scheduler = Scheduler(training, runner, settings.cpu_slots)
    tuning = TuningService(db, store, training)
    registry = RegistryService(db, store, uploads, training)
    serving_root = settings.data_dir / "serving"
    endpoints = EndpointService(
        db,
        registry,
        Deployer(runner.launcher, serving_root / "endpoints"),
        host=settings.host,
        model_cache=serving_root / "models",
        worker_spec={
            "artifact_url": settings.resolved_artifact_url,
            "s3_endpoint_url": settings.s3_endpoint_url,
            "auth": {"database_url": settings.resolved_database_url, "secret_hex": secret.hex()}
            if settings.auth_enabled
            else None,
        },
    )
    transform = TransformService(
        db,
        store,
        registry,
        datasets,
        workspaces=settings.data_dir / "transform-jobs",
        total_slots=settings.cpu_slots,
        allow_local_paths=not settings.auth_enabled,
        s3_endpoint_url=settings.s3_endpoint_url,
    )
    transform_runner = TransformRunner(
        transform,
        registry,
        datasets,
        store,
        runner.launcher,
        settings.data_dir / "transform-jobs",
        s3_endpoint_url=settings.s3_endpoint_url,
        stop_grace_s=settings.job_stop_grace_s,
    )
    monitoring = MonitoringService(db, store, datasets, registry, endpoints, transform)
    retrainer = Retrainer(store, datasets, training, registry, transform, endpoints)
    return Platform(
        settings=settings,
        db=db,
        store=store,
        uploads=uploads,
        datasets=datasets,
        auth=auth,
        training=training,
        scheduler=scheduler,
        tuning=tuning,
        tuner=Tuner(tuning, training),
        registry=registry,
        endpoints=endpoints,
        transform=transform,
        transform_scheduler=TransformScheduler(transform, transform_runner, settings.cpu_slots),
        monitoring=monitoring,
        monitor=Monitor(monitoring, retrainer),
        bootstrap_key=bootstrap_key,
    )
