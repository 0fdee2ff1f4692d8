"""Metadata store: SQLAlchemy engine, sessions, base model and Alembic migrations."""

from opensage.db.base import Base, UTCDateTime, new_id, utcnow
from opensage.db.engine import Database

__all__ = ["Base", "Database", "UTCDateTime", "new_id", "utcnow"]
