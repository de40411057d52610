"""An operator's day on the command line (ops review of every `shouxin` command): a mistake ends in one
`错误:` line and a non-zero exit, and loses nothing stored: access codes whose file cannot be written, a
backup aimed at the live database, an unknown time zone, a README that is not there, a port out of range,
a department file's bad cell, a 12345 push with nothing configured; and lists a pipe can read whole."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select
from typer.testing import CliRunner, Result

from cli import notifications_cmd
from cli.main import app
from cli.pledges_cmd import _offline_codes
from models.accounts import import_departments
from models.db import get_engine
from models.outbox import Notification
from models.pledge import Pledge
from models.pledges.importing import ImportReport
from models.schema import upgrade
from models.settings import get_settings
from tests.cli_support import cli_engine, listed_at_80_columns, table_rows  # noqa: F401
from tests.conftest import DEPARTMENTS, TODAY

PLEDGE_HEADER = (
    "承诺人类型,承诺人名称,统一社会信用代码,电子邮箱,承诺事项,承诺内容,承诺期限,受理部门代码,依据\n"
)


def _run(monkeypatch: pytest.MonkeyPatch, *args: str, **env: str) -> Result:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    get_engine.cache_clear()
    return CliRunner().invoke(app, list(args))


def _one_error_line(result: Result) -> str:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("错误: ")
    return lines[0]


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A migrated SQLite file with one department, named by SHOUXIN_DATABASE_URL."""
    path = tmp_path / "live.db"
    monkeypatch.setenv("SHOUXIN_DATABASE_URL", f"sqlite:///{path}")
    get_settings.cache_clear()
    get_engine.cache_clear()
    upgrade(get_engine())
    with Session(get_engine()) as session:
        import_departments(session=session, items=DEPARTMENTS[:1])
        session.commit()
    get_engine().dispose()
    return path


def test_a_codes_file_that_cannot_be_written_refuses_the_import_before_anything_is_stored(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The codes exist only in this run's output: committed first, a re-run would say 已导入过 and they
    # would be gone.
    with Session(engine) as session:
        import_departments(session=session, items=DEPARTMENTS)
        session.commit()
    source = tmp_path / "p.csv"
    source.write_text(
        PLEDGE_HEADER + "企业,丙公司,914403001065769669,,施工许可,审查合格书,2026-12-31,D01,国办发42号\n",
        encoding="utf-8",
    )
    codes = tmp_path / "missing-dir" / "codes.csv"
    result = _run(
        monkeypatch, "pledges", "import", str(source), "--codes-out", str(codes), SHOUXIN_TODAY=str(TODAY)
    )
    assert result.exit_code == 1
    line = _one_error_line(result)
    assert str(codes) in line
    assert "未导入任何承诺" in line
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Pledge)).one() == 0
    assert not codes.parent.exists()


def test_pledgor_names_in_the_printed_codes_table_are_text_not_markup(
    capsys: pytest.CaptureFixture[str],
) -> None:
    report = ImportReport(source="p.csv")
    report.offline_codes = [
        {"number": "CN-2026-000002", "pledgor_name": "[bold]甲[/bold]公司", "access_code": "K7QM-2XRT-9PWD"}
    ]
    _offline_codes(report, None)
    assert "[bold]甲[/bold]公司" in capsys.readouterr().out


@pytest.mark.parametrize("suffix", ["", "-wal", "-shm"])
def test_a_backup_onto_the_live_database_or_its_wal_is_refused_and_the_database_kept(
    live: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    before = live.read_bytes()
    # The same file by another spelling: a relative path from its directory.
    monkeypatch.chdir(live.parent)
    result = _run(monkeypatch, "backup", f"../{live.parent.name}/{live.name}{suffix}")
    assert result.exit_code == 1
    assert "正在使用的数据库文件" in _one_error_line(result)
    assert live.read_bytes() == before
    with sqlite3.connect(live) as conn:
        assert conn.execute("SELECT count(*) FROM department").fetchone() == (1,)


@pytest.mark.parametrize("under", ["a-file", "/proc"])
def test_a_backup_that_cannot_be_written_is_one_line(
    live: Path, monkeypatch: pytest.MonkeyPatch, under: str
) -> None:
    if under == "a-file":
        (live.parent / "a-file").write_text("x", encoding="utf-8")
        under = str(live.parent / "a-file")
    result = _run(monkeypatch, "backup", f"{under}/x.bak")
    assert result.exit_code == 1
    assert "无法写入备份文件" in _one_error_line(result)


def test_an_unknown_time_zone_is_named_by_its_variable_in_chinese(monkeypatch: pytest.MonkeyPatch) -> None:
    result = _run(monkeypatch, "calendar", "status", SHOUXIN_TIMEZONE="Mars/Base")
    assert result.exit_code == 2
    line = _one_error_line(result)
    assert "SHOUXIN_TIMEZONE: 时区 'Mars/Base' 不存在" in line
    assert "Value error" not in line


def test_writing_the_lifecycle_outside_the_project_says_where_it_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = _run(monkeypatch, "docs", "lifecycle", "--write")
    assert result.exit_code == 1
    line = _one_error_line(result)
    assert str(tmp_path / "README.md") in line
    assert "项目根目录" in line


@pytest.mark.parametrize("port", ["0", "99999"])
def test_a_port_out_of_range_is_refused_before_anything_starts(
    monkeypatch: pytest.MonkeyPatch, port: str
) -> None:
    result = _run(monkeypatch, "serve", "--port", port)
    assert result.exit_code == 2
    assert "--port" in result.output


def test_a_bad_department_cell_is_named_by_its_spreadsheet_row_column_and_allowed_values(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "d.csv"
    bad.write_text("code,name,level\nA1,甲局,city\nA2,乙局,province\n", encoding="utf-8")
    result = _run(monkeypatch, "departments", "import", str(bad))
    assert result.exit_code == 1
    line = _one_error_line(result)
    assert "d.csv 第3行 列 level：“province”不是可选值" in line
    assert "city（市级） / county（县级） / zone（开发区）" in line


def test_the_notification_list_keeps_ids_and_case_numbers_whole_in_a_pipe(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Session(engine) as session:
        session.add(
            Notification(
                template="complaint_received_with_a_long_name",
                recipient_kind="complainant",
                recipient_name="某某建设工程集团有限公司第一分公司",
                recipient_email="a-rather-long-mailbox-name@example-company.com.cn",
                case_number="TS-2026-000001",
                idempotency_key="k1",
            )
        )
        session.commit()
    listed = listed_at_80_columns(notifications_cmd.app, monkeypatch)
    assert "…" not in listed.stdout
    ((number, case, template, _name, address, *_rest),) = table_rows(listed.stdout)
    assert (number[0], case[0]) == ("1", "TS-2026-000001")
    assert "".join(template) == "complaint_received_with_a_long_name"
    assert "".join(address) == "a-rather-long-mailbox-name@example-company.com.cn"


@pytest.mark.parametrize("command", [("notifications", "list"), ("hotline", "list"), ("platform", "list")])
def test_a_limit_below_one_is_refused(monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]) -> None:
    result = _run(monkeypatch, *command, "--limit", "-1")
    assert result.exit_code == 2
    assert "--limit" in result.output


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "SHOUXIN_HOTLINE_URL"),
        ({"SHOUXIN_HOTLINE_URL": "http://127.0.0.1:9/x"}, "SHOUXIN_HOTLINE_SECRET"),
    ],
)
def test_a_hotline_push_with_nothing_to_push_to_is_one_line_and_exits_1(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    for var in ("SHOUXIN_HOTLINE_URL", "SHOUXIN_HOTLINE_SECRET"):
        monkeypatch.delenv(var, raising=False)
    result = _run(monkeypatch, "hotline", "push", **env)
    assert result.exit_code == 1
    line = _one_error_line(result)
    assert named in line
    assert "HotlinePushReport" not in line


def test_a_hotline_push_reports_in_chinese(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _run(
        monkeypatch,
        "hotline",
        "push",
        SHOUXIN_HOTLINE_URL="http://127.0.0.1:9/x",
        SHOUXIN_HOTLINE_SECRET="a-real-random-secret-for-the-test",
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "已回传 0，待重试 0，失败 0，因同一投诉的前一条失败而暂缓 0"


def test_the_audit_case_filter_says_it_checks_every_kind_without_kind() -> None:
    result = CliRunner().invoke(app, ["audit", "verify", "--help"], env={"COLUMNS": "200"})
    assert "不加 --kind 时投诉、承诺、失信记录中该 ID 的案件都核验" in result.output


def test_a_department_is_retired_from_the_command_line_into_its_successor(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Session(engine) as session:
        import_departments(session=session, items=DEPARTMENTS)
        session.commit()
    refused = _run(monkeypatch, "departments", "retire", "D01", "--successor", "D01", "--reason", "并入")
    assert refused.exit_code == 1
    assert _one_error_line(refused).startswith("错误:")

    done = _run(
        monkeypatch, "departments", "retire", "D01", "--successor", "D02", "--reason", "机构改革并入财政局"
    )
    assert done.exit_code == 0, done.output
    assert "已撤并 D01 市住房和城乡建设局，承接部门 D02 市财政局" in done.output
    listed = _run(monkeypatch, "departments", "list")
    assert "已撤并 → D02" in listed.output
    again = _run(monkeypatch, "departments", "retire", "D01", "--successor", "D02", "--reason", "重复执行")
    assert again.exit_code == 0
    assert "此前已撤并" in again.output
