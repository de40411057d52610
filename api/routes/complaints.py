"""Routes: complaints (政府违约失信投诉) and their public tracking.

Thin: parse, call ``models.complaints``, commit, shape the answer. Each action has its own route and body
model (generated from ``ACTION_BODIES``), so the OpenAPI page documents every body and FastAPI answers an
invalid one with 422 and field messages.
"""

# No ``from __future__ import annotations`` here: the action routes are built in a loop, and FastAPI must
# see each body model as a real class, not as a string naming a loop variable.

import datetime as dt
from collections.abc import Callable

from fastapi import APIRouter, Body, Query, Request, Response
from pydantic import BaseModel, Field
from sqlmodel import Session

from api.deps import (
    ActorDep,
    CalendarDep,
    ClockDep,
    IdempotencyKey,
    SessionDep,
    TodayDep,
    no_store,
    require_roles,
)
from api.schemas import ComplaintView, complaint_view, complaint_views
from models import complaints as service
from models.audit import CaseEventPublic
from models.calendar import WorkCalendar
from models.complaint import Channel, ComplaintCreate
from models.complaints.tracking import PublicTracking
from models.lifecycle import COMPLAINT, ComplaintState, Role
from models.text import Line
from models.tracking_password import reissue_tracking_password
from models.workflow import Actor

router = APIRouter(tags=["投诉"])

# The largest id every table's INTEGER key holds on PostgreSQL: an ``after`` past it was never handed out,
# and bounded here it is refused naming the parameter, not by the database with a message naming nothing.
MAX_ID = 2**31 - 1


# The created complaint, with the tracking password shown this once (null on a repeat of the same key).
class ComplaintCreated(ComplaintView):
    tracking_password: str | None = Field(
        description="投诉人查询密码，仅显示这一次，请告知投诉人；带同一 Idempotency-Key 的重复提交为 null"
    )


# One page of the list; pass ``next_cursor`` as ``after`` for the next page (null: no more).
class ComplaintPage(BaseModel):
    items: list[ComplaintView]
    next_cursor: int | None


# One action the caller may take now.
class ActionInfo(BaseModel):
    event: str
    label: str
    fields: list[str] = Field(description="该操作请求体的字段（另可带 expected_version、note）")


# Input of the public lookup.
class TrackRequest(BaseModel):
    # Line: a control character (a NUL, which PostgreSQL refuses in any text) is a 422 naming the field.
    number: Line = Field(min_length=1, max_length=20, description="投诉编号")
    password: Line = Field(min_length=1, max_length=32, description="登记时告知的查询密码")


@router.post(
    "/complaints",
    status_code=201,
    response_model=ComplaintCreated,
    summary="登记投诉",
    dependencies=[require_roles(Role.INTAKE, Role.SUPERVISOR)],
)
def create_complaint(
    data: ComplaintCreate,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    today: TodayDep,
    calendar: CalendarDep,
    idempotency_key: IdempotencyKey = None,
) -> ComplaintCreated:
    """登记投诉；`tracking_password` 为投诉人查询密码，仅在此返回一次（系统只保存其散列）。

    可带 `Idempotency-Key` 请求头（每次登记一个新的随机值，如 UUID）：同一账号以同一键重复提交（如应答丢失后
    重试）不再登记新案件，返回首次登记的投诉，`tracking_password` 为 null（密码只显示一次；如投诉人未获知，
    请用 POST /complaints/{id}/tracking-password 重新生成）。两次同时提交时只登记一件。"""
    password: str | None
    if idempotency_key is None:
        complaint, password = service.register_complaint(
            session=session, data=data, actor=actor, today=today, calendar=calendar
        )
    else:
        complaint, password = service.register_complaint_once(
            session=session, data=data, actor=actor, today=today, calendar=calendar,
            idempotency_key=idempotency_key,
        )  # fmt: skip
    session.commit()
    no_store(response)  # the tracking password, shown this once
    return ComplaintCreated(**complaint_view(session, complaint).model_dump(), tracking_password=password)


@router.get("/complaints", response_model=ComplaintPage, summary="投诉列表（筛选、分页）")
def list_complaints(
    session: SessionDep,
    actor: ActorDep,
    today: TodayDep,
    state: ComplaintState | None = Query(None, description="状态"),
    department: str | None = Query(None, description="部门代码（承办或被投诉）"),
    due_before: dt.date | None = Query(None, description="办理期限不晚于此日期"),
    overdue: bool | None = Query(None, description="true：只看已超期；false：只看未超期"),
    channel: Channel | None = Query(None, description="受理渠道"),
    q: str | None = Query(
        None, max_length=100, description="在编号、摘要、投诉人及其电话、邮箱、信用代码、被投诉主体中搜索"
    ),
    after: int | None = Query(None, ge=0, le=MAX_ID, description="上一页返回的 next_cursor"),
    limit: int = Query(50, ge=1, le=200, description="每页条数"),
) -> ComplaintPage:
    filters = service.ComplaintFilter(
        state=state,
        department_code=department,
        due_before=due_before,
        overdue=overdue,
        channel=channel,
        q=q,
        after=after,
        limit=limit,
    )
    rows, cursor = service.list_complaints(session=session, actor=actor, filters=filters, today=today)
    return ComplaintPage(items=complaint_views(session, rows), next_cursor=cursor)


@router.get("/complaints/{complaint_id}", response_model=ComplaintView, summary="投诉详情")
def get_complaint(complaint_id: int, session: SessionDep, actor: ActorDep) -> ComplaintView:
    complaint = service.get_complaint(session=session, complaint_id=complaint_id, actor=actor)
    return complaint_view(session, complaint)


@router.get(
    "/complaints/{complaint_id}/events", response_model=list[CaseEventPublic], summary="办理过程（时间线）"
)
def get_events(complaint_id: int, session: SessionDep, actor: ActorDep) -> list[CaseEventPublic]:
    complaint = service.get_complaint(session=session, complaint_id=complaint_id, actor=actor)
    return service.timeline(session=session, complaint=complaint)


@router.get("/complaints/{complaint_id}/actions", response_model=list[ActionInfo], summary="当前可执行的操作")
def get_actions(complaint_id: int, session: SessionDep, actor: ActorDep, today: TodayDep) -> list[ActionInfo]:
    complaint = service.get_complaint(session=session, complaint_id=complaint_id, actor=actor)
    return [
        ActionInfo(event=t.event, label=t.label, fields=service.body_fields(t.event))
        for t in service.available_actions(session=session, complaint=complaint, actor=actor, today=today)
    ]


def _act(
    complaint_id: int,
    action: str,
    body: service.ActionBody,
    session: Session,
    actor: Actor,
    today: dt.date,
    calendar: WorkCalendar,
) -> ComplaintView:
    complaint = service.act(
        session=session,
        complaint_id=complaint_id,
        action=action,
        body=body,
        actor=actor,
        today=today,
        calendar=calendar,
    )
    session.commit()
    return complaint_view(session, complaint)


def _action_route(action: str, model: type[service.ActionBody]) -> Callable[..., ComplaintView]:
    # A body with required fields must be sent; one without may be omitted.
    required = any(f.is_required() for f in model.model_fields.values())
    default = Body(...) if required else Body(default_factory=model)

    def endpoint(
        complaint_id: int,
        session: SessionDep,
        actor: ActorDep,
        today: TodayDep,
        calendar: CalendarDep,
        body: model = default,  # type: ignore[valid-type]
    ) -> ComplaintView:
        return _act(complaint_id, action, body, session, actor, today, calendar)

    endpoint.__name__ = f"complaint_{action}"
    return endpoint


for _action, _model in service.ACTION_BODIES.items():
    _transition = COMPLAINT.transition(_action)
    router.add_api_route(
        f"/complaints/{{complaint_id}}/actions/{_action}",
        _action_route(_action, _model),
        methods=["POST"],
        response_model=ComplaintView,
        summary=f"{_transition.label}（{_action}）",
        description=f"操作“{_transition.label}”。状态不允许→409（含当前状态与可执行操作）；角色不允许→403；"
        "他部门案件→404；请求体无效→422；expected_version 过期→409。",
    )


@router.post(
    "/complaints/{complaint_id}/actions/{action}",
    response_model=ComplaintView,
    summary="执行其他操作（系统操作或未知操作将被拒绝）",
)
def other_action(
    complaint_id: int,
    action: str,
    session: SessionDep,
    actor: ActorDep,
    today: TodayDep,
    calendar: CalendarDep,
    body: service.ActionBody = Body(default_factory=service.ActionBody),
) -> ComplaintView:
    return _act(complaint_id, action, body, session, actor, today, calendar)


# Why the tracking password is re-issued (optional; recorded on the case's timeline).
class TrackingPasswordReissue(BaseModel):
    reason: Line | None = Field(default=None, max_length=500, description="重新生成的原因（记入办理过程）")


# The complaint's new tracking password, shown this once.
class TrackingPasswordIssued(BaseModel):
    id: int
    number: str
    tracking_password: str = Field(description="新的查询密码，仅显示这一次，请告知投诉人；原密码已作废")


@router.post(
    "/complaints/{complaint_id}/tracking-password",
    response_model=TrackingPasswordIssued,
    summary="重新生成投诉人查询密码（原密码作废）",
    dependencies=[require_roles(Role.INTAKE, Role.SUPERVISOR)],
)
def reissue_complaint_tracking_password(
    complaint_id: int,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    body: TrackingPasswordReissue = Body(default_factory=TrackingPasswordReissue),
) -> TrackingPasswordIssued:
    """投诉人未收到或遗失查询密码时（如 12345 平台未收到首次应答）：生成新密码，仅在此返回一次，
    原密码立即作废；记入办理过程（不含密码）。"""
    complaint = service.get_complaint(session=session, complaint_id=complaint_id, actor=actor)
    password = reissue_tracking_password(
        session=session, complaint=complaint, actor=actor, reason=body.reason
    )
    session.commit()  # before the password is handed out: a password that is not stored is never given
    no_store(response)
    assert complaint.id is not None
    return TrackingPasswordIssued(id=complaint.id, number=complaint.number, tracking_password=password)


@router.post(
    "/public/complaints/track",
    response_model=PublicTracking,
    summary="投诉人查询办理进度（无需登录）",
    tags=["公众"],
)
def track_complaint(
    data: TrackRequest, request: Request, session: SessionDep, clock: ClockDep
) -> PublicTracking:
    address = request.client.host if request.client else None
    return service.track(
        session=session, number=data.number, password=data.password, clock=clock, address=address
    )
