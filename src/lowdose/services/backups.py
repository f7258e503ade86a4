"""Backups from the admin pages: list the server's backup files and make one now.

The copy is the same as `lowdose backup` makes (SQLite online backup, checked; PostgreSQL via
pg_dump). Files stay on the server: the web never hands a backup out, and restoring stays a
command run on the server, because it needs the app stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lowdose.security import audit
from lowdose.security.policy import ClinicAction, authorize_clinic
from lowdose.services.context import Context
from lowdose.services.errors import Forbidden
from lowdose.store.backup import make_backup
from lowdose.store.db import Database, is_sqlite

SUFFIXES = (".sqlite3", ".dump")


@dataclass(frozen=True)
class BackupInfo:
    name: str
    size_bytes: int
    modified: datetime  # UTC

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "size_bytes": self.size_bytes,
                "modified": self.modified.isoformat()}


def list_backups(ctx: Context, directory: Path) -> list[BackupInfo]:
    """The backup files in `directory`, newest first (clinic admins and the operator)."""
    _require(ctx)
    if not directory.is_dir():
        return []
    found = [path for path in directory.iterdir()
             if path.is_file() and path.suffix in SUFFIXES and not path.name.startswith(".")]
    infos = [BackupInfo(p.name, p.stat().st_size, datetime.fromtimestamp(p.stat().st_mtime, UTC))
             for p in found]
    return sorted(infos, key=lambda info: info.modified, reverse=True)


def create_backup(db: Database, ctx: Context, url: str, directory: Path) -> BackupInfo:
    """Copy the whole database to a new file in `directory`; audited."""
    _require(ctx)
    stamp = ctx.now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = directory / f"lowdose-{stamp}{'.sqlite3' if is_sqlite(url) else '.dump'}"
    made = make_backup(url, out)
    with db.transaction() as session:
        audit.append(session, at=ctx.at, actor_user_id=ctx.actor.user_id,
                     action="backup.create", target=f"file:{out.name}"[:64], source=ctx.source)
    stat = made.path.stat()
    return BackupInfo(made.path.name, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC))


def _require(ctx: Context) -> None:
    # A backup holds every clinic on the server; an admin may make one, never download it.
    if not authorize_clinic(ctx.actor, ClinicAction.MANAGE_USERS, ctx.actor.clinic_id):
        raise Forbidden("not allowed: backups")
