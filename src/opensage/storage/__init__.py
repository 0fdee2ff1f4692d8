"""Artifact store on fsspec: a local folder by default, any S3-compatible store at scale."""

from opensage.storage.store import ArtifactStore

__all__ = ["ArtifactStore"]
