"""The platform on a real PostgreSQL server: migrations, a full dataset flow, UTC timestamps.

The server is started once per session by the ``postgres_url`` fixture; every test gets a
database of its own on it, so nothing here depends on what another test left behind.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from psycopg import sql
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

import opensage
from opensage.config import Settings
from opensage.datasets.models import Dataset
from opensage.datasets.service import DatasetService
from opensage.db import Database
from opensage.db.engine import MIGRATIONS_DIR
from opensage.platform import Platform, open_platform
from opensage.server.app import create_app


@pytest.fixture
def database_url(postgres_url: str) -> Iterator[str]:
    """A fresh, empty database on the session's PostgreSQL server; dropped afterwards."""
    server = make_url(postgres_url)
    name = f"t_{uuid.uuid4().hex}"
    admin = server.set(drivername="postgresql", database="postgres").render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield server.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
def pg_platform(database_url: str, tmp_path: Path) -> Iterator[Platform]:
    """A platform whose metadata store is the PostgreSQL database."""
    opened = open_platform(Settings(data_dir=tmp_path / "data", database_url=database_url))
    yield opened
    opened.close()


@pytest.fixture
def pg_client(pg_platform: Platform) -> Iterator[opensage.Client]:
    """The SDK, talking to the in-process app backed by PostgreSQL."""
    app = create_app(platform=pg_platform)
    with TestClient(app, base_url="http://testserver") as http:
        yield opensage.Client("http://testserver", http=http)


def _head_revision() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def _is_utc(moment: datetime) -> bool:
    return moment.tzinfo is not None and moment.utcoffset() == timedelta(0)


def _write_csv(path: Path, rows: int, offset: int = 0) -> Path:
    lines = ["id,hours,passed"]
    lines += [f"{i},{(i * 7) % 10 + 0.5},{'yes' if i % 3 else 'no'}" for i in range(offset, rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_migrations_build_the_schema_on_postgres(database_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    platform = open_platform(settings)
    engine = platform.db.engine
    assert engine.dialect.name == "postgresql"
    inspector = inspect(engine)
    assert {"datasets", "dataset_versions", "alembic_version"} <= set(inspector.get_table_names())
    columns = {c["name"]: c for c in inspector.get_columns("datasets")}
    assert getattr(columns["created_at"]["type"], "timezone", False) is True
    foreign = inspector.get_foreign_keys("dataset_versions")
    assert [(f["referred_table"], f["options"].get("ondelete")) for f in foreign] == [
        ("datasets", "CASCADE")
    ]
    with platform.db.reader() as session:
        revision = session.execute(text("select version_num from alembic_version")).scalar()
    assert revision == _head_revision()
    platform.close()
    # Opening again is a no-op migration on the same database.
    open_platform(settings).close()


def test_dataset_flow_through_the_sdk_on_postgres(
    pg_client: opensage.Client, tmp_path: Path
) -> None:
    client = pg_client
    source = _write_csv(tmp_path / "scores.csv", 300)
    splits = {"train": 0.8, "test": 0.2}
    scores = client.datasets.create(
        source, name="exam-scores", label="passed", splits=splits, seed=3, description="d"
    )
    assert (scores.version, scores.num_rows, scores.label) == (1, 300, "passed")
    assert scores.splits is not None
    assert sum(scores.splits.counts.values()) == 300
    assert [c.name for c in scores.columns] == ["id", "hours", "passed"]

    fetched = client.datasets.get("exam-scores")
    assert fetched.description == "d"
    assert fetched.info.latest_version == 1
    for moment in (fetched.info.created_at, fetched.info.updated_at, fetched.latest.created_at):
        assert _is_utc(moment)
    raw = client.session.json("GET", "/api/v1/datasets/exam-scores")
    assert raw["created_at"].endswith(("Z", "+00:00"))

    client.datasets.create(_write_csv(tmp_path / "other.csv", 10), name="other")
    client.datasets.create(_write_csv(tmp_path / "more.csv", 10), name="more-scores")
    assert [d.name for d in client.datasets.list()] == ["exam-scores", "more-scores", "other"]
    assert [d.name for d in client.datasets.list(name_contains="scores")] == [
        "exam-scores",
        "more-scores",
    ]
    # LIKE wildcards are escaped: "_" and "%" match only themselves (so nothing here).
    assert client.datasets.list(name_contains="_") == []
    assert client.datasets.list(name_contains="%") == []

    pages: list[list[str]] = []
    token: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 1}
        if token:
            params["page_token"] = token
        page = client.session.json("GET", "/api/v1/datasets", params=params)
        pages.append([item["name"] for item in page["items"]])
        token = page["next_page_token"]
        if not token:
            break
    assert pages == [["exam-scores"], ["more-scores"], ["other"]]

    stats = scores.stats()
    assert (stats.dataset, stats.version, stats.num_rows) == ("exam-scores", 1, 300)
    hours = {c.name: c for c in stats.columns}["hours"]
    assert (hours.count, hours.missing) == (300, 0)
    assert hours.mean == pytest.approx(sum((i * 7) % 10 + 0.5 for i in range(300)) / 300)

    scores.add_version(_write_csv(tmp_path / "v2.csv", 400))
    assert (scores.version, scores.num_rows, scores.label) == (2, 400, "passed")
    assert scores.splits is not None and scores.splits.seed == 3  # carried over from v1
    assert _is_utc(scores.info.updated_at)
    assert scores.info.updated_at >= scores.info.created_at
    assert [v.version for v in scores.versions()] == [2, 1]
    first = client.session.json("GET", "/api/v1/datasets/exam-scores/versions", params={"limit": 1})
    assert [v["version"] for v in first["items"]] == [2]
    second = client.session.json(
        "GET",
        "/api/v1/datasets/exam-scores/versions",
        params={"limit": 1, "page_token": first["next_page_token"]},
    )
    assert [v["version"] for v in second["items"]] == [1]
    assert second["next_page_token"] is None
    assert scores.stats(version=1).num_rows == 300
    assert len(scores.to_pandas(split="test")) == scores.splits.counts["test"]

    with pytest.raises(opensage.Conflict):
        client.datasets.create(source, name="exam-scores")

    scores.delete()
    with pytest.raises(opensage.NotFound):
        client.datasets.get("exam-scores")
    assert [d.name for d in client.datasets.list()] == ["more-scores", "other"]


def test_versions_are_deleted_with_their_dataset_on_postgres(
    pg_client: opensage.Client, pg_platform: Platform, tmp_path: Path
) -> None:
    dataset = pg_client.datasets.create(_write_csv(tmp_path / "a.csv", 5), name="gone")
    dataset.add_version(_write_csv(tmp_path / "b.csv", 6))
    dataset.delete()
    with pg_platform.db.reader() as session:
        assert session.execute(text("select count(*) from dataset_versions")).scalar() == 0
        assert session.execute(text("select count(*) from datasets")).scalar() == 0


def test_unique_name_violation_is_a_conflict_on_postgres(
    pg_client: opensage.Client,
    pg_platform: Platform,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = _write_csv(tmp_path / "a.csv", 5)
    pg_client.datasets.create(source, name="race")
    # Two creators passing the existence check at once: the unique index must decide.
    monkeypatch.setattr(DatasetService, "_find", staticmethod(lambda session, name: None))
    with pytest.raises(opensage.Conflict, match="already exists"):
        pg_client.datasets.create(source, name="race")
    monkeypatch.undo()
    assert [d.name for d in pg_client.datasets.list()] == ["race"]
    assert pg_client.datasets.get("race").version == 1
    # The losing attempt's files were removed: only version 1's folder remains.
    folders = {key.split("/")[2] for key in pg_platform.store.list("datasets/race")}
    assert len(folders) == 1
    assert folders.pop().startswith("v1-")


def test_timestamps_are_stored_and_read_as_utc_on_postgres(database_url: str) -> None:
    db = Database(database_url)
    db.migrate()
    local = datetime(2026, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=7)))
    with db.transaction() as session:
        session.add(Dataset(name="t", description="", latest_version=0, created_at=local,
                            updated_at=local))  # fmt: skip
    with db.reader() as session:
        # Whatever the connection's time zone, values come back as UTC.
        session.execute(text("SET TIME ZONE 'America/New_York'"))
        row = session.query(Dataset).one()
        assert row.created_at == local
        assert row.created_at.tzinfo == UTC
        assert row.created_at.hour == 5
        stored = session.execute(text("select created_at at time zone 'UTC' from datasets"))
        assert stored.scalar() == datetime(2026, 1, 1, 5, 0)
    with pytest.raises(Exception, match="naive datetime"), db.transaction() as session:
        naive = datetime(2026, 1, 1)
        session.add(Dataset(name="n", description="", latest_version=0, created_at=naive,
                            updated_at=naive))  # fmt: skip
    db.dispose()
