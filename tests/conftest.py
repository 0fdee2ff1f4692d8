"""Shared fixtures: an isolated platform per test, in-process or as a real server process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

import opensage
from opensage.config import Settings
from opensage.platform import Platform, open_platform
from opensage.server.app import create_app

# Tests never reach a real cloud: S3 credentials are dummies for the local S3 server.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("OPENSAGE_URL", None)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for a platform living entirely in this test's temporary directory."""
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def platform(settings: Settings) -> Iterator[Platform]:
    """An opened platform (migrated SQLite, local artifact store)."""
    opened = open_platform(settings)
    yield opened
    opened.close()


@pytest.fixture
def http(platform: Platform) -> Iterator[TestClient]:
    """An HTTP client talking to the app in-process."""
    with TestClient(create_app(platform=platform), base_url="http://testserver") as test_client:
        yield test_client


@pytest.fixture
def client(http: TestClient) -> opensage.Client:
    """The SDK, talking to the in-process app."""
    return opensage.Client("http://testserver", http=http)


@dataclass
class ServerProcess:
    """An ``opensage up`` child process on 127.0.0.1."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> ServerProcess:
        env = {**os.environ, **self.extra_env}
        command = [sys.executable, "-m", "opensage", "up", "--port", str(self.port)]
        command += ["--data-dir", str(self.data_dir), "--log-level", "warning"]
        self.process = subprocess.Popen(command, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("server did not become healthy")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[ServerProcess]:
    """A factory-style server: ``server_process.start()``; stopped after the test."""
    server = ServerProcess(data_dir=tmp_path / "server-data")
    yield server
    server.kill()


@pytest.fixture
def running_server(server_process: ServerProcess) -> ServerProcess:
    """A started ``opensage up`` process."""
    return server_process.start()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """A real S3-protocol server (moto) on 127.0.0.1; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
