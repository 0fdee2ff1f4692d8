"""Per-requirements environments for script mode, built once and cached by content hash.

A source folder's ``requirements.txt`` is installed into a virtual environment that sees
the platform's own packages (``--system-site-packages``), so only what is missing gets
installed; the job process puts that environment's site-packages first on its path.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import threading
import venv
from pathlib import Path

from opensage.errors import OpenSageError

logger = logging.getLogger(__name__)

INSTALL_TIMEOUT_S = 1800


class EnvironmentCache:
    """Environments under one folder, one per distinct requirements file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()

    def site_packages_for(self, requirements: Path, log: Path) -> Path:
        """The site-packages folder with ``requirements`` installed (built on first use)."""
        digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:24]
        target = self.root / digest
        with self._lock:
            if not target.exists():
                self._build(requirements, target, log)
        return _site_packages(target)

    def _build(self, requirements: Path, target: Path, log: Path) -> None:
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.parent.mkdir(parents=True, exist_ok=True)
        venv.EnvBuilder(system_site_packages=True, with_pip=False, symlinks=True).create(partial)
        command = [
            sys.executable, "-m", "pip", "install", "--disable-pip-version-check",
            "--prefix", str(partial), "-r", str(requirements.resolve()),
        ]  # fmt: skip
        with open(log, "ab") as out:
            out.write(f"installing {requirements.name} into a cached environment\n".encode())
            out.flush()
            result = subprocess.run(
                command,
                cwd=requirements.parent,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=INSTALL_TIMEOUT_S,
                env={**os.environ, "PIP_REQUIRE_VIRTUALENV": "0"},
                check=False,
            )
        if result.returncode != 0:
            shutil.rmtree(partial, ignore_errors=True)
            raise OpenSageError(
                f"installing {requirements.name} failed (pip exit status {result.returncode}); "
                "see the job's log"
            )
        os.replace(partial, target)


def _site_packages(environment: Path) -> Path:
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return environment / "lib" / version / "site-packages"
