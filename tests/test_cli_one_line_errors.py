"""Bad input on the command line ends in one `错误:` line on stderr and a non-zero exit, never a traceback,
and stores nothing: an invalid setting, a missing database file, an invalid name, an unreadable
departments file, an `audit verify` filter that matches nothing (ops review, items 1 and 2)."""

from __future__ import annotations

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
