"""Backup and restore of a SQLite database with SQLite's online backup API.

The online backup copies a consistent snapshot page by page while the API and flows keep running (WAL
readers are not blocked), unlike copying the file, which can tear a write in flight and misses the WAL.
PostgreSQL is backed up with ``pg_dump`` / ``pg_restore`` (docs/security.md); these functions refuse it.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing, suppress
from dataclasses import dataclass
from pathlib import Path

from alembic.util import CommandError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from models.db import make_engine
from models.errors import DomainError, ValidationFailed
from models.schema import head_revision, known_revisions, upgrade

_MAGIC = b"SQLite format 3\x00"


def sqlite_path(database_url: str) -> Path:
    """The file behind a ``sqlite:///`` URL; refuses other databases and in-memory ones."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        raise ValidationFailed(
            "内置备份仅支持 SQLite；PostgreSQL 请使用 pg_dump / pg_restore（见 docs/security.md）"
            "(built-in backup is for SQLite only; use pg_dump for PostgreSQL)"
        )
    if not url.database or url.database == ":memory:":
        raise ValidationFailed("内存数据库无法备份，请设置 SHOUXIN_DATABASE_URL 为数据库文件 (in-memory db)")
    return Path(url.database)


def _pages(src: sqlite3.Connection, dest: sqlite3.Connection) -> None:
    # Copy 1,024 pages per step so a large copy lets writers in between steps.
    src.backup(dest, pages=1024)


def backup(*, database_url: str, target: Path) -> Path:
    """Write a consistent snapshot of the database to ``target`` (overwritten if it exists)."""
    source = sqlite_path(database_url)
    if not source.exists():
        raise ValidationFailed(f"数据库文件 {source} 不存在，无法备份 (database file not found)")
    _refuse_live_files(source, target)
    partial = target.with_name(target.name + ".partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial.unlink(missing_ok=True)
        with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(partial)) as dest:
            _pages(src, dest)
            # A backup file is read on its own later: fold the WAL into the main file now.
            dest.execute("PRAGMA journal_mode=DELETE")
        # Rename last: a crash mid-copy never leaves a truncated file under the name the operator gave.
        partial.replace(target)
    except (OSError, sqlite3.Error) as exc:
        with suppress(OSError):  # a path under a file, say: nothing was made there
            _remove_sqlite_files(partial)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ValidationFailed(
            f"无法写入备份文件 {target}：{reason}；请指定可写目录中的文件路径，数据库未改动 "
            f"(cannot write the backup {target}: {reason})",
            target=str(target),
        ) from None
    return target


def _refuse_live_files(source: Path, target: Path) -> None:
    """A backup written over the live database (or its WAL or shared memory) would swap the file under
    the open connections: their later writes are lost."""
    live = [source.with_name(source.name + suffix) for suffix in ("", "-wal", "-shm", "-journal", "-writer")]
    for path in (target, target.with_name(target.name + ".partial")):
        if any(_same_file(path, other) for other in live):
            raise ValidationFailed(
                f"备份文件 {target} 是正在使用的数据库文件 {source}（或其日志文件）本身；请指定另一个路径 "
                f"(the backup target is the live database {source}: choose another path)",
                target=str(target),
            )


def _same_file(one: Path, other: Path) -> bool:
    if one.exists() and other.exists():
        return one.samefile(other)
    return one.resolve() == other.resolve()


def check_backup_file(path: Path) -> str:
    """The schema revision of a Shouxin backup, at the head or one this code can upgrade; refuses anything
    else (missing, not SQLite, corrupt, not Shouxin's, from a newer program) with the reason."""
    if not path.is_file():
        raise ValidationFailed(f"备份文件 {path} 不存在 (backup file not found)")
    with path.open("rb") as fh:
        if fh.read(16) != _MAGIC:
            raise ValidationFailed(f"{path} 不是 SQLite 数据库文件，无法恢复 (not a SQLite database)")
    try:
        revision = _read_revision(path)
    except sqlite3.DatabaseError as exc:
        # A truncated or overwritten file fails inside SQLite before integrity_check can answer.
        raise ValidationFailed(
            f"备份文件 {path} 已损坏（{exc}），无法恢复 (backup file is corrupt)"
        ) from None
    if revision not in known_revisions():
        raise ValidationFailed(
            f"备份的数据库结构版本为 {revision}，比当前程序（{head_revision()}）新或无法识别；"
            f"请用生成该备份的程序版本（或更新的版本）恢复 (backup schema {revision} is newer than "
            "this program or unknown: restore it with the version that made it)",
            revision=revision,
        )
    return str(revision)


def _read_revision(path: Path) -> str | None:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        ok = conn.execute("PRAGMA integrity_check").fetchone()
        if not ok or ok[0] != "ok":
            raise ValidationFailed(f"备份文件 {path} 已损坏（integrity_check: {ok}），无法恢复 (corrupt)")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"alembic_version", "case_event", "complaint", "pledge"} <= tables:
            raise ValidationFailed(
                f"{path} 不是守信数据库（缺少必要的表），无法恢复 (not a Shouxin database)"
            )
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return row[0] if row else None


@dataclass(frozen=True)
class Restored:
    """Where a backup went, the revision it was taken at, and the revision it is at now (the head)."""

    path: Path
    backup_revision: str
    revision: str


def restore(*, source: Path, database_url: str, overwrite: bool) -> Restored:
    """Replace the database with the backup ``source``; refuses to overwrite unless ``overwrite``.

    A backup from an older version of the program is upgraded on the way, in a copy beside the target:
    the backup file stays as it was, and the live database is replaced only once the upgrade succeeded."""
    backup_revision = check_backup_file(source)
    target = sqlite_path(database_url)
    if target.exists() and target.stat().st_size > 0 and not overwrite:
        raise ValidationFailed(
            f"数据库文件 {target} 已存在，恢复会覆盖其中全部数据；确认无误后加 --yes 重试 "
            "(target exists; pass --yes to overwrite)"
        )
    head = head_revision() or ""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if backup_revision == head:
            _copy_into(source, target)
            return Restored(path=target, backup_revision=backup_revision, revision=head)
        staged = target.with_name(target.name + ".restoring")
        try:
            _remove_sqlite_files(staged)
            _copy_into(source, staged)
            _upgrade_staged(staged, backup_revision=backup_revision, head=head)
            _copy_into(staged, target)
        finally:
            with suppress(OSError):
                _remove_sqlite_files(staged)
    except (OSError, sqlite3.Error) as exc:
        # The backup API writes the live file in one step at the end: refused there, it is unchanged.
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ValidationFailed(
            f"无法写入数据库文件 {target}：{reason}；请让运行 shouxin 的账号对该文件及其所在目录有写权限，"
            f"数据库未改动 (cannot write the database {target}: {reason}; it was left as it was)",
            target=str(target),
        ) from None
    return Restored(path=target, backup_revision=backup_revision, revision=head)


def _copy_into(source: Path, target: Path) -> None:
    # Backup API into the live file: other connections see the old or the new database, never a mix.
    with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src:
        with closing(sqlite3.connect(target)) as dest:
            _pages(src, dest)


def _upgrade_staged(staged: Path, *, backup_revision: str, head: str) -> None:
    """Migrate the staged copy as ``shouxin db upgrade`` does; a failure refuses the restore."""
    engine = make_engine(f"sqlite:///{staged}")
    try:
        upgrade(engine)
    except (DomainError, SQLAlchemyError, CommandError) as exc:
        reason = exc.message if isinstance(exc, DomainError) else str(exc).splitlines()[0]
        raise ValidationFailed(
            f"备份的数据库结构版本为 {backup_revision}，升级到 {head} 失败：{reason}；"
            f"现有数据库未改动 (backup schema {backup_revision} could not be upgraded to {head}; "
            "the database was left as it was)",
            revision=backup_revision,
            head=head,
        ) from None
    finally:
        engine.dispose()
    with closing(sqlite3.connect(staged)) as conn:
        # As a backup file is: the restored database is read without the staged copy's WAL.
        conn.execute("PRAGMA journal_mode=DELETE")


def _remove_sqlite_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal", "-writer"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
