"""The deciding department's decisions on objections and repair requests, and the corrections an
upheld objection makes to the public record."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic import ValidationError as PydanticValidationError
from sqlmodel import Session

from models.breach import PublishedBreach, Severity
from models.breach_notices import enqueue_for_subject, request_phone
from models.breach_record import (
    PLATFORM_DOCUMENTS,
    department_names,
    platform_document,
    publication_end,
    published_class,
    repair_earliest,
)
from models.breach_requests import visible_breach
from models.calendar import WorkCalendar
from models.clock import utcnow
from models.complaint import Complaint
from models.errors import Conflict, NotPermitted, ValidationFailed
from models.government_credit_record import follow_register_decision
from models.lifecycle import BreachState, Role
from models.org import Department
from models.platform import DocumentKind, enqueue_documents
from models.privacy import publication_text
from models.register.expiry import end_now
from models.register.government_feed import follow_class
from models.register.states import SHOWN_STATES, past_publication, record_outcome
from models.text import clean_text
from models.workflow import Actor, apply_event

BREACH_DECISIONS = (
    "uphold_withdraw",
    "uphold_correct",
    "reject_objection",
    "approve_repair",
    "reject_repair",
)
REPAIR_DECISIONS = frozenset({"approve_repair", "reject_repair"})
CORRECTABLE = ("matter", "facts", "basis", "severity")
CORRECTION_LABELS = {"matter": "事项", "facts": "失信行为", "basis": "依据", "severity": "严重程度"}
# The correctable fields that are free text, and so go through the publication filter.
_TEXT_FIELDS = frozenset({"matter", "facts", "basis"})


def _cleaned(multiline: bool) -> BeforeValidator:
    return BeforeValidator(lambda v: clean_text(v, multiline=multiline) if isinstance(v, str) else v)


# The limit sits before the cleaning validator, so pydantic checks it as a string ("string_too_long",
# said as too long a text), not as a generic length after validation ("too_long": too many items).
_Matter = Annotated[str, StringConstraints(max_length=200), _cleaned(False)]
_Facts = Annotated[str, StringConstraints(max_length=2000), _cleaned(True)]
_Basis = Annotated[str, StringConstraints(max_length=500), _cleaned(True)]


class BreachCorrection(BaseModel):
    """What "异议成立，更正记录" may change: each field optional, typed and capped at its column's length
    (SQLite does not enforce it), and no other field (422 naming it). A free dict let a nested object
    become the public text and stored a 100,000-character ``facts``."""

    model_config = ConfigDict(extra="forbid")

    matter: _Matter | None = Field(default=None, description="事项（单行，≤200 字）")
    facts: _Facts | None = Field(default=None, description="失信行为（≤2000 字）")
    basis: _Basis | None = Field(default=None, description="依据（≤500 字）")
    severity: Severity | None = Field(default=None, description="失信程度")


def may_decide(*, complaint_id: int | None, action: str, role: Role) -> bool:
    """Whether ``role`` may take ``action`` on ``record`` as far as who decides goes (the lifecycle still
    decides whether the state allows it; a handler must be of the record's department). 谁认定、谁修复: a
    pledge's record was decided by its authority, so only that department's handlers (its successor's,
    once it is retired: the record moved there) decide its repair; supervisors chase it. A government
    record from a complaint was confirmed by the credit office (confirm_breach is the supervisors' alone),
    so only its supervisors decide that record's objections and repairs: not the department found in
    breach, nor its 主管部门, whichever of them the record names as 认定部门. ``complaint_id`` is the
    record's (None: a pledge's)."""
    if complaint_id is not None:
        return role == Role.SUPERVISOR
    return not (action in REPAIR_DECISIONS and role == Role.SUPERVISOR)


def decide(
    *,
    session: Session,
    breach_id: int,
    action: str,
    actor: Actor,
    reason: str,
    today: dt.date,
    calendar: WorkCalendar,
    expected_version: int | None = None,
    corrected: BreachCorrection | Mapping[str, Any] | None = None,
) -> PublishedBreach:
    """The deciding body (谁认定、谁修复) decides an objection or a repair (``may_decide``): of a pledge's
    record its department's handlers, or a supervisor save for its repair; of a record from a complaint
    the credit office's supervisors only. ``corrected`` (uphold_correct only) is checked as a
    ``BreachCorrection`` whichever form it comes in."""
    # A record the handler may not see (another department's, or any from a complaint) is answered as one
    # that does not exist, as for every case: a 403 would confirm that it exists (docs/security.md).
    record = visible_breach(session=session, breach_id=breach_id, actor=actor)
    if action not in BREACH_DECISIONS:
        raise ValidationFailed(f"不支持的操作 {action}；可用：{', '.join(BREACH_DECISIONS)} (unknown action)")
    if not may_decide(complaint_id=record.complaint_id, action=action, role=actor.role):
        if record.complaint_id is not None:
            raise NotPermitted(
                f"记录 {record.number} 由信用办确认，其异议和信用修复由督办人员决定（谁认定、谁修复） "
                "(a record from a complaint is decided by supervisors)"
            )
        department = session.get(Department, record.department_id)
        name = department.name if department else "认定部门"
        raise NotPermitted(
            f"记录 {record.number} 由{name}认定，是否准予信用修复由该部门经办人决定（谁认定、谁修复）；"
            "督办人员可催办 (repair is decided by the deciding department)"
        )
    if not reason.strip():
        raise ValidationFailed("请填写决定理由 (reason is required)")
    if past_publication(record, today):
        # The record stopped showing by itself at its GSJZQ (RULEBOOK); whether the expire flow has
        # recorded that yet must not decide the answer: a decision accepted before it ran could raise the
        # severity and publish again for years what the register had already taken down.
        raise Conflict(
            f"记录 {record.number} 的公示期已于 {record.publication_end.isoformat()} 届满，已停止公示，"
            "不能再作出异议或修复决定 (the publication period ended on "
            f"{record.publication_end.isoformat()})"
        )
    changes: dict[str, Any] = {}
    data: dict[str, Any] = {}
    names: tuple[str, ...] = ()
    was_published = published_class(record.severity)
    if action == "uphold_correct":
        names = _stored_names(session, record)
        changes = _corrections(corrected)
        if names:  # A government record's text is stored filtered, a correction of it too.
            changes = _filtered(changes, names)
        data = {"before": {k: str(getattr(record, k)) for k in changes}, "after": changes}
    apply_event(
        session=session,
        case=record,
        event=action,
        actor=actor,
        today=today,
        calendar=calendar,
        note=reason.strip(),
        data=data,
        expected_version=expected_version,
    )
    # Only once the lifecycle allowed the decision: a refused one must leave the record untouched.
    _apply_corrections(record, changes)
    if "severity" in changes and record.publication_end < today:
        # A lighter class can put the new GSJZQ in the past: the publication ends now, with this decision.
        end_now(session=session, record=record, today=today, calendar=calendar, actor=actor)
    follow_register_decision(session=session, record=record, action=action, today=today, corrected=changes)
    _after_decision(session, record, action, reason.strip(), actor, today, data, names, was_published)
    return record


def _stored_names(session: Session, record: PublishedBreach) -> tuple[str, ...]:
    """The names a record's text is stored filtered with: a government record's (from a complaint) with
    the complainant's, since public_fields masks only an individual subject's name and its subject is the
    department (models/government_credit.py); a pledge record's text is stored as typed."""
    if record.complaint_id is None:
        return ()
    complaint = session.get(Complaint, record.complaint_id)
    return (complaint.complainant_name,) if complaint is not None else ()


def _filtered(values: Mapping[str, str], names: tuple[str, ...]) -> dict[str, str]:
    """``values`` with their free text through the publication filter (severity is a code, kept)."""
    return {k: (publication_text(v, names=names) or v) if k in _TEXT_FIELDS else v for k, v in values.items()}


def _corrections(corrected: BreachCorrection | Mapping[str, Any] | None) -> dict[str, str]:
    """The given fields as stored text; a service caller's mapping is held to the same typed rules as
    the API's body (the domain checks, whoever calls)."""
    if corrected is None:
        correction = BreachCorrection()
    elif isinstance(corrected, BreachCorrection):
        correction = corrected
    else:
        try:
            correction = BreachCorrection.model_validate(dict(corrected))
        except PydanticValidationError as exc:
            # The same shape as the API's 422 (api/errors.py): each field named, with its reason.
            fields = [
                {
                    "field": "corrected." + ".".join(str(p) for p in e["loc"]),
                    "message": e["msg"],
                    "type": e["type"],
                }
                for e in exc.errors()
            ]
            names = "、".join(
                f"{CORRECTION_LABELS.get(str(e['loc'][0]), '不可更正的字段')} {f['field']}"
                for e, f in zip(exc.errors(), fields, strict=True)
            )
            raise ValidationFailed(
                f"更正内容有误：{names}；只能更正事项、失信行为、依据、严重程度，且不得超过字段长度，"
                f"严重程度可用：{', '.join(s.value for s in Severity)} (invalid corrected fields)",
                field="corrected",
                fields=fields,
            ) from None
    values = correction.model_dump(exclude_none=True)
    changes = {k: str(v) for k, v in values.items() if str(v) != ""}
    if not changes:
        raise ValidationFailed(
            f"“异议成立，更正记录”需要提供更正后的字段（{', '.join(CORRECTABLE)} 之一）"
            "(corrected fields required)"
        )
    return changes


def _apply_corrections(record: PublishedBreach, changes: Mapping[str, str]) -> None:
    for k, v in changes.items():
        setattr(record, k, Severity(v) if k == "severity" else v)
    if "severity" in changes:
        record.publication_end = publication_end(record.severity, record.decision_date)
        record.repair_earliest = repair_earliest(record.severity, record.decision_date)


_OUTCOME = {"uphold_withdraw": "withdrawn", "uphold_correct": "corrected", "reject_objection": "rejected"}


# The outcome as the subject's SMS states it (the provider's approved text cannot branch; the mail does).
SMS_RESULTS = {
    "uphold_withdraw": "异议成立，记录已撤销",
    "uphold_correct": "异议成立，记录已更正",
    # A correction to 轻微: the record is kept but no longer published, which "已更正" alone does not say.
    # At most 12 characters, like the others (docs/integrations.md lists them for the approval).
    "uphold_correct_minor": "异议成立，改轻微不予公示",
    "reject_objection": "异议不成立，维持原公示",
    "approve_repair": "予以修复，记录已停止公示",
    "reject_repair": "不予修复，记录继续公示",
}


def record_standing(record: PublishedBreach, today: dt.date) -> dict[str, Any]:
    """Where the record stands once decided, for its subject's notice: its end of publication (GSJZQ) and
    earliest repair day as stored (a correction of the class recomputes them), whether the register shows
    it (``record_outcome``: the register's one rule, class and the government setting included) and
    whether it has stopped (ended now, or its period already past): then no date is told as still to
    come."""
    outcome = record_outcome(record, today)
    return {
        "publication_end": record.publication_end.isoformat(),
        "repair_earliest": record.repair_earliest.isoformat(),
        "record_published": outcome.shown,
        "record_ended": outcome.state not in SHOWN_STATES,
    }


def _after_decision(
    session: Session,
    record: PublishedBreach,
    action: str,
    reason: str,
    actor: Actor,
    today: dt.date,
    data: dict[str, Any],
    names: tuple[str, ...],
    was_published: bool,
) -> None:
    key = f"breach:{record.id}:{record.version}:{action}"
    # A record corrected to 轻微 stays in force but is not published: the notice must not say it stays so.
    unpublished = action == "uphold_correct" and not published_class(record.severity)
    context: dict[str, Any] = {
        "record_number": record.number,
        "subject_name": record.subject_name,
        "reason": reason,
        "result": SMS_RESULTS["uphold_correct_minor" if unpublished else action],
    }
    context |= record_standing(record, today)
    if action in _OUTCOME:
        template, request = "objection_decision", "object"
        context["outcome"] = _OUTCOME[action]
        context["not_published"] = unpublished
    else:
        template, request = "repair_decision", "request_repair"
        context["approved"] = action == "approve_repair"
    # By e-mail, SMS or both, to the mobile given with the request decided on if one was.
    enqueue_for_subject(
        session=session,
        record=record,
        template=template,
        key=f"{key}:{template}",
        context=context,
        phone=request_phone(session=session, record=record, event=request),
        flow_run_id=actor.flow_run_id,
    )
    kind = PLATFORM_DOCUMENTS.get(action)
    follow: list[dict[str, Any]] | None = []
    if kind == DocumentKind.CORRECT:
        # To or from 轻微: the platform stops or starts showing the record, or never hears of it (None).
        follow = follow_class(
            session=session, record=record, was_published=was_published, today=today, now=utcnow()
        )
        if follow and record.state == BreachState.EXPIRED:
            follow = []  # ended by this decision: the EXPIRE below takes it off, nothing to show again
    if kind is not None and follow is not None:
        assert record.id is not None
        row = platform_document(
            kind=kind,
            record=record,
            departments=department_names(session),
            effective=today,
            now=utcnow(),
            # A record can be corrected more than once; each correction is its own document.
            revision=record.version if kind == DocumentKind.CORRECT else None,
        )
        if data:
            # The platform is outside: the text before and after goes through the publication filter as
            # the record's own text in the document does (public_fields), with the names it is stored
            # filtered with; the audit event keeps what was stored.
            row["payload"]["record"]["corrections"] = {
                "before": _filtered(data["before"], names),
                "after": _filtered(data["after"], names),
            }
        rows = [row, *follow]
        if record.state == BreachState.EXPIRED:
            # Ended by this decision (``end_now``): dated today, never before the correction just sent.
            rows.append(
                platform_document(
                    kind=DocumentKind.EXPIRE,
                    record=record,
                    departments=department_names(session),
                    effective=today,
                    now=utcnow(),
                )
            )
        enqueue_documents(session=session, rows=rows)
