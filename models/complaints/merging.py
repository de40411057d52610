"""并单 and the reply every complainant of a case is owed (RULEBOOK complaints §3, §9): a duplicate merged
into an earlier case (``merge``) is handled with it, so the reply to that case (``reply``) goes to the
complainants of every case merged into it as well, under their own number. A duplicate merged into a case
that was already replied to (已答复（待回访）) gets that reply at once, with the merge notice: the reply was
sent before it joined and will not be sent again. A case that has ended (办结, 不予受理, itself merged) is
no merge target: nothing of it is still to be told.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, select

from models.audit import CaseEvent
from models.complaint import Complaint, merged_into
from models.complaints.bodies import ActionBody, MergeBody, ReplyBody
from models.complaints.context import ActionContext
from models.complaints.notify import Recipient, enqueue_mail, mail_complainant
from models.complaints.visibility import case_events, lead_department, state_label
from models.errors import Conflict, ValidationFailed
from models.hotline import report_standing_reply
from models.lifecycle import COMPLAINT, ComplaintState
from models.privacy import publication_text
from models.workflow import record_event


def reply(ctx: ActionContext, action: str, body: ActionBody) -> None:
    assert isinstance(body, ReplyBody)
    event = ctx.fire(action, body, note=body.reply_text)
    # One text per reply (RULEBOOK complaints §9: answered, a return visit follows, dissatisfaction is
    # voiced at it): the return-visit notice is the complainant's SMS, and the reply itself goes by
    # e-mail only (two texts in the same second, billed twice, told two places to complain).
    mail_reply(ctx.session, ctx.case, event, reply_text=body.reply_text, to=[ctx.case])
    mail_complainant(ctx.session, ctx.case, event, "complaint_return_visit")
    # The complainants of the cases merged into this one (also through a case merged into it later) get the
    # same reply, under their own number.
    assert ctx.case.id is not None
    mail_reply(
        ctx.session, ctx.case, event, reply_text=body.reply_text, to=merged_into(ctx.session, ctx.case.id)
    )


def mail_reply(
    session: Session, handled: Complaint, event: CaseEvent, *, reply_text: str, to: Sequence[Complaint]
) -> None:
    """``handled``'s reply (complaint_replied) to the complainant of each case in ``to``: its own, or one
    merged into it, whose mail names the case it joined. Its own complainant gets it by e-mail only (when
    they gave an address): their SMS is the return-visit notice ``reply`` sends; a merged complainant,
    never visited, gets it by every channel."""
    dept = lead_department(session, handled)
    name = dept.name if dept else "守信平台"
    # The reply is written to ``handled``'s complainant and may name them or their phone (经电话 139… 联系):
    # another complainant gets it through the publication filter, as a third party would.
    others_text = publication_text(reply_text, names=[handled.complainant_name]) or ""
    for case in to:
        if case is handled:
            if case.complainant_email:
                to_mail = Recipient(
                    "complainant", case.complainant_name, case.complainant_email, "complainant"
                )
                enqueue_mail(
                    session, case, event, "complaint_replied", to_mail,
                    complainant_name=case.complainant_name, reply_text=reply_text, department_name=name,
                )  # fmt: skip
            continue
        # A merged complainant gets no return visit of their own: the mail says where dissatisfaction goes.
        mail_complainant(
            session, case, event, "complaint_replied", reply_text=others_text, department_name=name,
            target_number=handled.number,
        )  # fmt: skip


def merge(ctx: ActionContext, action: str, body: ActionBody) -> None:
    assert isinstance(body, MergeBody)
    target = ctx.session.exec(select(Complaint).where(Complaint.number == body.target_number.strip())).first()
    if target is None:
        raise ValidationFailed(f"并入的案件 {body.target_number} 不存在，请核对编号 (target not found)")
    if target.id == ctx.case.id or (target.id or 0) > (ctx.case.id or 0):
        raise ValidationFailed("只能并入更早登记的案件，请填写较早案件的编号 (merge into an earlier case)")
    if COMPLAINT.state(target.state).terminal:
        raise ValidationFailed(
            f"案件 {target.number} 当前为“{state_label(target.state)}”，已终结，不能作为并单目标："
            "请受理本投诉另行办理 (the target case has ended: handle this complaint on its own)"
        )
    # Read before the target is held: a reply given meanwhile bumps its version and refuses the merge.
    standing = _reply_sent(ctx.session, target)
    event = ctx.fire(action, body, target_number=target.number, target_id=target.id)
    ctx.case.merged_into_id = target.id
    # Feedback is owed to every complainant (RULEBOOK complaints §3): told now, and given the reply of the
    # case it joined: by ``reply`` when it comes, or right now when it already came.
    mail_complainant(
        ctx.session,
        ctx.case,
        event,
        "complaint_merged",
        target_number=target.number,
        replied=standing is not None,
    )
    if standing is not None:
        # The cases merged into this one before (C into B, now B into A) join with it, and ``reply`` sent
        # the target's reply only to the chain it had then. Keyed by the reply event, as ``reply`` keys it:
        # one reply reaches one complainant under one outbox key, whichever way it is sent.
        assert ctx.case.id is not None
        chain = [ctx.case, *merged_into(ctx.session, ctx.case.id)]
        mail_reply(ctx.session, target, standing, reply_text=str(standing.note), to=chain)
        report_standing_reply(ctx.session, target=target, reply=standing, joining=chain)  # 12345 orders too
    at = dt.datetime.now(dt.UTC)
    hold_unchanged(
        ctx.session,
        target,
        at,
        refusal=f"并单目标案件 {target.number} 已被他人更新（可能已不予受理、已办结或已并入其他案件），"
        "本次并单未生效，请刷新后重试 (the target case changed meanwhile: reload and try again)",
    )
    record_event(
        session=ctx.session,
        case=target,
        transition=None,
        from_state=target.state,
        to_state=target.state,
        actor=ctx.actor,
        at=at,
        note=body.note,
        data={"merged_number": ctx.case.number, "merged_id": ctx.case.id},
        idempotency_key=None,
        event="merged_in",
    )


def _reply_sent(session: Session, target: Complaint) -> CaseEvent | None:
    """The reply event whose text ``target``'s complainants were sent and which stands, awaiting the return
    visit; None while the reply is still to come (a redone or reopened case is replied to again, and
    ``reply`` sends that)."""
    if target.state != ComplaintState.REPLIED:
        return None
    replies = [e for e in case_events(session, target) if e.event == "reply" and e.note]
    return replies[-1] if replies else None


def hold_unchanged(session: Session, target: Complaint, at: dt.datetime, *, refusal: str) -> None:
    """Bump the merge target's version with a compare-and-set on the version it was checked at, as
    ``apply_event`` does for every event: a target another transaction moved since (rejected, replied,
    merged itself) refuses the merge with ``refusal`` (409), and one that moves it after waits for this
    commit (PostgreSQL's row lock) and then meets a stale version. Every state change bumps the version, so
    an unchanged version means the target is still as open as when it was checked. A merged complaint's
    withdrawal holds the case it leaves so too (models/complaints/withdrawal.py)."""
    t: Any = Complaint.__table__  # type: ignore[attr-defined]
    stmt = update(t).where(t.c.id == target.id, t.c.version == target.version)
    held = session.execute(stmt.values(version=t.c.version + 1, updated_at=at).returning(t.c.version)).first()
    if held is None:
        raise Conflict(refusal)
    set_committed_value(target, "version", held.version)
    set_committed_value(target, "updated_at", at)
