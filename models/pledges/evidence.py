"""Evidence a pledgor hands in (or staff hand in for it), stored by the one file mechanism
(``models.files``: type by first bytes, safe names, content-addressed storage outside the database)."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session

from models.calendar import WorkCalendar
from models.errors import ValidationFailed
from models.files import Upload, check_uploads, save
from models.lifecycle import PLEDGE, Role
from models.pledge import PledgeEvidence
from models.pledges.mail import mail_evidence_received
from models.pledges.queries import get_pledge
from models.pledges.review import note_submission
from models.pledges.self_service import check_pledgor_may_submit
from models.workflow import Actor, apply_event

# Staff handing in the pledgor's evidence (e.g. brought to a window on paper and scanned): the event says so.
ON_BEHALF_NOTE = "工作人员代承诺人提交（窗口收取的纸质材料扫描件等）"
NOTE_MAX = 200


def store_evidence(
    *,
    session: Session,
    pledge_id: int,
    filename: str,
    content: bytes,
    actor: Actor,
    today: dt.date,
    calendar: WorkCalendar,
    note: str | None = None,
    expected_version: int | None = None,
) -> PledgeEvidence:
    """Store the file under its SHA-256 outside the database and fire ``submit_evidence``. Staff who
    upload do it on the pledgor's behalf: the event records that, with their ``note`` (what was handed in,
    where), and ``expected_version`` guards against a page drawn before someone else changed the pledge."""
    upload = [Upload(filename, content)]
    [stored] = check_uploads(upload)
    pledge = get_pledge(session=session, pledge_id=pledge_id, actor=actor)  # hidden from other departments
    if actor.role == Role.PUBLIC:
        check_pledgor_may_submit(session=session, pledge=pledge, today=today)
    PLEDGE.fire(pledge.state, "submit_evidence", actor.role)
    save(upload, [stored])
    digest = stored.sha256
    row = PledgeEvidence(
        pledge_id=pledge_id,
        filename=stored.filename,
        content_type=stored.content_type,
        size=stored.size,
        sha256=digest,
        uploaded_by=actor.name,
    )
    session.add(row)
    session.flush()
    event = apply_event(
        session=session,
        case=pledge,
        event="submit_evidence",
        actor=actor,
        today=today,
        calendar=calendar,
        note=_staff_note(actor, note),
        expected_version=expected_version,
        data={
            "evidence_id": row.id,
            "sha256": digest,
            "filename": row.filename,
            **({"on_behalf_of_pledgor": True} if actor.role != Role.PUBLIC else {}),
            **note_submission(pledge=pledge, today=today),
        },
    )
    if event is not None:
        mail_evidence_received(session=session, pledge=pledge, filename=row.filename, event=event)
    return row


def _staff_note(actor: Actor, note: str | None) -> str | None:
    if actor.role == Role.PUBLIC:
        return note
    if note and len(note.strip()) > NOTE_MAX:
        raise ValidationFailed(
            f"收取情况说明不超过 {NOTE_MAX} 字（现为 {len(note.strip())} 字）；请精简后重新提交 "
            "(note too long)",
            field="note",
        )
    return f"{ON_BEHALF_NOTE}：{note.strip()}" if note and note.strip() else ON_BEHALF_NOTE
