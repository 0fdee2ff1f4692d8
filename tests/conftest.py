"""Shared fixtures: an isolated platform per test, in-process or as a real server process."""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
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


# -- PostgreSQL: a real server, started once per test session -------------------------------

POSTGRES_MISSING = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH nor in "
    "/usr/lib/postgresql/*/bin. Run `make test-services` (or scripts/test-services.sh) as "
    "root to install them with apt-get, or install PostgreSQL yourself."
)


def postgres_bindir() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl`` (PATH first, then Debian's layout)."""
    found = shutil.which("initdb")
    if found is not None:
        bindir = Path(found).resolve().parent
        if (bindir / "pg_ctl").is_file():
            return bindir
    candidates = [
        path.parent
        for path in Path("/usr/lib/postgresql").glob("*/bin/initdb")
        if (path.parent / "pg_ctl").is_file()
    ]

    def major(bindir: Path) -> int:
        version = bindir.parent.name
        return int(version) if version.isdigit() else 0

    return max(candidates, key=major, default=None)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throw-away PostgreSQL server on 127.0.0.1 with trust auth and a database ``opensage``.

    Yields its SQLAlchemy URL (superuser ``postgres``); stops the server and deletes its
    files at the end of the session. Fails (never skips) when PostgreSQL is not installed.
    """
    import psycopg

    bindir = postgres_bindir()
    if bindir is None:
        pytest.fail(POSTGRES_MISSING, pytrace=False)
    # initdb and postgres refuse to run as root: run them as the ``postgres`` system user.
    as_user: list[str] = []
    owner: tuple[int, int] | None = None
    if os.geteuid() == 0:
        import pwd

        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root, but there is no `postgres` user to run PostgreSQL")
        owner = (account.pw_uid, account.pw_gid)
        runuser = shutil.which("runuser")
        as_user = [runuser, "-u", "postgres", "--"] if runuser else []

    base = Path(tempfile.mkdtemp(prefix="opensage-pg-"))
    datadir, sockdir, logfile = base / "data", base / "sock", base / "postgres.log"
    sockdir.mkdir()

    def run(*command: str) -> None:
        argv = [*as_user, *command]
        if owner is not None and not as_user:  # no runuser: fall back to su
            argv = ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(command)]
        result = subprocess.run(argv, cwd=base, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            log = logfile.read_text() if logfile.is_file() else ""
            raise RuntimeError(
                f"{shlex.join(argv)} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}{log}"
            )

    if owner is not None:
        for path in (base, sockdir):
            os.chown(path, *owner)
    port = free_port()
    pg_ctl = str(bindir / "pg_ctl")
    started = False
    try:
        run(str(bindir / "initdb"), "-D", str(datadir), "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-sync")  # fmt: skip
        options = f"-p {port} -h 127.0.0.1 -k {sockdir} -c fsync=off -c full_page_writes=off"
        run(
            pg_ctl, "start", "-D", str(datadir), "-l", str(logfile), "-w", "-t", "60", "-o", options
        )
        started = True
        admin = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute("CREATE DATABASE opensage")
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/opensage"
    finally:
        try:
            # Also stop a server whose start timed out, but then don't mask the first error.
            if started or (datadir / "postmaster.pid").exists():
                try:
                    run(pg_ctl, "stop", "-D", str(datadir), "-m", "fast", "-w", "-t", "60")
                except RuntimeError:
                    if started:
                        raise
        finally:
            shutil.rmtree(base, ignore_errors=True)
