"""The metadata store: migrations on start, SQLite in WAL mode, UTC timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from opensage.config import Settings
from opensage.datasets.models import Dataset
from opensage.db import Database
from opensage.db.engine import MIGRATIONS_DIR
from opensage.platform import open_platform


def test_open_platform_migrates_an_empty_database(tmp_path: Path) -> None:
    platform = open_platform(Settings(data_dir=tmp_path))
    tables = set(inspect(platform.db.engine).get_table_names())
    assert {"datasets", "dataset_versions", "users", "api_keys", "audit_events"} <= tables
    with platform.db.reader() as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
        assert session.execute(text("select version_num from alembic_version")).scalar() == head
    platform.close()
    # Opening again is a no-op migration on the same data.
    open_platform(Settings(data_dir=tmp_path)).close()


def test_timestamps_are_stored_and_read_as_utc(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    db.migrate()
    local = datetime(2026, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=7)))
    with db.transaction() as session:
        session.add(Dataset(name="t", description="", latest_version=0, created_at=local,
                            updated_at=local))  # fmt: skip
    with db.reader() as session:
        row = session.query(Dataset).one()
        assert row.created_at == local
        assert row.created_at.tzinfo == UTC
        assert row.created_at.hour == 5


def test_naive_datetimes_are_refused(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    db.migrate()
    with pytest.raises(Exception, match="naive datetime"), db.transaction() as session:
        naive = datetime(2026, 1, 1)
        session.add(Dataset(name="n", description="", latest_version=0, created_at=naive,
                            updated_at=naive))  # fmt: skip


def test_settings_defaults_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    defaults = Settings()
    assert defaults.data_dir == tmp_path / ".opensage"
    assert defaults.resolved_database_url == f"sqlite:///{tmp_path / '.opensage' / 'opensage.db'}"
    assert defaults.resolved_artifact_url == str(tmp_path / ".opensage" / "artifacts")
    assert (defaults.host, defaults.port) == ("127.0.0.1", 8080)
    monkeypatch.setenv("OPENSAGE_PORT", "9001")
    monkeypatch.setenv("OPENSAGE_ARTIFACT_URL", "s3://bucket/prefix")
    monkeypatch.setenv("OPENSAGE_DATABASE_URL", "postgresql+psycopg://u:p@db/opensage")
    from_env = Settings()
    assert from_env.port == 9001
    assert from_env.resolved_artifact_url == "s3://bucket/prefix"
    assert from_env.resolved_database_url.startswith("postgresql+psycopg://")
    assert Settings(port=9002).port == 9002  # explicit values (CLI flags) win


def test_migrations_build_exactly_the_tables_the_models_declare(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from opensage.db.models import Base

    database = Database(f"sqlite:///{tmp_path / 'meta.db'}")
    database.migrate()
    with database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    database.dispose()
    assert differences == []


def test_concurrent_read_modify_write_transactions_do_not_lose_updates(tmp_path: Path) -> None:
    import threading
    import time as clock

    database = Database(f"sqlite:///{tmp_path / 'meta.db'}")
    with database.transaction() as session:
        session.execute(text("create table counter (id integer primary key, n integer)"))
        session.execute(text("insert into counter values (1, 0)"))

    def increment() -> None:
        with database.transaction() as session:
            value = session.execute(text("select n from counter where id = 1")).scalar_one()
            clock.sleep(0.2)  # the other writer tries to read and write meanwhile
            session.execute(text("update counter set n = :n where id = 1"), {"n": value + 1})

    threads = [threading.Thread(target=increment) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with database.reader() as session:
        assert session.execute(text("select n from counter")).scalar_one() == 2
    database.dispose()
