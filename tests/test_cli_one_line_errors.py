"""Bad input on the command line ends in one `错误:` line on stderr and a non-zero exit, never a traceback,
and stores nothing: an invalid setting, a missing database file, an invalid name, an unreadable
departments file, an `audit verify` filter that matches nothing (ops review, items 1 and 2)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select
from typer.testing import CliRunner, Result

from cli.main import app
from models.db import get_engine
from models.org import Department, User
from models.settings import get_settings
from tests.cli_support import cli_engine  # noqa: F401


def _run(monkeypatch: pytest.MonkeyPatch, *args: str, **env: str) -> Result:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    get_engine.cache_clear()
    return CliRunner().invoke(app, list(args))


def _one_error_line(result: Result) -> str:
    """The single line the command printed, which must be an error; no traceback behind it."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("错误: ")
    return lines[0]


def _count(engine: Engine, model: type[User] | type[Department]) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def test_every_invalid_setting_is_named_by_its_variable_on_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    result = _run(
        monkeypatch, "users", "list", SHOUXIN_BATCH_SIZE="abc", SHOUXIN_PUBLICATION_WORKING_DAYS="0"
    )
    assert result.exit_code == 2
    line = _one_error_line(result)
    assert "SHOUXIN_BATCH_SIZE: Input should be a valid integer" in line
    assert "SHOUXIN_PUBLICATION_WORKING_DAYS: Input should be greater than or equal to 1" in line


def test_a_setting_that_is_not_json_is_named_on_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    result = _run(monkeypatch, "serve", SHOUXIN_DEADLINE_OVERRIDES="{reply: 7")
    assert result.exit_code == 2
    assert "SHOUXIN_DEADLINE_OVERRIDES: 不是有效的 JSON 值" in _one_error_line(result)


@pytest.mark.parametrize(
    "args",
    [
        ("users", "list"),
        ("users", "add", "--name", "张三", "--role", "admin"),
        ("audit", "verify"),
        ("departments", "list"),
    ],
)
def test_a_missing_database_file_is_one_line_naming_db_upgrade_and_stays_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, args: tuple[str, ...]
) -> None:
    missing = tmp_path / "moved-away.db"
    result = _run(monkeypatch, *args, SHOUXIN_DATABASE_URL=f"sqlite:///{missing}")
    assert result.exit_code == 1
    line = _one_error_line(result)
    assert f"数据库文件 {missing} 不存在" in line
    assert "shouxin db upgrade" in line
    assert not missing.exists()


@pytest.mark.parametrize("name", ["", "名" * 500])
def test_an_invalid_user_name_is_one_line_and_creates_no_user(
    monkeypatch: pytest.MonkeyPatch, engine: Engine, name: str
) -> None:
    result = _run(monkeypatch, "users", "add", "--name", name, "--role", "admin")
    assert result.exit_code == 2
    assert "name: String should have" in _one_error_line(result)
    assert _count(engine, User) == 0


@pytest.mark.parametrize(
    ("file_name", "content", "problem"),
    [
        ("depts.yaml", b"- code: FGW\n  name: [\n", "YAML 格式错误"),
        ("depts.csv", b"\xff\xfegarbage", "不是 UTF-8 编码"),
        ("depts.csv", b"code,name,level\nFGW," + b"x" * 200_000 + b",city\n", "CSV 格式错误"),
        ("depts.yaml", b"- FGW\n- ZJJ\n", "应为含 code、name、level 的部门"),
    ],
)
def test_an_unreadable_departments_file_is_one_line_naming_it_and_imports_nothing(
    monkeypatch: pytest.MonkeyPatch,
    engine: Engine,
    tmp_path: Path,
    file_name: str,
    content: bytes,
    problem: str,
) -> None:
    path = tmp_path / file_name
    path.write_bytes(content)
    result = _run(monkeypatch, "departments", "import", str(path))
    assert result.exit_code == 1
    line = _one_error_line(result)
    assert file_name in line
    assert problem in line
    assert _count(engine, Department) == 0


def test_audit_verify_refuses_an_unknown_kind_instead_of_reporting_a_clean_chain(
    monkeypatch: pytest.MonkeyPatch, engine: Engine
) -> None:
    result = _run(monkeypatch, "audit", "verify", "--kind", "complaints")
    assert result.exit_code == 1
    line = _one_error_line(result)
    assert "complaint / pledge / breach" in line
    assert "哈希链完整" not in result.output


def test_audit_verify_of_a_case_without_events_says_so_instead_of_reporting_a_clean_chain(
    monkeypatch: pytest.MonkeyPatch, engine: Engine
) -> None:
    result = _run(monkeypatch, "audit", "verify", "--case", "99999")
    assert result.exit_code == 1
    assert "没有案件 #99999" in _one_error_line(result)
    # Checking every case of a kind that has none yet is still a clean (empty) chain.
    assert _run(monkeypatch, "audit", "verify", "--kind", "breach").exit_code == 0


DATABASE_COMMANDS = [
    ("users", "list"),
    ("users", "add", "--name", "张三", "--role", "admin"),
    ("notifications", "list"),
    ("hotline", "list"),
    ("hotline", "token"),
    ("platform", "alarms"),
    ("audit", "verify"),
    ("sweep", "--no-prefect", "--dry-run"),
]


@pytest.mark.parametrize("args", DATABASE_COMMANDS)
def test_a_database_never_migrated_is_one_line_naming_db_upgrade(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, args: tuple[str, ...]
) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    result = _run(monkeypatch, *args, SHOUXIN_DATABASE_URL=f"sqlite:///{empty}")
    assert result.exit_code == 1
    line = _one_error_line(result)
    assert "数据库结构版本为 空" in line
    assert "shouxin db upgrade" in line


def _migrated_to(path: Path, revision: str) -> None:
    from alembic import command

    from models.db import create_sqlite_file, make_engine
    from models.schema import alembic_config

    url = f"sqlite:///{path}"
    create_sqlite_file(url)
    engine = make_engine(url)
    cfg = alembic_config(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    engine.dispose()


@pytest.mark.parametrize("args", [*DATABASE_COMMANDS, ("departments", "import", "DEPARTMENTS_FILE")])
def test_a_database_behind_the_code_is_refused_before_it_is_read_or_written(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, args: tuple[str, ...]
) -> None:
    old = tmp_path / "old.db"
    _migrated_to(old, "0017_case_files")
    departments = tmp_path / "d.csv"
    departments.write_text("code,name,level\nFGW,发改委,city\n", encoding="utf-8")
    args = tuple(str(departments) if arg == "DEPARTMENTS_FILE" else arg for arg in args)
    result = _run(monkeypatch, *args, SHOUXIN_DATABASE_URL=f"sqlite:///{old}")
    assert result.exit_code == 1
    line = _one_error_line(result)
    assert "数据库结构版本为 0017_case_files" in line
    assert "shouxin db upgrade" in line
    with sqlite3.connect(old) as conn:
        assert conn.execute("SELECT count(*) FROM app_user").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM department").fetchone() == (0,)
    # The commands that bring it up to date still run on it.
    current = _run(monkeypatch, "db", "current")
    assert current.exit_code == 0
    assert "0017_case_files" in current.output


@pytest.mark.parametrize(
    "args", [("db", "current"), ("db", "upgrade"), ("users", "list"), ("audit", "verify")]
)
def test_an_unreachable_database_server_is_one_line_without_the_password(
    monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    result = _run(monkeypatch, *args, SHOUXIN_DATABASE_URL="postgresql+psycopg://u:secret@127.0.0.1:1/x")
    assert result.exit_code == 1
    line = _one_error_line(result)
    assert "无法连接数据库 postgresql+psycopg://u:***@127.0.0.1:1/x" in line
    assert "secret" not in line


@pytest.mark.parametrize(
    "args",
    [
        ("users", "add", "--name", "张三", "--role", "admin"),
        ("hotline", "token"),
        ("departments", "import", "DEPARTMENTS_FILE"),
    ],
)
def test_a_read_only_database_is_one_line_and_keeps_what_it_holds(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, args: tuple[str, ...]
) -> None:
    from models.schema import upgrade

    path = tmp_path / "ro.db"
    _run(monkeypatch, "users", "list", SHOUXIN_DATABASE_URL=f"sqlite:///{path}")
    upgrade(get_engine())
    get_engine().dispose()
    departments = tmp_path / "d.csv"
    departments.write_text("code,name,level\nFGW,发改委,city\n", encoding="utf-8")
    args = tuple(str(departments) if arg == "DEPARTMENTS_FILE" else arg for arg in args)
    # Opened read-only as a file without write permission is (the tests may run as root, who has it).
    read_only = f"sqlite:///file:{path}?mode=ro&uri=true"
    result = _run(monkeypatch, *args, SHOUXIN_DATABASE_URL=read_only)
    assert result.exit_code == 1
    assert "只读，无法写入" in _one_error_line(result)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM app_user").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM department").fetchone() == (0,)


@pytest.mark.parametrize(
    "address",
    [
        "postgresql://u:secret@127.0.0.1:5432/x",  # the default driver, psycopg2, is not installed
        "postgres://u:secret@127.0.0.1:5432/x",  # no such SQLAlchemy dialect
        "sqlite:/x.db",  # cannot be parsed
        "nonsense",
    ],
)
@pytest.mark.parametrize("args", [("users", "list"), ("db", "upgrade"), ("db", "current"), ("serve",)])
def test_an_unusable_database_address_is_one_line_naming_the_variable_and_the_accepted_forms(
    monkeypatch: pytest.MonkeyPatch, address: str, args: tuple[str, ...]
) -> None:
    # A real key, so `serve` gets past its own secret-key check to the database.
    result = _run(monkeypatch, *args, SHOUXIN_DATABASE_URL=address, SHOUXIN_SECRET_KEY="k" * 48)
    assert result.exit_code == 2
    line = _one_error_line(result)
    assert "SHOUXIN_DATABASE_URL" in line
    assert "sqlite:///" in line
    assert "postgresql+psycopg://" in line
    assert "secret" not in line
