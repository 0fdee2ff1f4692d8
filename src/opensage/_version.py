"""The package version, read from its installed metadata."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("opensage")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"
