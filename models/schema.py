"""Schema migrations (alembic) and the start-up check that the database is up to date."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

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
    with engine.connect() as conn, migration_transaction(conn):
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return current_revision(engine)


@contextmanager
def migration_transaction(conn: Connection) -> Iterator[None]:
    """One transaction around a run of migrations on ``conn``, committed only if all of them succeed.

    On SQLite the foreign keys are off meanwhile: batch mode rebuilds a table by copying it and dropping
    the old one, and with them on that DROP fails wherever rows refer to the table (alembic's "Dealing
    with Referencing Foreign Keys"). SQLite ignores the pragma inside a transaction, so it is set before
    one begins; before the commit ``PRAGMA foreign_key_check`` makes sure the rebuilt tables still hold
    together, and a failure rolls every migration of the run back."""
    if conn.dialect.name != "sqlite":
        with conn.begin():
            yield
        return
    conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
    conn.commit()
    try:
        with conn.begin():
            # pysqlite begins a transaction only at the first INSERT/UPDATE/DELETE: the DDL before it would
            # be committed statement by statement and a refused run would leave it half applied.
            conn.exec_driver_sql("BEGIN")
            yield
            _refuse_broken_references(conn)
    finally:
        conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        conn.commit()


def _refuse_broken_references(conn: Connection) -> None:
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if not broken:
        return
    tables = sorted({row[0] for row in broken})
    table, rowid, parent = broken[0][0], broken[0][1], broken[0][2]
    raise SchemaOutOfDate(
        f"数据库升级已取消：表 {'、'.join(tables)} 共有 {len(broken)} 行引用了不存在的记录"
        f"（例如表 {table} rowid {rowid} 引用的 {parent}，见 `PRAGMA foreign_key_check`）；"
        "数据库保持原版本未改动，请修正或删除这些行后重新运行 `shouxin db upgrade` "
        f"(upgrade refused: {len(broken)} rows of {', '.join(tables)} refer to missing rows, "
        f"e.g. {table} rowid {rowid} -> {parent}; the database is unchanged)",
        tables=tables,
        rows=len(broken),
    )


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


def known_revisions() -> set[str]:
    """Every revision of this code's migrations: a database at one of them can be upgraded to the head;
    any other revision is a newer program's (or no Shouxin database's)."""
    return {
        script.revision
        for script in ScriptDirectory.from_config(alembic_config("sqlite://")).walk_revisions()
    }


def check_up_to_date(engine: Engine) -> None:
    """Refuse to run on a schema behind the code, or on a SQLite file that does not exist, naming the
    command that fixes it."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise SchemaOutOfDate(
            f"数据库结构版本为 {current or '空'}，程序需要 {head}；请先运行 `shouxin db upgrade` "
            f"(database schema is at {current or 'nothing'}, code needs {head}: run `shouxin db upgrade`)"
        )
