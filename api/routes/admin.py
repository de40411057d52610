"""Administration: departments, users, the calendar, the notification outbox and the local mail sink."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import SQLModel, col, select

from api.deps import ActorDep, CalendarDep, ClockDep, SessionDep, TodayDep, require_roles
from api.routes.complaints import MAX_ID
from models.accounts import create_user, import_departments
from models.calendar import DayKind, YearNotice, diff_notice
from models.calendar_admin import load_year_notice, year_version
from models.department_retire import DepartmentRetired, retire_by_code
from models.lifecycle import Role
from models.org import Department, DepartmentCreate, DepartmentPublic, User, UserCreate, UserPublic
from models.outbox import NotificationPublic, NotificationStatus
from notifications.outbox_service import list_notifications, retry_dead
from notifications.sink import list_sink_messages

router = APIRouter(prefix="/admin", tags=["系统管理"])

ADMIN = require_roles(Role.ADMIN)
OVERSIGHT = require_roles(Role.ADMIN, Role.SUPERVISOR)


class UserCreated(UserPublic):
    token: str  # shown once


class CalendarChange(SQLModel):
    date: dt.date
    was_workday: bool | None
    now_workday: bool
    description: str


class CalendarLoadResult(SQLModel):
    year: int
    saved: bool
    calendar_version: str
    # What the changes were computed from (the stored year's version): send it back as ``previewed`` when
    # saving, and the save is refused (409) if another administrator loaded the year in between.
    previewed: str
    changes: list[CalendarChange]


# One holiday or make-up workday of a year.
class CalendarDayView(BaseModel):
    date: dt.date
    kind: DayKind
    name: str


# A year of the working calendar: its working-day count, and its days off the plain Mon–Fri pattern.
class CalendarYear(BaseModel):
    year: int
    calendar_version: str
    working_days: int
    days: list[CalendarDayView]


# A message the local mail sink received (demo set-up), without its body.
class SinkMessageView(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    id: int
    received_at: dt.datetime
    mail_from: str = Field(alias="from")
    to: list[str]
    subject: str
    message_id: str | None


@router.get(
    "/departments", summary="部门列表", response_model=list[DepartmentPublic], dependencies=[OVERSIGHT]
)
def departments(session: SessionDep) -> Any:
    return session.exec(select(Department).order_by(col(Department.code))).all()


@router.post(
    "/departments",
    summary="新增或更新部门（按代码）",
    response_model=list[DepartmentPublic],
    dependencies=[ADMIN],
)
def upsert_departments(session: SessionDep, items: list[DepartmentCreate]) -> Any:
    import_departments(session=session, items=items)
    session.commit()
    codes = [i.code for i in items]
    return session.exec(
        select(Department).where(col(Department.code).in_(codes)).order_by(col(Department.code))
    ).all()


# A department to retire (机构改革) and who takes over its open work; no successor only when it has none.
class RetireRequest(BaseModel):
    successor_code: str | None = Field(default=None, max_length=32)
    reason: str = Field(min_length=1, max_length=500)


@router.post(
    "/departments/{code}/retire",
    summary="撤并部门（机构改革）：未办结工作移交承接部门，列出需调整的用户",
    response_model=DepartmentRetired,
    dependencies=[ADMIN],
)
def retire(
    session: SessionDep, actor: ActorDep, clock: ClockDep, code: str, body: RetireRequest
) -> DepartmentRetired:
    result = retire_by_code(
        session=session,
        code=code,
        successor_code=body.successor_code,
        actor=actor,
        now=clock.now(),
        reason=body.reason,
    )
    session.commit()
    return result


@router.get("/users", summary="用户列表", response_model=list[UserPublic], dependencies=[ADMIN])
def users(session: SessionDep) -> Any:
    return session.exec(select(User).order_by(col(User.id))).all()


@router.post(
    "/users",
    summary="创建用户（令牌仅返回一次）",
    response_model=UserCreated,
    status_code=201,
    dependencies=[ADMIN],
)
def add_user(session: SessionDep, data: UserCreate) -> Any:
    user, token = create_user(session=session, data=data)
    session.commit()
    return UserCreated(**UserPublic.model_validate(user).model_dump(), token=token)


@router.get("/calendar/{year}", summary="年度工作日日历（节假日与调休上班日）", response_model=CalendarYear)
def calendar_year(year: int, calendar: CalendarDep, _: ActorDep) -> CalendarYear:
    days = calendar.describe_year(year)
    return CalendarYear(
        year=year,
        calendar_version=calendar.version,
        working_days=calendar.working_days_in_year(year),
        days=[CalendarDayView(date=d.date, kind=d.kind, name=d.name) for d in days],
    )


@router.post(
    "/calendar",
    summary="载入年度放假通知（dry_run=true 仅预览差异）",
    response_model=CalendarLoadResult,
    dependencies=[ADMIN],
)
def load_calendar_year(
    session: SessionDep,
    calendar: CalendarDep,
    actor: ActorDep,
    today: TodayDep,
    notice: YearNotice,
    dry_run: bool = Query(False),
    previewed: str | None = Query(
        None,
        max_length=64,
        description="预览（dry_run）返回的 previewed；保存时带上，期间他人已重新载入该年则返回 409",
    ),
) -> Any:
    basis = year_version(calendar, notice.year)
    if dry_run:
        changes, version = diff_notice(calendar, notice), calendar.with_notice(notice).version
    else:
        changes, version, _ = load_year_notice(
            session=session,
            notice=notice,
            loaded_by=actor.name,
            actor=actor,
            previewed=previewed,
            today=today,
        )
        session.commit()
    return CalendarLoadResult(
        year=notice.year,
        saved=not dry_run,
        calendar_version=version,
        previewed=basis,
        changes=[
            CalendarChange(
                date=c.date, was_workday=c.was_workday, now_workday=c.now_workday, description=c.description
            )
            for c in changes
        ],
    )


@router.get(
    "/notifications",
    summary="通知列表（待发送/失败/无地址）",
    response_model=list[NotificationPublic],
    dependencies=[OVERSIGHT],
)
def notifications(
    session: SessionDep,
    status: NotificationStatus | None = None,
    after: int | None = Query(None, ge=0, le=MAX_ID, description="上一页最后一条的 id"),
    limit: int = Query(50, ge=1, le=500),
    provider_message_id: str | None = Query(
        None, max_length=128, description="短信服务商给的消息编号（阿里云 BizId、网关 message_id），精确匹配"
    ),
    case_number: str | None = Query(None, max_length=24, description="案件编号，精确匹配"),
) -> Any:
    return list_notifications(
        session=session,
        status=status,
        after_id=after,
        limit=limit,
        provider_message_id=provider_message_id,
        case_number=case_number,
    )


@router.post(
    "/notifications/{notification_id}/retry",
    summary="重新投递失败的通知",
    response_model=NotificationPublic,
    dependencies=[ADMIN],
)
def retry_notification(session: SessionDep, notification_id: int) -> Any:
    row = retry_dead(session=session, notification_id=notification_id)
    session.commit()
    return row


@router.get(
    "/mail-sink",
    summary="本地邮件接收器收到的邮件（演示环境）",
    response_model=list[SinkMessageView],
    dependencies=[OVERSIGHT],
)
def mail_sink(session: SessionDep, limit: int = Query(50, ge=1, le=500)) -> list[SinkMessageView]:
    return [
        SinkMessageView(
            id=m.id,
            received_at=m.received_at,
            mail_from=m.mail_from,
            to=m.rcpt_tos,
            subject=m.subject,
            message_id=m.message_id,
        )
        for m in list_sink_messages(session=session, limit=limit)
    ]
