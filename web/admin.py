"""Administration pages: departments, users, notifications, the mail sink (the working-day calendar is
web/admin_calendar.py)."""

from __future__ import annotations

import datetime as dt
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session, col, select

from api.deps import ClockDep, SessionDep, actor_of
from models.account_admin import change_role, revoke_token, set_active
from models.accounts import create_user, import_departments, set_password
from models.department_retire import retire_by_code
from models.errors import DomainError, NotFound, ValidationFailed
from models.lifecycle import Role
from models.org import LEVEL_LABELS, Department, DepartmentCreate, User, UserCreate
from models.outbox import (
    DELIVERY_CHANNEL_LABELS,
    PROVIDER_MESSAGE_ID_MAX,
    Notification,
    NotificationStatus,
    delivered_by_other_channel,
    secret_removed,
)
from models.pledges.access import SUPERSEDED
from models.settings import get_settings
from notifications.catalogue import TEMPLATES
from notifications.outbox_service import code_reissuers, list_notifications, retry_dead
from notifications.render import sender_organisation
from notifications.sink import list_sink_messages
from web.core import (
    STAFF_ROLE_CHOICES,
    current_user,
    form_data,
    form_refused,
    page_router,
    redirect,
    render,
    set_session_cookie,
    start_session,
)
from web.staff_pledges import PLEDGE_STAFF

router = page_router("/staff/admin")
ADMIN = (Role.ADMIN,)
OVERSIGHT = (Role.ADMIN, Role.SUPERVISOR)
STATUS_LABELS = {"pending": "待发送", "sent": "已发送", "dead": "发送失败", "undeliverable": "无地址"}
# The outbox stores each message's template key; the page says what the message is for.
TEMPLATE_LABELS = {name: spec.description for name, spec in TEMPLATES.items()}
# Steps the pages cannot undo, or that cut someone off at once: each form states what follows beside a box
# the admin ticks, and the handler refuses it unticked, as the public online withdrawal does
# (models/complaints/tracking.py WITHDRAWAL_CONFIRMATION). The forms put the department's or user's name
# in front of these.
RETIRE_CONFIRMATION = (
    "撤并后不能撤销：该部门即停用，此后涉及它的新投诉、新告知承诺改由承接部门办理；其未办结投诉（主办、"
    "协办）、仍可办理的告知承诺、公示中的失信记录和下属部门立即移交所选承接部门，承接部门收到移交清单，"
    "信用平台收到认定部门的更正，12345 工单改派承接部门"
)
DEACTIVATE_CONFIRMATION = "即刻不能登录，令牌停用，网页登录全部退出（可再启用）"
REVOKE_CONFIRMATION = "旧令牌即刻失效（用它的程序随之无法访问），网页登录全部退出；新令牌只显示一次"


def _departments_page(request: Request, session: Session, **context: Any) -> Response:
    context.setdefault("values", {})
    context.setdefault("errors", {})
    context.setdefault("status_code", 200)
    context.setdefault("saved", None)
    # The 撤并 form's answer, and a refused form's message and entries, shown at the department's row.
    context.setdefault("retired", None)
    context.setdefault("retire_error", None)
    context.setdefault("retire_code", None)
    context.setdefault("retire_values", {})
    context.setdefault("retire_errors", {})
    rows = list(session.exec(select(Department).order_by(col(Department.code))))
    by_id = {d.id: d for d in rows}
    return render(
        request,
        "admin_departments.html",
        title="部门管理",
        rows=rows,
        by_id=by_id,
        levels=LEVEL_LABELS,
        retire_confirmation=RETIRE_CONFIRMATION,
        **context,
    )


@router.get("/departments")
def departments(request: Request, session: SessionDep) -> Response:
    current_user(request, session, *OVERSIGHT)
    return _departments_page(request, session)


@router.post("/departments")
async def save_department(request: Request, session: SessionDep) -> Response:
    """Add a department, or update the one with the same code (the same service as the file import)."""
    current_user(request, session, *ADMIN)
    form = await form_data(request)
    data: dict[str, Any] = {k: v for k, v in form.items() if v != ""}
    if "competent_code" in form:
        # The form always sends its choice: “（无）” clears the 主管部门 (a file import without the column
        # leaves it alone, so the service tells the two apart by whether the field was given).
        data.setdefault("competent_code", None)
    try:
        item = DepartmentCreate.model_validate(data)
        created, _ = import_departments(session=session, items=[item])
    except (ValidationError, DomainError) as exc:
        errors, status = form_refused(session, exc, at_field=True)
        return _departments_page(request, session, values=form, errors=errors, status_code=status)
    session.commit()
    return _departments_page(
        request, session, saved=("已新增" if created else "已更新") + f"部门 {item.code}"
    )


@router.post("/departments/{code}/retire")
async def retire_department(request: Request, code: str, session: SessionDep, clock: ClockDep) -> Response:
    """撤并 (机构改革): the department's open work moves to the chosen successor; its staff are listed."""
    user = current_user(request, session, *ADMIN)
    form = await form_data(request)
    try:
        _ticked(form, "confirmed", "yes", "撤并部门")
        result = retire_by_code(
            session=session,
            code=code,
            successor_code=form.get("successor_code") or None,
            actor=actor_of(user),
            now=clock.now(),
            reason=form.get("reason", ""),
        )
    except DomainError as exc:
        errors, status = form_refused(session, exc, at_field=True)
        return _departments_page(
            request, session, retire_error=next(iter(errors.values())), retire_errors=errors,
            retire_code=code, retire_values=form, status_code=status,
        )  # fmt: skip
    session.commit()
    return _departments_page(request, session, retired=result)


def _users_page(request: Request, session: Session, **context: Any) -> Response:
    context.setdefault("values", {})
    context.setdefault("errors", {})
    context.setdefault("status_code", 200)
    context.setdefault("created", None)
    context.setdefault("reissued", None)
    context.setdefault("message", None)
    context.setdefault("error_user", None)  # whose row a refused form's field error shows at
    rows = list(session.exec(select(User).order_by(col(User.id))))
    depts = {d.id: d for d in session.exec(select(Department).order_by(col(Department.code)))}
    return render(
        request,
        "admin_users.html",
        title="用户管理",
        rows=rows,
        depts=depts,
        roles=STAFF_ROLE_CHOICES,
        deactivate_confirmation=DEACTIVATE_CONFIRMATION,
        revoke_confirmation=REVOKE_CONFIRMATION,
        **context,
    )


@router.get("/users")
def users(request: Request, session: SessionDep) -> Response:
    current_user(request, session, *ADMIN)
    return _users_page(request, session)


@router.post("/users")
async def add_user(request: Request, session: SessionDep) -> Response:
    """Create a staff account; its API token is shown on this page once, as `shouxin users add` prints it."""
    current_user(request, session, *ADMIN)
    form = await form_data(request)
    try:
        data = UserCreate.model_validate({k: v for k, v in form.items() if v != ""})
        user, token = create_user(session=session, data=data)
    except (ValidationError, DomainError) as exc:
        errors, status = form_refused(session, exc)
        return _users_page(request, session, values=form, errors=errors, status_code=status)
    session.commit()
    return _users_page(request, session, created={"user": user, "token": token})


def _ticked(form: dict[str, str], name: str, value: str, step: str) -> None:
    """Refuse a form whose confirmation box ``name`` was not ticked (it posts ``value`` only when ticked),
    before anything is done; the page shows why at the box."""
    if form.get(name) != value:
        raise ValidationFailed(
            f"请先勾选确认框，确认已了解{step}的后果后再提交 (tick the confirmation first)", field=name
        )


def _target(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"用户 #{user_id} 不存在 (no user {user_id})")
    return user


@router.post("/users/{user_id}/active")
async def user_active(request: Request, user_id: int, session: SessionDep) -> Response:
    """Deactivate or reactivate an account; its page sessions end (models.account_admin)."""
    me = current_user(request, session, *ADMIN)
    form = await form_data(request)
    user = _target(session, user_id)
    # Reactivating takes nothing away and posts "1" unasked; deactivating posts "0" only from its ticked box.
    active = form.get("active") == "1"
    try:
        if not active:
            _ticked(form, "active", "0", "停用账号")
        set_active(session=session, target=user, active=active, by=me)
    except DomainError as exc:
        errors, status = form_refused(session, exc, at_field=True)
        return _users_page(request, session, errors=errors, error_user=user.id, status_code=status)
    session.commit()
    return _users_page(request, session, message=f"已{'启用' if active else '停用'}用户 {user.name}")


@router.post("/users/{user_id}/role")
async def user_role(request: Request, user_id: int, session: SessionDep) -> Response:
    """Give an account another role (and department); its page sessions end."""
    me = current_user(request, session, *ADMIN)
    form = await form_data(request)
    user = _target(session, user_id)
    try:
        role = Role(form.get("role", ""))
        change_role(
            session=session,
            target=user,
            role=role,
            by=me,
            department_code=form.get("department_code") or None,
        )
    except ValueError:
        return _users_page(request, session, errors={"__all__": "请从列表中选择角色"}, status_code=422)
    except DomainError as exc:
        errors, status = form_refused(session, exc)
        return _users_page(request, session, errors=errors, status_code=status)
    session.commit()
    return _users_page(
        request, session, message=f"已将 {user.name} 的角色改为 {STAFF_ROLE_CHOICES[str(role)]}"
    )


@router.post("/users/{user_id}/token")
async def user_token(request: Request, user_id: int, session: SessionDep) -> Response:
    """Revoke an account's API token and show the new one once, as when the account was created."""
    me = current_user(request, session, *ADMIN)
    form = await form_data(request)
    user = _target(session, user_id)
    # The form's ticked box posts "revoke": a stray post never takes someone's token away.
    try:
        _ticked(form, "revoke", "1", "吊销令牌")
        token = revoke_token(session=session, target=user, by=me)
    except DomainError as exc:
        errors, status = form_refused(session, exc, at_field=True)
        return _users_page(request, session, errors=errors, error_user=user.id, status_code=status)
    session.commit()
    now = dt.datetime.now(dt.UTC)
    if user.id == me.id:
        # As for a new password: the admin who revoked their own token stays signed in here only, and
        # this page's forms carry the CSRF token of that new session.
        start_session(request, user, now)
    response = _users_page(request, session, reissued={"user": user, "token": token})
    if user.id == me.id:
        set_session_cookie(request, response, user, now)
    return response


@router.post("/users/{user_id}/password")
async def user_password(request: Request, user_id: int, session: SessionDep) -> Response:
    me = current_user(request, session, *ADMIN)
    form = await form_data(request)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"用户 #{user_id} 不存在 (no user {user_id})")
    try:
        set_password(session=session, user=user, password=form.get("password", ""))
    except DomainError as exc:
        errors, status = form_refused(session, exc)
        return _users_page(request, session, errors=errors, status_code=status)
    session.commit()
    now = dt.datetime.now(dt.UTC)
    if user.id == me.id:
        # A new password ends every session of its user; the admin who set their own stays signed in
        # here (a fresh cookie of the new generation, and this page's forms carry its CSRF token) and is
        # signed out everywhere else.
        start_session(request, user, now)
    response = _users_page(request, session, message=f"已为 {user.name} 设置网页登录密码")
    if user.id == me.id:
        set_session_cookie(request, response, user, now)
    return response


# The search fields of the notifications page, each an exact match (``list_notifications``).
NOTIFICATION_SEARCH = ("provider_id", "case")


def _found_notifications(session: Session, search: dict[str, str]) -> list[Notification] | None:
    """The rows of any status an SMS provider's id or a case number names (None: nothing asked), so a
    delivery report, a support ticket or a recipient's "I never got it" leads to the row that sent it."""
    if not search:
        return None
    return list_notifications(
        session=session,
        provider_message_id=search.get("provider_id"),
        case_number=search.get("case"),
        limit=100,
    )


@router.get("/notifications")
def notifications(request: Request, session: SessionDep) -> Response:
    user = current_user(request, session, *OVERSIGHT)
    search = {
        name: value[:PROVIDER_MESSAGE_ID_MAX]
        for name in NOTIFICATION_SEARCH
        if (value := request.query_params.get(name, "").strip())
    }
    pending = list_notifications(session=session, status=NotificationStatus.PENDING, limit=100)
    dead = list_notifications(session=session, status=NotificationStatus.DEAD, limit=100)
    # Never sent (no address, or a landline where an SMS was the way): staff reach these people otherwise.
    undeliverable = list_notifications(session=session, status=NotificationStatus.UNDELIVERABLE, limit=100)
    # Ended because their access code was re-issued: the new code's notice reaches the pledgor, nobody
    # needs to call or write to deliver these.
    superseded = {n.id for n in undeliverable if n.last_error == SUPERSEDED}
    # Dead rows that lost their access code when they died: retry_dead refuses them (409), so they show
    # the way to a fresh code (the pledge's re-issue) instead of a retry button.
    code_removed = {n.id for n in dead if secret_removed(n.template, n.context)}
    # Unless the same notice's other channel was sent: the pledgor has the code, which a re-issue would void.
    delivered = delivered_by_other_channel(session=session, rows=[n for n in dead if n.id in code_removed])
    code_delivered = {row_id: DELIVERY_CHANNEL_LABELS[channel] for row_id, channel in delivered.items()}
    return render(
        request,
        "admin_notifications.html",
        title="通知发送",
        pending=pending,
        dead=dead,
        code_removed=code_removed,
        code_delivered=code_delivered,
        undeliverable=undeliverable,
        superseded=superseded,
        sender_organisation=sender_organisation(),
        local_time=_local_time,
        can_retry=user.role == Role.ADMIN,
        # The admin cannot open a pledge (403): a lost code's row names who re-issues it instead of linking.
        can_open_pledges=user.role in PLEDGE_STAFF,
        code_reissuers=code_reissuers(),
        status_labels=STATUS_LABELS,
        template_labels=TEMPLATE_LABELS,
        search=search,
        found=_found_notifications(session, search),
    )


@router.post("/notifications/{notification_id}/retry")
async def retry(request: Request, notification_id: int, session: SessionDep) -> Response:
    current_user(request, session, *ADMIN)
    await form_data(request)
    retry_dead(session=session, notification_id=notification_id)
    session.commit()
    return redirect("/staff/admin/notifications")


def _local_time(moment: dt.datetime) -> str:
    """Stored times are UTC; people read them in the configured zone (Asia/Shanghai)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(ZoneInfo(get_settings().timezone)).strftime("%Y-%m-%d %H:%M")


def _mail_body(raw: str) -> str:
    """The plain-text part of a stored message (what the recipient reads), else its whole source."""
    # From bytes: the string parser garbles an 8bit UTF-8 body into \u escapes.
    parsed = message_from_bytes(raw.encode("utf-8", errors="replace"), policy=default_policy)
    if isinstance(parsed, EmailMessage):
        part = parsed.get_body(preferencelist=("plain",))
        if isinstance(part, EmailMessage):
            return str(part.get_content())
    return raw


@router.get("/mail")
def mail(request: Request, session: SessionDep) -> Response:
    current_user(request, session, *OVERSIGHT)
    messages = [
        {"message": m, "received": _local_time(m.received_at), "body": _mail_body(m.raw)}
        for m in list_sink_messages(session=session, limit=100)
    ]
    return render(request, "admin_mail.html", title="本地邮件接收器", messages=messages)
