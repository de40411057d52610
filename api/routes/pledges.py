"""Routes: informed pledges (staff) and the deciding department's decisions on breach records."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, File, Query, Response, UploadFile
from pydantic import BaseModel, Field
from sqlmodel import Session

from api.deps import ActorDep, CalendarDep, IdempotencyKey, SessionDep, TodayDep, no_store, require_roles
from api.routes.complaints import MAX_ID
from api.routes.evidence import FILES, read_files
from api.schemas import (
    DecidedBreach,
    EvidenceUploaded,
    EvidenceView,
    PledgeActionInfo,
    PledgeEventView,
    PledgePage,
    PledgeView,
    PledgeWithCode,
    StaffBreach,
)
from models.breach_requests import list_staff_breaches, staff_views
from models.calendar import WorkCalendar, load_calendar
from models.lifecycle import PLEDGE, BreachState, PledgeState, Role
from models.org import Department
from models.pledge import Pledge, PledgeCreate
from models.pledges import (
    PledgeQuery,
    get_pledge,
    list_pledges,
    pledge_action,
    pledge_events,
    pledge_view,
    register_pledge_with_code,
    store_evidence,
)
from models.pledges.access import REISSUE_EVENT, reissue_access_code
from models.pledges.queries import SEARCH_MAX_LENGTH, event_label
from models.register import BreachCorrection, decide, department_names, public_fields
from models.text import Paragraph
from models.workflow import Actor

router = APIRouter(tags=["告知承诺"])

STAFF = require_roles(Role.INTAKE, Role.HANDLER, Role.SUPERVISOR)
DECIDERS = require_roles(Role.HANDLER, Role.SUPERVISOR)


class ActionBody(BaseModel):
    """Body of a pledge or breach action; ``expected_version`` guards against concurrent edits."""

    expected_version: int | None = None
    reason: str | None = Field(default=None, max_length=2000)


def _view(session: Session, pledge: Pledge) -> PledgeView:
    return PledgeView.model_validate(_fields(session, pledge))


def _fields(session: Session, pledge: Pledge) -> dict[str, Any]:
    return pledge_view(pledge, load_calendar(session=session), session.get(Department, pledge.authority_id))


@router.post("/pledges", status_code=201, response_model=PledgeWithCode, dependencies=[STAFF])
def create_pledge(
    body: PledgeCreate,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    today: TodayDep,
    calendar: CalendarDep,
) -> PledgeWithCode:
    """登记告知承诺（逢办必查：有失信记录或虚假承诺的主体不适用承诺制）。

    ``access_code`` 为承诺人的办理码（提交履约材料、异议、信用修复时使用），仅在此返回一次，
    系统只保存其密钥散列；请当场告知承诺人（登记告知邮件中也载明）。"""
    pledge, code = register_pledge_with_code(
        session=session, data=body, actor=actor, today=today, calendar=calendar
    )
    session.commit()
    no_store(response)
    return PledgeWithCode.model_validate({**_fields(session, pledge), "access_code": code})


class ReissueBody(BaseModel):
    """Why a new access code is issued (e.g. the pledgor lost the notice); ``expected_version`` as for
    other actions."""

    expected_version: int | None = None
    reason: str | None = Field(default=None, max_length=500)


@router.post("/pledges/{pledge_id}/access-code", response_model=PledgeWithCode, dependencies=[STAFF])
def reissue_code(
    pledge_id: int,
    body: ReissueBody,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    today: TodayDep,
    calendar: CalendarDep,
    idempotency_key: IdempotencyKey = None,
) -> PledgeWithCode:
    """重新发放办理码：原办理码立即作废，新办理码仅在此返回一次并邮件告知承诺人；记入办理记录。
    带 `Idempotency-Key` 的重复提交返回同一办理码；带 `expected_version` 的重复提交返回 409。"""
    return _reissue(
        session, response, pledge_id, actor, today, calendar, body.reason, body.expected_version,
        idempotency_key,
    )  # fmt: skip


def _reissue(
    session: Session,
    response: Response,
    pledge_id: int,
    actor: Actor,
    today: dt.date,
    calendar: WorkCalendar,
    reason: str | None,
    expected_version: int | None,
    idempotency_key: str | None = None,
) -> PledgeWithCode:
    """The pledge with its new access code, for both routes that re-issue one."""
    pledge, code = reissue_access_code(
        session=session,
        pledge_id=pledge_id,
        actor=actor,
        today=today,
        calendar=calendar,
        reason=reason,
        expected_version=expected_version,
        idempotency_key=idempotency_key,
    )
    session.commit()  # before the code is handed out: a code that is not stored is never given
    no_store(response)
    return PledgeWithCode.model_validate({**_fields(session, pledge), "access_code": code})


@router.get("/pledges", response_model=PledgePage, dependencies=[STAFF])
def list_(
    session: SessionDep,
    actor: ActorDep,
    state: PledgeState | None = None,
    authority: str | None = None,
    deadline_from: dt.date | None = None,
    deadline_to: dt.date | None = None,
    q: str | None = Query(
        None, max_length=SEARCH_MAX_LENGTH, description="在编号、承诺人名称、信用代码中搜索"
    ),
    after: int | None = Query(None, ge=0, le=MAX_ID, description="上一页返回的 next_cursor"),
    limit: int = Query(50, ge=1, le=200),
) -> PledgePage:
    """承诺列表（按编号倒序，键集分页）；经办人只看到本部门的承诺。"""
    query = PledgeQuery(
        state=state,
        authority=authority,
        deadline_from=deadline_from,
        deadline_to=deadline_to,
        q=q,
        after=after,
        limit=limit,
    )
    rows, cursor = list_pledges(session=session, query=query, actor=actor)
    return PledgePage(items=[_view(session, p) for p in rows], next_cursor=cursor)


@router.get("/pledges/{pledge_id}", response_model=PledgeView, dependencies=[STAFF])
def get_(pledge_id: int, session: SessionDep, actor: ActorDep) -> PledgeView:
    return _view(session, get_pledge(session=session, pledge_id=pledge_id, actor=actor))


@router.get("/pledges/{pledge_id}/events", response_model=list[PledgeEventView], dependencies=[STAFF])
def events(pledge_id: int, session: SessionDep, actor: ActorDep) -> list[PledgeEventView]:
    """办理记录（哈希链审计）。"""
    result = []
    for e in pledge_events(session=session, pledge_id=pledge_id, actor=actor):
        label = event_label(e.event)
        result.append(PledgeEventView.model_validate({**e.model_dump(), "label": label}))
    return result


@router.get("/pledges/{pledge_id}/actions", response_model=list[PledgeActionInfo], dependencies=[STAFF])
def actions(pledge_id: int, session: SessionDep, actor: ActorDep) -> list[PledgeActionInfo]:
    """当前账号可执行的操作。"""
    pledge = get_pledge(session=session, pledge_id=pledge_id, actor=actor)
    return [
        PledgeActionInfo(event=t.event, label=t.label) for t in PLEDGE.available(pledge.state, actor.role)
    ]


# A re-issue answers with the new access code (PledgeWithCode); any other action with the pledge.
@router.post(
    "/pledges/{pledge_id}/actions/{action}",
    response_model=PledgeWithCode | PledgeView,
    dependencies=[STAFF],
)
def act(
    pledge_id: int,
    action: str,
    body: ActionBody,
    response: Response,
    session: SessionDep,
    actor: ActorDep,
    today: TodayDep,
    calendar: CalendarDep,
    idempotency_key: IdempotencyKey = None,
) -> PledgeWithCode | PledgeView:
    """确认履约 confirm、退回材料 reject_evidence（需理由）、认定虚假承诺 confirm_false、撤销 cancel；
    督办人员催办 review_remind、督办 review_supervise、提级办理 review_escalate 材料核查；
    重新发放办理码 reissue_access_code（同 POST /pledges/{id}/access-code，返回新的 access_code；带
    `Idempotency-Key` 的重复提交返回同一办理码）。"""
    if action == REISSUE_EVENT:  # listed by /actions like the others, so it is accepted here too
        return _reissue(
            session, response, pledge_id, actor, today, calendar, body.reason, body.expected_version,
            idempotency_key,
        )  # fmt: skip
    pledge = pledge_action(
        session=session,
        pledge_id=pledge_id,
        action=action,
        actor=actor,
        today=today,
        calendar=calendar,
        expected_version=body.expected_version,
        reason=body.reason,
    )
    session.commit()
    return _view(session, pledge)


@router.post(
    "/pledges/{pledge_id}/evidence", status_code=201, response_model=EvidenceUploaded, dependencies=[STAFF]
)
async def upload_evidence(
    pledge_id: int,
    session: SessionDep,
    actor: ActorDep,
    today: TodayDep,
    calendar: CalendarDep,
    # A list under the one field name ``file``: a client that sends one part is answered as before.
    file: list[UploadFile] = File(..., description=FILES.description),
) -> EvidenceUploaded:
    """上传履约材料（按内容识别类型，按 SHA-256 存放于数据库之外）。一次可上传多个文件（同名字段 ``file``
    重复），记为一次提交：一个办理事件、一封收到告知。文件为空、类型不符或过多→422，过大→413，均不存任何文件。"""
    rows = store_evidence(
        session=session,
        pledge_id=pledge_id,
        uploads=await read_files(file),
        actor=actor,
        today=today,
        calendar=calendar,
    )
    session.commit()
    files = [EvidenceView.model_validate(row) for row in rows]
    return EvidenceUploaded(
        evidence=files[0],
        files=files,
        pledge=_view(session, get_pledge(session=session, pledge_id=pledge_id)),
    )


@router.get("/breaches", response_model=list[StaffBreach], dependencies=[DECIDERS])
def staff_breaches(
    session: SessionDep, actor: ActorDep, state: BreachState | None = None
) -> list[StaffBreach]:
    """认定部门的公示记录（最新的 500 条），含待决定的异议理由、证明材料、信用修复承诺和履约材料文件。"""
    records = list_staff_breaches(session=session, actor=actor, state=state)
    return [StaffBreach.model_validate(v) for v in staff_views(session=session, records=records)]


class BreachDecisionBody(BaseModel):
    """Body of a breach decision; ``corrected`` (uphold_correct only) names only correctable fields."""

    expected_version: int | None = None
    reason: Paragraph | None = Field(default=None, max_length=2000)
    corrected: BreachCorrection | None = None


@router.post("/breaches/{breach_id}/actions/{action}", response_model=DecidedBreach, dependencies=[DECIDERS])
def decide_breach(
    breach_id: int,
    action: str,
    body: BreachDecisionBody,
    session: SessionDep,
    actor: ActorDep,
    today: TodayDep,
    calendar: CalendarDep,
) -> DecidedBreach:
    """异议决定：uphold_withdraw / uphold_correct（`corrected` 仅可含 matter、facts、basis、severity，
    其他字段返回 422）/ reject_objection；修复决定：approve_repair / reject_repair。"""
    record = decide(
        session=session,
        breach_id=breach_id,
        action=action,
        actor=actor,
        reason=body.reason or "",
        today=today,
        calendar=calendar,
        expected_version=body.expected_version,
        corrected=body.corrected,
    )
    session.commit()
    return DecidedBreach.model_validate(
        {
            "id": record.id,
            "version": record.version,
            **public_fields(record, department_names(session), mask=False),
        }
    )
