"""The `shouxin` command line. Errors end with one line on stderr and a non-zero exit."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlmodel import select
from typer.core import TyperGroup

from cli import audit_cmd, calendar_cmd, flows_cmd, hotline_cmd, notifications_cmd, platform_cmd, pledges_cmd
from models.accounts import create_user, import_departments, read_department_file
from models.db import get_engine, session_scope
from models.errors import DomainError
from models.lifecycle import Role
from models.org import Department, User, UserCreate
from models.settings import Settings, get_settings


class OneLineErrors(TyperGroup):
    """The root command: a mistake in the input or the set-up ends as one line on stderr and a non-zero
    exit, here for every command (a domain error, an invalid setting or model input, a database that is
    missing, unreachable, read-only or behind the code), not as a traceback; anything else is a bug and
    keeps its traceback."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        # The whole command line, before click takes the subcommand's part: which command runs decides
        # whether the schema is checked first (invoke).
        ctx.meta[_ARGV] = list(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]  # (typer vendors click)
        try:
            if _uses_schema(self, ctx, ctx.meta.get(_ARGV, [])):
                _refuse_schema_behind()
            return super().invoke(ctx)
        except DomainError as exc:
            fail(exc.message)
        except SettingsError as exc:
            fail(_settings_error_line(exc), code=2)
        except ValidationError as exc:
            fail(_validation_error_line(exc), code=2)
        except SQLAlchemyError as exc:
            fail(_database_error_line(exc))
        except PermissionError as exc:
            # The account running shouxin may not open a file it needs (the database's lock file, say).
            fail(
                f"没有权限访问 {exc.filename}：请让运行 shouxin 的账号对该文件及其所在目录有读写权限 "
                f"(permission denied: {exc.filename})"
            )


_ARGV = "shouxin.argv"
# Commands that run on a schema behind the code (they are how it is brought up to date, or they copy the
# file as it is) or never open the database: no check first.
_NO_SCHEMA_CHECK = {
    ("db",),
    ("backup",),
    ("restore",),
    ("docs",),
    ("serve",),  # checks it itself, after the settings
    ("flows", "list"),
    ("flows", "serve"),
    ("flows", "deploy"),
}


def _uses_schema(root: TyperGroup, ctx: typer.Context, argv: list[str]) -> bool:
    """Whether ``argv`` runs a command that works on the database (not its help, not a group's help)."""
    if "--help" in argv:
        return False
    command: Any = root
    path: list[str] = []
    for token in argv:
        if not isinstance(command, TyperGroup):
            break
        found = command.get_command(ctx, token)
        if found is None:
            return False  # click says what is wrong with the command line
        path.append(token)
        command = found
    if isinstance(command, TyperGroup) or not path:
        return False
    return not any(tuple(path[: len(prefix)]) == prefix for prefix in _NO_SCHEMA_CHECK)


def _refuse_schema_behind() -> None:
    """A schema at an older revision than the code would take writes in the old shape, and fail reads
    with a traceback: refused up front, naming `shouxin db upgrade`. A database with no revision at all
    (never migrated: no tables) fails on its first query instead, and is named the same way there."""
    from models.schema import check_up_to_date, current_revision

    if current_revision(get_engine()) is not None:
        check_up_to_date(get_engine())


app = typer.Typer(help="守信 Shouxin：政务诚信案件办理平台", no_args_is_help=True, cls=OneLineErrors)
db_app = typer.Typer(help="数据库结构迁移", no_args_is_help=True)
users_app = typer.Typer(help="用户账号", no_args_is_help=True)
departments_app = typer.Typer(help="部门", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(departments_app, name="departments")
app.add_typer(calendar_cmd.app, name="calendar")
app.add_typer(flows_cmd.app, name="flows")
app.add_typer(notifications_cmd.app, name="notifications")
app.add_typer(hotline_cmd.app, name="hotline")
app.add_typer(pledges_cmd.app, name="pledges")
app.add_typer(platform_cmd.app, name="platform")
app.command("sweep")(pledges_cmd.sweep)
app.add_typer(audit_cmd.app, name="audit")
app.command("backup")(audit_cmd.backup)
app.command("restore")(audit_cmd.restore)
docs_app = typer.Typer(help="文档", no_args_is_help=True)
app.add_typer(docs_app, name="docs")

console = Console()


def fail(message: str, code: int = 1) -> None:
    """One line on stderr, then exit non-zero (a message over several lines is joined into one)."""
    print(f"错误: {' '.join(message.split())}", file=sys.stderr)
    raise typer.Exit(code)


def _validation_error_line(exc: ValidationError) -> str:
    """Every failed field on one line: a setting by its environment variable, other input by its field."""
    settings = exc.title == Settings.__name__
    parts = []
    for error in exc.errors(include_url=False):
        loc = [str(part) for part in error["loc"]]
        if not settings:
            name = ".".join(loc) or exc.title
        elif loc:  # a key inside a dict or list setting follows the variable: SHOUXIN_X[key]
            name = f"SHOUXIN_{loc[0].upper()}" + "".join(f"[{part}]" for part in loc[1:])
        else:
            name = "SHOUXIN_*"
        # A validator's own message (Chinese first) without pydantic's "Value error, " before it.
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{name}: {message}")
    text = "；".join(parts)
    return text if settings else f"输入无效 (invalid input)：{text}"


def _settings_error_line(exc: SettingsError) -> str:
    """pydantic-settings names the field in its message only (a list or dict setting that is not JSON)."""
    field = re.search(r'field "(\w+)"', str(exc))
    cause = f"：{exc.__cause__}" if exc.__cause__ else ""
    if field is None:
        return f"{exc}{cause}"
    return f"SHOUXIN_{field[1].upper()}: 不是有效的 JSON 值 (not valid JSON){cause}"


def _database_error_line(exc: SQLAlchemyError) -> str:
    """What the database refused, in the operator's terms: the server unreachable, the file read-only, the
    file missing or not migrated (naming `shouxin db upgrade`); otherwise the driver's first line."""
    from models.db import sqlite_file
    from models.schema import check_up_to_date

    # Not get_engine(): when making the engine is what failed, asking for it again here raised the same
    # error inside the handler (a traceback instead of this line). The settings were read before the
    # engine was made, and their validation refuses an address that cannot make one.
    url = make_url(get_settings().database_url)
    database = sqlite_file(url)
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    reason = lines[0] if lines else type(exc).__name__
    lowered = reason.lower()
    if isinstance(exc, OperationalError) and database is None and exc.statement is None:
        return (
            f"无法连接数据库 {url.render_as_string(hide_password=True)}：{reason}；请检查数据库服务是否运行、"
            "SHOUXIN_DATABASE_URL 是否正确 (cannot connect to the database server)"
        )
    if "readonly" in lowered or "read-only" in lowered:
        return (
            f"数据库 {database or url.database} 只读，无法写入：请让运行 shouxin 的账号对数据库文件及其所在"
            f"目录有写权限 (the database is read-only: {reason})"
        )
    if isinstance(exc, DBAPIError):
        try:
            # A missing file, or a schema never migrated or behind the code, fails the first query: the
            # check names the cause and `shouxin db upgrade`. The database answered, so the engine exists.
            check_up_to_date(get_engine())
        except DomainError as refused:
            return refused.message
        except SQLAlchemyError:
            pass
    return f"数据库访问失败：{reason}；请检查 SHOUXIN_DATABASE_URL 与数据库状态 (database error: {reason})"


@db_app.command("upgrade")
def db_upgrade() -> None:
    """把数据库结构升级到最新版本 (apply all migrations)."""
    from models.schema import upgrade

    revision = upgrade(get_engine())
    console.print(f"数据库结构已是最新版本：{revision}")


@db_app.command("current")
def db_current() -> None:
    """显示数据库结构版本。"""
    from models.schema import current_revision, head_revision

    console.print(f"当前 {current_revision(get_engine())}，最新 {head_revision()}")


@users_app.command("add")
def users_add(
    name: str = typer.Option(..., "--name", help="姓名"),
    role: Role = typer.Option(..., "--role", help="intake / handler / supervisor / admin"),
    department: str | None = typer.Option(None, "--department", help="所属部门代码（经办人必填）"),
    email: str | None = typer.Option(None, "--email", help="电子邮箱"),
) -> None:
    """创建用户并打印其访问令牌（最后一行，仅显示一次）。"""
    with session_scope() as session:
        user, token = create_user(
            session=session, data=UserCreate(name=name, role=role, department_code=department, email=email)
        )
        console.print(f"已创建用户 #{user.id} {user.name}（{user.role}），令牌仅显示一次：")
    print(token)


@users_app.command("set-password")
def users_set_password(
    user_id: int = typer.Option(..., "--id", help="用户 ID（见 shouxin users list）"),
    password: str = typer.Option(
        ...,
        "--password",
        prompt="新密码",
        hide_input=True,
        confirmation_prompt="再次输入新密码",
        help="网页登录密码",
    ),
) -> None:
    """设置用户的网页登录密码（至少 10 位；以 argon2 散列保存）。"""
    from models.accounts import set_password
    from models.errors import NotFound

    with session_scope() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(f"用户 #{user_id} 不存在；请用 shouxin users list 查看 ID (no user {user_id})")
        set_password(session=session, user=user, password=password)
        console.print(f"已为用户 #{user.id} {user.name} 设置网页登录密码")


@users_app.command("list")
def users_list() -> None:
    """列出用户。"""
    table = Table("ID", "姓名", "角色", "部门", "邮箱", "启用")
    with session_scope() as session:
        depts = {d.id: d.code for d in session.exec(select(Department)).all()}
        for u in session.exec(select(User).order_by(User.id)).all():  # type: ignore[arg-type]
            table.add_row(
                str(u.id),
                u.name,
                u.role,
                depts.get(u.department_id, "") or "",
                u.email or "",
                "是" if u.active else "否",
            )
    console.print(table)


@departments_app.command("import")
def departments_import(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV 或 YAML"),
) -> None:
    """导入部门（code, name, level, competent）；同代码的部门会被更新。"""
    items = read_department_file(file)
    with session_scope() as session:
        created, updated = import_departments(session=session, items=items)
    console.print(f"导入完成：新增 {created} 个，更新 {updated} 个部门")


@departments_app.command("list")
def departments_list() -> None:
    """列出部门（含已撤并部门及其承接部门）。"""
    table = Table("代码", "名称", "层级", "主管部门", "状态")
    with session_scope() as session:
        rows = session.exec(select(Department).order_by(Department.code)).all()
        by_id = {d.id: d.code for d in rows}
        for d in rows:
            status = "启用" if d.active else f"已撤并 → {by_id.get(d.successor_id) or '—'}"
            table.add_row(d.code, d.name, d.level, by_id.get(d.competent_id, "") or "", status)
    console.print(table)


@departments_app.command("retire")
def departments_retire(
    code: str = typer.Argument(..., help="撤并的部门代码"),
    successor: str | None = typer.Option(None, "--successor", help="承接部门代码（有未办结工作时必填）"),
    reason: str = typer.Option(..., "--reason", help="撤并原因，如：根据机构改革方案并入某局"),
    by: str | None = typer.Option(None, "--by", help="办理人（默认当前系统用户）"),
) -> None:
    """撤并部门（机构改革）：未办结投诉、未闭合告知承诺和下属部门移交承接部门，并通知承接部门。"""
    from cli.operator import operator_name
    from models.clock import utcnow
    from models.department_retire import retire_by_code
    from models.workflow import Actor

    actor = Actor(name=by or operator_name(), role=Role.ADMIN)
    with session_scope() as session:
        done = retire_by_code(
            session=session, code=code, successor_code=successor, actor=actor, now=utcnow(), reason=reason
        )
    if done.already_retired and not (done.complaints or done.pledges or done.records or done.departments):
        console.print(f"部门 {done.code} {done.name} 此前已撤并，没有需要再移交的工作")
        return
    heir = f"{done.successor_code} {done.successor_name}" if done.successor_code else "（未指定承接部门）"
    console.print(
        f"已撤并 {done.code} {done.name}，承接部门 {heir}：移交未办结投诉 {done.complaints} 件、"
        f"未闭合告知承诺 {done.pledges} 件、公示中的失信记录 {done.records} 件、"
        f"下属部门 {len(done.departments)} 个"
        + (
            f"；原部门待发送的 {done.notifications_readdressed} 封通知已改发承接部门"
            if done.notifications_readdressed
            else ""
        )
    )
    if done.staff_to_move:
        names = "、".join(f"{u.name}（#{u.id}）" for u in done.staff_to_move)
        console.print(f"以下用户仍属原部门，请改为承接部门或停用（shouxin users …）：{names}")


@app.command("demo")
def demo(
    remove: bool = typer.Option(
        False, "--remove", help="停用演示账号并作废其公开令牌（演示数据用过的数据库投入使用前）"
    ),
) -> None:
    """载入演示数据（部门、各角色用户、若干投诉与承诺），可重复执行；仅限 SHOUXIN_DEMO_MODE=true。"""
    from models.calendar import load_calendar
    from models.clock import Clock
    from models.demo import remove_demo_accounts, seed_demo, seed_demo_cases
    from models.errors import OutOfCalendarCoverage

    if remove:
        with session_scope() as session:
            removed = remove_demo_accounts(session=session)
        console.print(f"已停用 {len(removed)} 个演示账号，其公开令牌不再有效")
        return
    if not get_settings().demo_mode:
        # Its accounts' tokens (sx_demo_admin …) are printed in the README: on a real database they are
        # an open door, so the demo only goes where the operator said this is a demo.
        fail(
            "演示数据只能在演示模式下载入：其账号令牌（如 sx_demo_admin）是公开的；仅演示时请设 "
            "SHOUXIN_DEMO_MODE=true（`make run` 已设置）(demo data need SHOUXIN_DEMO_MODE=true: "
            "their tokens are public)"
        )
    with session_scope() as session:
        tokens = seed_demo(session=session)
    today = Clock.from_settings().today()
    try:
        with session_scope() as session:
            cases = seed_demo_cases(session=session, today=today, calendar=load_calendar(session=session))
        if cases:
            console.print(f"已创建演示案件：{', '.join(cases)}")
    except OutOfCalendarCoverage as exc:
        console.print(f"[yellow]未创建演示案件：{exc.message}[/yellow]")
    table = Table("角色", "用户", "令牌 (Authorization: Bearer …)")
    for role, name, token in tokens:
        table.add_row(role, name, token)
    console.print(table)


@docs_app.command("lifecycle")
def docs_lifecycle(
    write: bool = typer.Option(False, "--write", help="写回 README.md 的生命周期一节"),
) -> None:
    """打印（或写回 README）由代码生成的生命周期表。"""
    import re

    from models.lifecycle import all_lifecycles_markdown

    tables = all_lifecycles_markdown()
    if not write:
        print(tables)
        return
    readme = Path("README.md")
    try:
        text = readme.read_text(encoding="utf-8")
    except OSError as exc:
        fail(
            f"无法读取 {readme.resolve()}：{exc.strerror}；--write 写回当前目录下的 README.md，请在项目根目录"
            f"运行 (--write updates ./README.md: run it in the project's root)"
        )
    new, count = re.subn(
        r"(<!-- lifecycle:start -->\n).*(<!-- lifecycle:end -->)",
        lambda m: m[1] + tables + m[2],
        text,
        flags=re.S,
    )
    if count != 1:
        fail("README.md 中没有找到 lifecycle 标记")
    try:
        readme.write_text(new, encoding="utf-8")
    except OSError as exc:
        fail(f"无法写入 {readme.resolve()}：{exc.strerror} (cannot write README.md)")
    console.print("README.md 已更新")


def _refuse_demo_accounts() -> None:
    """Outside demo mode, no account may answer to a token printed in the README."""
    from models.demo import demo_accounts

    with session_scope() as session:
        names = [user.name for user in demo_accounts(session=session)]
    if names:
        fail(
            f"数据库中有 {len(names)} 个演示账号（{'、'.join(names)}），其令牌（如 sx_demo_admin）是公开的："
            "请运行 `shouxin demo --remove` 停用它们，或仅演示时设 SHOUXIN_DEMO_MODE=true "
            "(demo accounts with public tokens exist: run `shouxin demo --remove`, "
            "or set SHOUXIN_DEMO_MODE=true)"
        )


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="监听地址"),
    port: int = typer.Option(8000, min=1, max=65535, help="端口（1–65535）"),
    workers: int = typer.Option(1, min=1, help="API 进程数"),
    access_log: bool = typer.Option(
        True, "--access-log/--no-access-log", help="逐条记录请求日志（反向代理已记录时可关闭以省 CPU）"
    ),
    with_flows: bool = typer.Option(
        False, "--with-flows", help="同时启动本地 Prefect 服务器并按计划运行流程"
    ),
    forwarded_allow_ips: str | None = typer.Option(
        None,
        "--forwarded-allow-ips",
        help="信任其 X-Forwarded-For 头的反向代理地址（逗号分隔）；"
        "默认取 SHOUXIN_FORWARDED_ALLOW_IPS，未设则不信任任何地址",
    ),
) -> None:
    """启动 API 服务（以及 SHOUXIN_MAIL_SINK=true 时的本地邮件接收器）。"""
    import uvicorn

    from models.schema import check_up_to_date

    settings = get_settings()
    problem = settings.secret_key_problem()
    if problem and not settings.demo_mode:
        fail(problem)
    # uvicorn believes X-Forwarded-For from 127.0.0.1 unless told otherwise, and the rate limits count by
    # the client address: without a trusted proxy, a client could pick a new address for every request.
    trusted = (settings.forwarded_allow_ips if forwarded_allow_ips is None else forwarded_allow_ips).strip()
    check_up_to_date(get_engine())
    if not settings.demo_mode:
        _refuse_demo_accounts()
    if get_settings().mail_sink:
        from notifications.sink import start_sink

        start_sink(get_engine())
        console.print(f"本地邮件接收器已启动：{get_settings().smtp_host}:{get_settings().smtp_port}")
    children = []
    if with_flows:
        from cli.embedded import start_embedded_prefect

        children = start_embedded_prefect(console)
    try:
        uvicorn.run(
            "api.app:app",
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            access_log=access_log,
            proxy_headers=bool(trusted),
            forwarded_allow_ips=trusted or None,
        )
    finally:
        for child in children:
            child.terminate()


if __name__ == "__main__":
    app()
