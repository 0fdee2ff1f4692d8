"""FastAPI dependencies: the platform and its services, taken from the app's state."""

from __future__ import annotations

from fastapi import Request

from opensage.datasets.service import DatasetService
from opensage.platform import Platform


def get_platform(request: Request) -> Platform:
    """The platform this app serves."""
    platform: Platform = request.app.state.platform
    return platform


def get_datasets(request: Request) -> DatasetService:
    """The datasets service."""
    return get_platform(request).datasets
