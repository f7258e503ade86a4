"""Persistence: SQLAlchemy tables, transactions and Alembic migrations (design §2 "store")."""

from lowdose.store.db import Database, make_engine, utc_naive
from lowdose.store.migrate import (
    check_drift,
    current_revision,
    downgrade,
    head_revision,
    migrate,
)

__all__ = [
    "Database",
    "check_drift",
    "current_revision",
    "downgrade",
    "head_revision",
    "make_engine",
    "migrate",
    "utc_naive",
]
