"""The import's credit check for subjects without a credit code (individuals), matched by exact name."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, select

from models.breach import PublishedBreach, Severity
from models.calendar import load_calendar
from models.lifecycle import BreachState, PledgeState, Role
from models.org import Department
from models.pledge import Pledge, PledgorKind
from models.pledges.importing import ImportReport, import_pledges
from models.workflow import Actor
from tests.conftest import Staff

TODAY = dt.date(2026, 3, 2)


def _row(name: str) -> dict[str, object]:
    return {
        "pledgor_kind": "个人", "pledgor_name": name, "matter": "建筑工程施工许可证",
        "obligation": "施工图审查合格书", "deadline": "2026-05-06", "authority_code": "D01",
    }  # fmt: skip


def _false_pledge_of_li_si(dept: int) -> Pledge:
    return Pledge(
        number="CN-2025-000900", year=2025, seq=900, state=PledgeState.FALSE_PLEDGE, authority_id=dept,
        pledgor_kind=PledgorKind.INDIVIDUAL, pledgor_name="李四", matter="事项", obligation="材料",
        deadline=TODAY,
    )  # fmt: skip


def _import(session: Session, names: list[str]) -> ImportReport:
    return import_pledges(
        session=session,
        rows=enumerate([_row(name) for name in names], start=2),
        actor=Actor(name="导入", role=Role.ADMIN),
        source_name="t.csv",
        today=TODAY,
        calendar=load_calendar(session=session),
    )


def test_individuals_with_a_shown_serious_breach_or_a_false_pledge_are_refused_by_name(
    session: Session, staff: Staff
) -> None:
    del staff  # departments D00–D02
    dept = session.exec(select(Department.id).where(Department.code == "D01")).one()
    common = {"matter": "事项", "department_id": dept, "decision_date": TODAY, "publication_end": TODAY,
              "repair_earliest": TODAY, "source_kind": "pledge", "subject_kind": "individual",
              "facts": "逾期", "basis": "告知承诺书", "severity": Severity.SERIOUS}  # fmt: skip
    session.add(PublishedBreach(number="GS-2026-000001", subject_name="张三", **common))
    withdrawn = PublishedBreach(number="GS-2026-000002", subject_name="王五", **common)
    withdrawn.state = BreachState.WITHDRAWN
    session.add(withdrawn)
    session.add(_false_pledge_of_li_si(dept))
    session.commit()
    report = _import(session, ["张三", "李四", "王五", "赵六"])
    reasons = {e.row: e.message for e in report.refusals}
    assert report.imported == 2  # 王五's record is withdrawn, 赵六 has none
    assert set(reasons) == {2, 3}
    assert "GS-2026-000001" in reasons[2]
    assert "CN-2025-000900" in reasons[3]


def test_a_refused_row_repeated_in_the_file_is_refused_again_not_counted_as_imported(
    session: Session, staff: Staff
) -> None:
    del staff
    dept = session.exec(select(Department.id).where(Department.code == "D01")).one()
    session.add(_false_pledge_of_li_si(dept))
    session.commit()
    report = _import(session, ["李四", "赵六", "李四", "赵六"])
    # Row 4 repeats row 2, which was refused: it is refused too, never "already imported".
    assert [e.row for e in report.refusals] == [2, 4]
    assert (report.imported, report.already_imported) == (1, 1)  # row 5 repeats row 3, imported
    lis = session.exec(select(Pledge).where(Pledge.pledgor_name == "李四")).all()
    assert [p.number for p in lis] == ["CN-2025-000900"]  # nothing new stored for 李四
