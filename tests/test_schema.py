"""Migrations build exactly the tables the code declares; the app refuses an out-of-date schema or a missing
database file, which only `shouxin db upgrade` creates."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from typer.testing import CliRunner

from api.main import create_app
from cli.main import app as cli
from models.db import get_engine, make_engine
from models.errors import SchemaOutOfDate
from models.schema import check_up_to_date, upgrade
from models.settings import get_settings
from models.tables import metadata
from tests.conftest import BACKENDS


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty SQLite file, or the session's PostgreSQL database (already built by the migrations)."""
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return f"sqlite:///{tmp_path / 'm.db'}"


def test_migrations_match_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    check_up_to_date(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), metadata)
    engine.dispose()
    assert diff == [], "models changed without a migration: alembic revision --autogenerate"


def test_app_refuses_an_out_of_date_schema(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}", create=True)
    with pytest.raises(SchemaOutOfDate, match="shouxin db upgrade"):
        create_app(engine=engine)


def test_only_db_upgrade_creates_a_missing_database_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "var" / "new.db"
    engine = make_engine(f"sqlite:///{database}")
    with pytest.raises(SchemaOutOfDate, match="不存在.*shouxin db upgrade"):
        create_app(engine=engine)  # the server refuses to start, naming the command
    engine.dispose()
    assert not database.exists()
    monkeypatch.setenv("SHOUXIN_DATABASE_URL", f"sqlite:///{database}")
    get_settings.cache_clear()
    get_engine.cache_clear()
    current = CliRunner().invoke(cli, ["db", "current"])
    assert (current.exit_code, "不存在" in current.output) == (1, True)
    assert not database.exists()
    result = CliRunner().invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    check_up_to_date(get_engine())
    get_engine().dispose()


def test_cli_db_upgrade_then_users_add_prints_the_token_last(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    dept_file = tmp_path / "d.yaml"
    dept_file.write_text(
        "- {code: D00, name: 市发改委, level: city}\n"
        "- {code: D01, name: 市住建局, level: city, competent: D00}\n",
        encoding="utf-8",
    )
    result = runner.invoke(cli, ["departments", "import", str(dept_file)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        cli,
        ["users", "add", "--name", "张三", "--role", "handler", "--department", "D01", "--email", "z@x.cn"],
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1].startswith("sx_")


def test_cli_errors_are_one_line_and_non_zero(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    args = ["users", "add", "--name", "李四", "--role", "handler", "--department", "NOPE"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 1
    assert "NOPE" in result.output
    bad = tmp_path / "d.csv"
    bad.write_text("code,name,level\nD9,某局,province\n", encoding="utf-8")
    result = runner.invoke(cli, ["departments", "import", str(bad)])
    assert result.exit_code == 1
    assert "第2行" in result.output
