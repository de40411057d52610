"""Backup and restore of a SQLite database with SQLite's online backup API.

The online backup copies a consistent snapshot page by page while the API and flows keep running (WAL
readers are not blocked), unlike copying the file, which can tear a write in flight and misses the WAL.
PostgreSQL is backed up with ``pg_dump`` / ``pg_restore`` (docs/security.md); these functions refuse it.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from sqlalchemy.engine import make_url

from models.errors import ValidationFailed
from models.schema import head_revision

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
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(partial)) as dest:
        _pages(src, dest)
        # A backup file is read on its own later: fold the WAL into the main file now.
        dest.execute("PRAGMA journal_mode=DELETE")
    # Rename last: a crash mid-copy never leaves a truncated file under the name the operator gave.
    partial.replace(target)
    return target


def check_backup_file(path: Path) -> str:
    """The schema revision of a Shouxin backup; refuses anything else with the reason."""
    if not path.is_file():
        raise ValidationFailed(f"备份文件 {path} 不存在 (backup file not found)")
    with path.open("rb") as fh:
        if fh.read(16) != _MAGIC:
            raise ValidationFailed(f"{path} 不是 SQLite 数据库文件，无法恢复 (not a SQLite database)")
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
    revision = row[0] if row else None
    head = head_revision()
    if revision != head:
        raise ValidationFailed(
            f"备份的数据库结构版本为 {revision}，当前程序需要 {head}；请用对应版本的程序恢复，"
            f"或恢复后运行 `shouxin db upgrade` (backup schema {revision} != code {head})",
            revision=revision,
            head=head,
        )
    return revision or ""


def restore(*, source: Path, database_url: str, overwrite: bool) -> Path:
    """Replace the database with the backup ``source``; refuses to overwrite unless ``overwrite``."""
    check_backup_file(source)
    target = sqlite_path(database_url)
    if target.exists() and target.stat().st_size > 0 and not overwrite:
        raise ValidationFailed(
            f"数据库文件 {target} 已存在，恢复会覆盖其中全部数据；确认无误后加 --yes 重试 "
            "(target exists; pass --yes to overwrite)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    # Backup API into the live file: other connections see the old or the new database, never a mix.
    with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src:
        with closing(sqlite3.connect(target)) as dest:
            _pages(src, dest)
    return target
