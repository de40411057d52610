"""What the complaint case page says beside the case's facts: which choices its forms make staff make,
which fields are required or published, what the action just taken did (the flash), and the complainant
notices that reached nobody, for the staff who must then phone the complainant."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from models import complaints as service
from models.audit import CaseEventPublic
from models.complaint import Complaint
from models.complaints.notify import notice_key_prefix
from models.government_credit import public_text_draft
from models.lifecycle import Role
from models.org import Department
from models.outbox import Notification, NotificationStatus
from models.workflow import Actor
from notifications.catalogue import TEMPLATES
from web.core import public_message

# Selects whose choice has a consequence: drawn with an empty first option and refused on the page when
# left empty, even where the API has a default (失信程度 is 一般 there when left out): a page must not tell
# a complainant to go to court, rate a return visit or decide whether and how long a breach is published
# because an option happened to come first.
CHOSEN_FIELDS = frozenset({"route", "severity", "satisfaction", "lead_department_code"})

# A reason that becomes the published 失信事实 (models/government_credit.py record_breach builds the credit
# record's facts from it; the register, the API, the exports and the credit platform show them).
PUBLISHED_REASON_LABEL = "拒不整改的失信事实（将作为失信事实公示）"
PUBLISHED_REASON_HINT = (
    "将作为失信事实公示，不得含个人信息、内部备注。公示为“经责令整改，拒不整改：”加此处所填内容；"
    "内部意见请写在备注中。"
)
# A chase's note goes word for word into the notice to the department chased (and, on 提级办理, to its
# 主管部门): models/complaints/supervision.py after_supervision_step.
CHASE_NOTE_LABEL = "督办意见（将发给被督办单位）"
CHASE_NOTE_HINT = (
    "原文写入发给被督办单位的通知（提级办理时也发给其主管部门），可写明报送时限等要求；内部意见请勿填写。"
)
ACTION_FIELD_HINTS = {
    ("confirm_breach", "reason"): PUBLISHED_REASON_HINT,
    **{(chase, "note"): CHASE_NOTE_HINT for chase in ("remind", "supervise", "escalate")},
}

# The context keys of a complainant notice that hold what the complainant was to be told (the reply, a
# reason, the proper route): shown to the clerk who phones them instead.
_TOLD_KEYS = ("reply_text", "reason", "route", "explanation")
_SUPERVISION_STEPS = frozenset({"remind", "supervise", "escalate"})


def required_fields(action: str) -> list[str]:
    """The action's fields the page marks required: the body's required fields and the chosen selects."""
    model = service.ACTION_BODIES.get(action, service.ActionBody)
    return [
        name
        for name in service.body_fields(action)
        if name != "attachments" and (model.model_fields[name].is_required() or name in CHOSEN_FIELDS)
    ]


def action_forms(
    session: Session, complaint: Complaint, actor: Actor, today: dt.date
) -> list[dict[str, Any]]:
    forms = []
    for t in service.available_actions(session=session, complaint=complaint, actor=actor, today=today):
        fields = [f for f in service.body_fields(t.event) if f != "attachments"]
        # The 事实摘要 for publication starts from the summary with personal data masked.
        defaults = {"public_text": public_text_draft(complaint)} if t.event == "confirm_breach" else {}
        forms.append(
            {
                "event": t.event,
                "label": t.label,
                "fields": fields,
                "defaults": defaults,
                "required": required_fields(t.event),
            }
        )
    return forms


def action_body(action: str, form: dict[str, str]) -> service.ActionBody:
    model = service.ACTION_BODIES.get(action, service.ActionBody)
    values: dict[str, Any] = {}
    for name in [*service.body_fields(action), "note", "expected_version"]:
        raw = form.get(name, "")
        if raw == "" or name == "attachments":
            continue
        if name == "assisting_department_codes":
            values[name] = [c.strip() for c in raw.replace("，", ",").split(",") if c.strip()]
        else:
            values[name] = raw
    return model.model_validate(values)


def unchosen(action: str, form: dict[str, str], labels: dict[str, str]) -> dict[str, str]:
    """A field error for each chosen select of the action left on its empty option."""
    return {
        name: f"请选择{labels.get(name, name)}：此项须由您选定，本次未作处理"
        for name in service.body_fields(action)
        if name in CHOSEN_FIELDS and not form.get(name)
    }


def in_form_order(action: str, errors: dict[str, str]) -> dict[str, str]:
    """``errors`` in the order the action's form shows its fields (the summary lists them so), the rest
    (a message about the whole form) first."""
    order = [*service.body_fields(action), "note"]
    rest = {k: v for k, v in errors.items() if k not in order}
    return {**rest, **{name: errors[name] for name in order if name in errors}}


def first_invalid(action: str, errors: dict[str, str]) -> str | None:
    """The first field of the action's form with an error, which the page focuses."""
    shown = [name for name in [*service.body_fields(action), "note"] if name != "attachments"]
    return next((name for name in shown if name in errors), None)


def _department_names(session: Session, codes: Sequence[str]) -> dict[str, str]:
    if not codes:
        return {}
    rows = session.exec(select(Department).where(col(Department.code).in_(list(codes)))).all()
    return {d.code: d.name for d in rows}


def _event_notices(
    session: Session, complaint: Complaint, events: Sequence[CaseEventPublic], *, complainant: bool = False
) -> list[tuple[CaseEventPublic, Notification]]:
    """The outbox rows ``events`` of the case queued, each with its event, oldest first (``complainant``:
    only those to the complainant)."""
    if not events:
        return []
    stmt = select(Notification).where(
        Notification.case_kind == "complaint", Notification.case_id == complaint.id
    )
    if complainant:
        stmt = stmt.where(Notification.recipient_kind == "complainant")
    by_prefix = {notice_key_prefix(complaint.id, e.seq): e for e in events}
    found = []
    for row in session.exec(stmt.order_by(col(Notification.id))).all():
        event = next((e for prefix, e in by_prefix.items() if row.idempotency_key.startswith(prefix)), None)
        if event is not None:
            found.append((event, row))
    return found


def _told(event: CaseEventPublic, rows: Sequence[Notification]) -> list[str]:
    """What the complainant was to read in ``event``'s notices: the reply, a reason, the proper route. A
    reply's text is its event's note (merging.py ``reply``), read there too: the reply's own mail may not
    have been queued at all (it goes by e-mail only), leaving the return-visit notice, which does not
    carry it."""
    told = [str(row.context[k]) for row in rows for k in _TOLD_KEYS if row.context.get(k)]
    if event.event == "reply" and event.note:
        told.insert(0, event.note)
    return list(dict.fromkeys(told))


def _untold(
    complaint: Complaint, found: Sequence[tuple[CaseEventPublic, Notification]]
) -> dict[str, Any] | None:
    """The complainant notices among ``found`` that went by no channel, by the event that queued them: why,
    what they were to say, and the number to phone."""
    missed = [(e, r) for e, r in found if r.status == NotificationStatus.UNDELIVERABLE]
    if not missed:
        return None
    reasons = list(dict.fromkeys(public_message(r.last_error or "") for _, r in missed if r.last_error))
    notices = []
    events = {e.seq: e for e, _ in missed}
    for seq, event in events.items():
        rows = [r for e, r in missed if e.seq == seq]
        names = "、".join(dict.fromkeys(_notice_label(r.template) for r in rows))
        notices.append(
            {"label": f"{service.event_label(event.event)}（{names}）", "told": _told(event, rows)}
        )
    return {"reasons": reasons, "phone": complaint.complainant_phone, "notices": notices}


def _notice_label(template: str) -> str:
    spec = TEMPLATES.get(template)
    return spec.description if spec else template


def _may_phone(session: Session, complaint: Complaint, actor: Actor) -> bool:
    """Intake staff, and the lead department's handlers: those who can reach the complainant for the case."""
    if actor.role == Role.INTAKE:
        return True
    if actor.role != Role.HANDLER:
        return False
    parties = service.handler_parties(session=session, complaint=complaint, department_id=actor.department_id)
    return "lead" in parties


def untold_complainant(
    session: Session, complaint: Complaint, actor: Actor, events: Sequence[CaseEventPublic]
) -> dict[str, Any] | None:
    """The complainant notices of the case's current step (the event that brought it into its state and
    those since) that reached the complainant by no channel (no e-mail, no texted mobile): the reply, the
    refusal, the return visit … The page tells intake and the lead to phone the complainant; None for
    other viewers, or when every notice went out."""
    if not events or not _may_phone(session, complaint, actor):
        return None
    entered = max((e.seq for e in events if e.from_state != e.to_state), default=events[0].seq)
    current = [e for e in events if e.seq >= entered]
    return _untold(complaint, _event_notices(session, complaint, current, complainant=True))


def done_message(
    session: Session, complaint: Complaint, action: str, events: Sequence[CaseEventPublic]
) -> tuple[str, dict[str, Any] | None]:
    """The flash after ``action``, read off the latest such event of the case (what was recorded, not what
    the form said): whom a 派单 went to, whom a 催办/督办/提级办理 notified; and the complainant notices it
    queued that reached nobody."""
    label = service.event_label(action)
    event = next((e for e in reversed(events) if e.event == action), None)
    if event is None:
        return label, None
    found = _event_notices(session, complaint, [event])
    rows = [row for _, row in found]
    untold = _untold(complaint, [(e, r) for e, r in found if r.recipient_kind == "complainant"])
    if action == "dispatch":
        lead, assisting = str(event.data.get("lead") or ""), list(event.data.get("assisting") or [])
        names = _department_names(session, [lead, *assisting])
        label += f"（主办：{names.get(lead, lead)}"
        if assisting:
            label += "；协办：" + "、".join(names.get(code, code) for code in assisting)
        label += "）"
    elif action in _SUPERVISION_STEPS:
        label += _whom_notified(rows)
    if untold is not None:
        label += "；本次告知未能送达投诉人，请按下方提示电话告知"
    return label, untold


def _whom_notified(rows: Sequence[Notification]) -> str:
    reached = list(
        dict.fromkeys(r.recipient_name for r in rows if r.status != NotificationStatus.UNDELIVERABLE)
    )
    missed = list(
        dict.fromkeys(r.recipient_name for r in rows if r.status == NotificationStatus.UNDELIVERABLE)
    )
    text = f"（已通知：{'、'.join(reached)}" if reached else "（未通知他人"
    if missed:
        text += f"；未能送达（无联系地址）：{'、'.join(missed)}"
    return text + "）"
