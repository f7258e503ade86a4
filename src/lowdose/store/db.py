"""Engines and transactions for SQLite (the default) and PostgreSQL, chosen by URL.

SQLite is tuned for a web server that must never lose an acknowledged write: WAL (readers do
not block the writer), `synchronous=FULL` (a commit survives power loss), foreign keys on, a
busy timeout, and write transactions opened with `BEGIN IMMEDIATE` so two writers queue on the
busy timeout instead of failing when a read lock cannot be upgraded.
"""

from __future__ import annotations

import fcntl
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_BUSY_TIMEOUT_MS = 10_000

# The execution option a write transaction carries down to the "begin" event.
_WRITE_OPTION = "lowdose_write"


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def normalise_url(url: str | URL) -> URL:
    """Plain `postgresql://` URLs use psycopg 3, the driver lowdose ships with."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> Engine:
    """An engine for `url` with lowdose's durability settings applied on every connection."""
    parsed = normalise_url(url)
    _never_log_rows()
    # Statement parameters hold patient data: keep them out of SQL logging and error messages.
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True, hide_parameters=True)
    engine = create_engine(parsed, connect_args={"timeout": busy_timeout_ms / 1000},
                           hide_parameters=True)
    _tune_sqlite(engine, busy_timeout_ms)
    return engine


class _StatementsOnly(logging.Filter):
    """At DEBUG, SQLAlchemy logs every result row, i.e. patient data: drop those records,
    whatever level an operator debugging SQL turns the loggers up to."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.INFO


_ROW_FILTER = _StatementsOnly()


def _never_log_rows() -> None:
    logger = logging.getLogger("sqlalchemy.engine.Engine")
    if _ROW_FILTER not in logger.filters:
        logger.addFilter(_ROW_FILTER)


def _tune_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event, not the driver, decide how a transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


ANALYSIS_ROWS = 1000  # rows SQLite's ANALYZE samples per index


class Database:
    """One database: an engine and the sessions that run lowdose's transactions."""

    def __init__(self, url: str | URL, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url, busy_timeout_ms=busy_timeout_ms)
        writer = self.engine.execution_options(**{_WRITE_OPTION: True})
        self._write_sessions = sessionmaker(bind=writer, expire_on_commit=False)
        self._read_sessions = sessionmaker(bind=self.engine, expire_on_commit=False)
        self._writer: AbstractContextManager[object] = (
            _WriterQueue(self.url.database, busy_timeout_ms / 1000) if self.is_sqlite
            else nullcontext())

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends, rolled back on error.

        Write transactions start with `BEGIN IMMEDIATE` on SQLite. Nearly every use case writes
        (reads of patient data append an audit event), so writing is the default.
        """
        if not write:
            with self._read_sessions.begin() as session:
                yield session
            return
        # SQLite has one writer at a time; writers queue in `_WriterQueue` rather than in
        # SQLite's busy handler.
        with self._writer, self._write_sessions.begin() as session:
            yield session

    def refresh_statistics(self) -> None:
        """Give SQLite's query planner table statistics (PostgreSQL's autovacuum keeps its own).

        Without them the planner picked a worse index for the clinic panel (its sort took
        6.1 ms instead of 3.6 ms on 10,000 patients). `analysis_limit` samples each index, so
        this takes milliseconds on any size of database; it runs when the server starts.
        """
        if not self.is_sqlite:
            return
        with self._writer, self.engine.connect() as connection:
            connection.exec_driver_sql(f"PRAGMA analysis_limit={ANALYSIS_ROWS}")
            connection.exec_driver_sql("ANALYZE")
            connection.commit()

    def dispose(self) -> None:
        self.engine.dispose()


class _WriterQueue:
    """The queue of one SQLite file's writers: a lock for the threads of this `Database` and
    an exclusive `flock` on `.<file>.writer-lock` for every `Database` and process using it.

    Without it, writers wait in SQLite's busy handler, which sleeps in steps of up to 100 ms:
    under load, idle gaps and latency spikes, and a writer that keeps losing gets "database is
    locked" once the busy timeout runs out. Here a waiting writer retries every millisecond;
    after the busy timeout it gets the same "database is locked" SQLite would give. A killed
    process releases its lock. Nested write transactions in one thread take the lock once.
    """

    def __init__(self, database: str | None, timeout_s: float) -> None:
        self._threads = threading.RLock()
        self._depth = 0
        self._timeout_s = timeout_s
        # Hidden, and not named `<file>*`, so tools that gather the database's files
        # (`-wal`, `-shm`) leave it alone.
        self._path = (None if not database or database == ":memory:" or
                      database.startswith("file:") else
                      Path(database).with_name(f".{Path(database).name}.writer-lock"))
        self._file: IO[bytes] | None = None

    def __enter__(self) -> None:
        deadline = time.monotonic() + self._timeout_s
        if not self._threads.acquire(timeout=self._timeout_s):
            raise _locked()
        try:
            if self._depth == 0 and self._path is not None:
                self._lock_file(deadline)
        except BaseException:
            self._threads.release()
            raise
        self._depth += 1

    def _lock_file(self, deadline: float) -> None:
        if self._file is None:
            assert self._path is not None
            self._file = self._path.open("ab")
        while True:
            try:
                fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise _locked() from None
                time.sleep(0.001)

    def __exit__(self, *_: object) -> None:
        self._depth -= 1
        try:
            if self._depth == 0 and self._file is not None:
                fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
        finally:
            self._threads.release()


def _locked() -> OperationalError:
    return OperationalError("BEGIN IMMEDIATE", None,
                            sqlite3.OperationalError("database is locked"))


def utc_naive(moment: datetime) -> datetime:
    """The UTC wall time without tzinfo, the one form stored in both databases.

    Aware datetimes are converted; naive ones are taken to be UTC already.
    """
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)
