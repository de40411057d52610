"""The pledge half of the scorecard is about authorities and the records they decide. A government breach
record (拒不整改 confirmed on a complaint) names the department's 主管部门, but the credit office confirmed
it and its supervisors decide its objection and repair: it is not tallied under that 主管部门."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from models.audit import CaseEvent
from models.breach import PublishedBreach
from models.org import Department
from models.scorecard import Period
from models.scorecard_pledges import pledge_scores
from tests.conftest import Staff
from tests.test_complaints_api import API
from tests.test_government_credit import confirmed


def test_a_government_breach_record_and_its_objection_count_for_no_department_on_the_pledge_scorecard(
    client: TestClient, staff: Staff, session: Session
) -> None:
    confirmed(client, staff)
    session.expire_all()
    [record] = session.exec(select(PublishedBreach)).all()
    competent = session.get(Department, record.department_id)
    assert (record.source_kind, competent and competent.code) == ("complaint", "D00")
    filed = client.post(
        f"{API}/government-breaches/{record.number}/objection",
        json={"reason": "已于2月底付清尾款，附银行回单", "document_reference": "住建函〔2026〕12号"},
        headers=staff.auth("supervisor"),
    )
    assert filed.status_code == 200, filed.text
    decided = client.post(
        f"{API}/breaches/{record.id}/actions/reject_objection",
        json={"reason": "经复核"},
        headers=staff.auth("supervisor"),
    )
    assert decided.status_code == 200, decided.text
    session.expire_all()
    # The period spans the decision date and whenever the objection events were stamped.
    stamped = session.exec(select(CaseEvent.at).where(CaseEvent.case_kind == "breach")).all()
    assert stamped
    last = max(at.date() for at in stamped) + dt.timedelta(days=1)
    period = Period("custom", min(record.decision_date, *(at.date() for at in stamped)), last)

    rows = pledge_scores(session=session, period=period)

    assert [row.code for row in rows] == []
