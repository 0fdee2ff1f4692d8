"""A real ``opensage up`` server for the benchmarks: started on a free port, stopped after."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

import opensage
from opensage.errors import OpenSageError

STARTUP_TIMEOUT_S = 30.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(
    data_dir: Path, env: dict[str, str] | None = None
) -> Iterator[tuple[str, psutil.Process]]:
    """Start ``opensage up`` as a subprocess; yield its URL and process once /health
    answers."""
    port = free_port()
    command = [sys.executable, "-m", "opensage", "up", "--port", str(port)]
    command += ["--data-dir", str(data_dir), "--log-level", "warning"]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, env={**os.environ, **(env or {})}
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        yield url, psutil.Process(process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    """Poll GET /health until it answers; fail if the server exits or takes too long."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    with opensage.Client(url, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with status {process.returncode}")
            try:
                client.health()
                return
            except OpenSageError:
                time.sleep(0.1)
    raise RuntimeError(f"the server did not answer /health within {STARTUP_TIMEOUT_S:.0f}s")
