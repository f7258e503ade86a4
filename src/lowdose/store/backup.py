"""Copies of the whole database: `lowdose backup` and `lowdose restore`, and the admin pages'
"make a backup now".

SQLite is copied with its online backup API (consistent while the server writes) and the copy
passes `PRAGMA integrity_check` before it is put in place; PostgreSQL goes through pg_dump and
pg_restore. A restore checks the file and its schema revision first, so a bad file changes
nothing.
"""

from __future__ import annotations

import shutil
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from lowdose.errors import InputError


@dataclass(frozen=True)
class BackupFile:
    path: Path
    revision: str | None  # the schema (migration) revision the copy is at

    def to_dict(self) -> dict[str, object]:
        return {"path": str(self.path), "revision": self.revision}


def make_backup(url: str, out: Path) -> BackupFile:
    """Copy the database at `url` to `out`, a new file; checked before it is put in place."""
    from lowdose.store.db import is_sqlite

    if out.exists():
        raise InputError("--out", f"{out} exists; name a new file")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    try:
        revision = (_backup_sqlite(url, partial) if is_sqlite(url)
                    else _backup_postgresql(url, partial))
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return BackupFile(out, revision)


def _backup_sqlite(url: str, partial: Path) -> str | None:
    import sqlite3

    source_path = _sqlite_path(url)
    if not source_path.exists():
        raise InputError("database", f"no database at {source_path}")
    # The online backup API copies a consistent snapshot while others keep writing.
    with closing(sqlite3.connect(source_path)) as source, \
            closing(sqlite3.connect(partial)) as copy:
        source.backup(copy)
        # One self-contained file: the copy need not bring a -wal file along.
        copy.execute("PRAGMA journal_mode=DELETE")
    problem, revision = _check_sqlite_file(partial)
    if problem:
        raise InputError("database", f"the copy failed its integrity check: {problem}")
    return revision


def _backup_postgresql(url: str, partial: Path) -> str | None:
    import subprocess

    from lowdose.store.migrate import current_revision

    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise InputError("database", "backing up PostgreSQL needs pg_dump (the PostgreSQL "
                                     "client tools) on the PATH")
    # A fixed program from the PATH with an argument list, no shell.
    done = subprocess.run(  # noqa: S603
        [pg_dump, "--format=custom", f"--file={partial}", _libpq_url(url)],
        capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise InputError("database", f"pg_dump failed: {done.stderr.strip()}")
    return current_revision(url)


def restore_backup(url: str, file: Path) -> BackupFile:
    """Put the backup `file` in place of the database at `url`, then migrate it to this
    version's schema. The file is checked first: a bad one changes nothing."""
    from lowdose.store.db import is_sqlite
    from lowdose.store.migrate import migrate

    if not file.is_file():
        raise InputError("FILE", f"no such file: {file}")
    revision = (_restore_sqlite(url, file) if is_sqlite(url)
                else _restore_postgresql(url, file))
    migrate(url)
    return BackupFile(file, revision)


def _restore_sqlite(url: str, file: Path) -> str:
    import sqlite3

    problem, revision = _check_sqlite_file(file)
    if problem:
        raise InputError("FILE", f"is not a usable backup: {problem}")
    if revision is None or revision not in _known_revisions():
        raise InputError("FILE", f"schema revision {revision!r} is not one this version of "
                                 "lowdose knows (a newer lowdose, or not a lowdose backup)")
    target = _sqlite_path(url)
    target.parent.mkdir(parents=True, exist_ok=True)
    # The backup API in reverse: the target's pages are replaced in one locked step, and a
    # WAL-mode target stays consistent for its other connections.
    with closing(sqlite3.connect(f"file:{file}?mode=ro", uri=True)) as source, \
            closing(sqlite3.connect(target, timeout=10)) as database:
        source.backup(database)
    return revision


def _restore_postgresql(url: str, file: Path) -> str:
    import subprocess

    pg_restore = shutil.which("pg_restore")
    if pg_restore is None:
        raise InputError("database", "restoring PostgreSQL needs pg_restore (the PostgreSQL "
                                     "client tools) on the PATH")
    revision = _dumped_revision(pg_restore, file)
    if revision is None or revision not in _known_revisions():
        raise InputError("FILE", f"schema revision {revision!r} is not one this version of "
                                 "lowdose knows (a newer lowdose, or not a lowdose backup)")
    done = subprocess.run(  # noqa: S603
        [pg_restore, "--clean", "--if-exists", "--no-owner", "--single-transaction",
         f"--dbname={_libpq_url(url)}", str(file)],
        capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise InputError("FILE", f"pg_restore failed, nothing changed: {done.stderr.strip()}")
    return revision


def _dumped_revision(pg_restore: str, file: Path) -> str | None:
    """The migration revision inside a pg_dump archive (the rows of `alembic_version`), None
    when the file is no archive or holds no lowdose schema."""
    import subprocess

    done = subprocess.run(  # noqa: S603
        [pg_restore, "--file=-", "--data-only", "--table=alembic_version", str(file)],
        capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return None
    lines = done.stdout.splitlines()
    for i, line in enumerate(lines[:-1]):
        if line.startswith("COPY ") and "alembic_version" in line:
            return lines[i + 1] if lines[i + 1] != "\\." else None
    return None


def _check_sqlite_file(path: Path) -> tuple[str | None, str | None]:
    """(the first integrity problem or None, the migration revision or None) of a file."""
    import sqlite3

    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            result = [row[0] for row in db.execute("PRAGMA integrity_check")]
            if result != ["ok"]:
                return "; ".join(str(r) for r in result[:3]), None
            try:
                row = db.execute("SELECT version_num FROM alembic_version").fetchone()
            except sqlite3.DatabaseError:
                return None, None
            return None, row[0] if row else None
    except sqlite3.DatabaseError as exc:
        return str(exc), None


def _known_revisions() -> set[str]:
    from importlib import resources

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location",
                           str(resources.files("lowdose.store").joinpath("migrations")))
    return {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}


def _sqlite_path(url: str) -> Path:
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    if not name or name == ":memory:":
        raise InputError("database", "an in-memory SQLite database cannot be backed up")
    return Path(name)


def _libpq_url(url: str) -> str:
    """The URL as pg_dump and pg_restore read it (no SQLAlchemy driver suffix)."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
