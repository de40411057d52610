"""Schema migrations (alembic) and the start-up check that the database is up to date."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from models.db import create_sqlite_file, sqlite_file
from models.errors import SchemaOutOfDate

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine) -> str | None:
    """Apply all migrations; returns the new revision. The one place a SQLite database file is created
    (``shouxin db upgrade`` on a new installation): engines only open an existing one (models/db.py)."""
    create_sqlite_file(engine.url)
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return current_revision(engine)


def current_revision(engine: Engine) -> str | None:
    """The database's revision; a SQLite file that does not exist is refused, naming the command."""
    database = sqlite_file(engine.url)
    if database is not None and not Path(database).exists():
        raise SchemaOutOfDate(
            f"数据库文件 {database} 不存在；新安装请先运行 `shouxin db upgrade` 创建，"
            f"已有数据请检查文件是否被移动 (database file {database} does not exist: "
            "run `shouxin db upgrade` for a new installation, or put the file back)"
        )
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def check_up_to_date(engine: Engine) -> None:
    """Refuse to run on a schema behind the code, or on a SQLite file that does not exist, naming the
    command that fixes it."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise SchemaOutOfDate(
            f"数据库结构版本为 {current or '空'}，程序需要 {head}；请先运行 `shouxin db upgrade` "
            f"(database schema is at {current or 'nothing'}, code needs {head}: run `shouxin db upgrade`)"
        )
