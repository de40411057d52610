"""Evidence a pledgor hands in (or staff hand in for it), one or several files a submission, stored by
the one file mechanism (``models.files``: type by first bytes, safe names, content-addressed storage
outside the database)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

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
    uploads: Sequence[Upload],
    actor: Actor,
    today: dt.date,
    calendar: WorkCalendar,
    note: str | None = None,
    expected_version: int | None = None,
) -> list[PledgeEvidence]:
    """Store the files under their SHA-256 outside the database, one row each, and fire one
    ``submit_evidence`` for them all (a 合格书 with its attachments is one submission: one review, one
    mail). Staff who upload do it on the pledgor's behalf: the event records that, with their ``note``
    (what was handed in, where), and ``expected_version`` guards against a page drawn before someone else
    changed the pledge."""
    if not uploads:
        raise ValidationFailed("请至少选择一个材料文件后再提交 (choose at least one file)", field="files")
    # Every file is checked before the first is written: a refused submission stores nothing.
    checked = check_uploads(uploads)
    pledge = get_pledge(session=session, pledge_id=pledge_id, actor=actor)  # hidden from other departments
    if actor.role == Role.PUBLIC:
        check_pledgor_may_submit(session=session, pledge=pledge, today=today)
    PLEDGE.fire(pledge.state, "submit_evidence", actor.role)
    save(uploads, checked)
    rows = [
        PledgeEvidence(
            pledge_id=pledge_id,
            filename=stored.filename,
            content_type=stored.content_type,
            size=stored.size,
            sha256=stored.sha256,
            uploaded_by=actor.name,
        )
        for stored in checked
    ]
    session.add_all(rows)
    session.flush()
    first = rows[0]
    names = [row.filename for row in rows]
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
            # The first file's keys as a one-file submission records them, so older readers stay right.
            "evidence_id": first.id,
            "sha256": first.sha256,
            "filename": first.filename,
            **({"evidence_ids": [row.id for row in rows], "filenames": names} if len(rows) > 1 else {}),
            **({"on_behalf_of_pledgor": True} if actor.role != Role.PUBLIC else {}),
            **note_submission(pledge=pledge, today=today),
        },
    )
    if event is not None:
        mail_evidence_received(session=session, pledge=pledge, filenames=names, event=event)
    return rows


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
