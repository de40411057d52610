"""A record stops showing by itself at the end of its publication period (GSJZQ), whether or not the
expire_publications flow has run since: the register, the record's page, the credit profile and both
credit checks (逢办必查) go by the day; and a late expiry still dates the end the day after GSJZQ."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from api.main import create_app
from models.breach import PublishedBreach, Severity
from models.calendar import load_calendar
from models.clock import Clock
from models.lifecycle import Role
from models.org import Department
from models.platform import PlatformDocument
from models.pledges.importing import import_pledges
from models.register import expire_records, expiry_candidates, has_current_breach
from models.workflow import Actor
from tests.conftest import Staff
from tests.test_publication import CODE
from tests.test_register import publish

GSJZQ = dt.date(2027, 2, 28)  # of the records publish() makes


def _public_view(engine: Engine, clock: Clock, day: dt.date, number: str) -> tuple[int, int, int, int, int]:
    """What the public sees on ``day``: register items, the record's status, the profile's records and
    pledges, and whether the register page links the record."""
    app = create_app(engine=engine, clock=Clock(tz=clock.tz, pinned_today=day), check_schema=False)
    with TestClient(app) as c:
        items = c.get("/api/v1/public/breaches").json()["items"]
        status = c.get(f"/api/v1/public/breaches/{number}").status_code
        profile = c.get(f"/api/v1/public/credit/{CODE}").json()
        page_links = c.get("/register").text.count(f'href="/register/{number}"')
        page_status = c.get(f"/register/{number}").status_code
    assert page_status == status
    return len(items), status, len(profile["records"]), profile["pledges"]["total"], page_links


def test_a_record_past_its_gsjzq_is_no_longer_public_though_the_expiry_flow_missed_days(
    engine: Engine, session: Session, staff: Staff, clock: Clock
) -> None:
    del staff
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    assert breach.publication_end == GSJZQ
    # Shown through its last day; the flow has not run since (the record is still in its shown state).
    assert _public_view(engine, clock, GSJZQ, breach.number) == (1, 200, 1, 1, 1)
    assert _public_view(engine, clock, dt.date(2027, 3, 3), breach.number) == (0, 404, 0, 0, 0)
    session.expire_all()
    assert session.get(PublishedBreach, breach.id).state == breach.state  # type: ignore[union-attr]


def test_the_credit_check_stops_refusing_the_subject_the_day_after_gsjzq(
    engine: Engine, session: Session, staff: Staff
) -> None:
    del staff
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    # Only a 严重 record bars the pledge route (RULEBOOK pledges §2); the sweep publishes as 一般.
    session.execute(update(PublishedBreach).values(severity=Severity.SERIOUS))
    session.commit()
    on_last_day = has_current_breach(session=session, credit_code=CODE, name=None, today=GSJZQ)
    after = has_current_breach(session=session, credit_code=CODE, name=None, today=dt.date(2027, 3, 3))
    assert (on_last_day, after) == (breach.number, None)


IMPORT_DAY = dt.date(2026, 3, 2)


def _row(name: str, code: str | None) -> dict[str, object]:
    return {
        "pledgor_kind": "企业" if code else "个人", "pledgor_name": name, "pledgor_credit_code": code,
        "matter": "建筑工程施工许可证", "obligation": "施工图审查合格书", "deadline": "2026-05-06",
        "authority_code": "D01",
    }  # fmt: skip


def test_the_import_credit_check_refuses_only_subjects_whose_record_is_shown_on_the_import_day(
    session: Session, staff: Staff
) -> None:
    del staff
    dept = session.exec(select(Department.id).where(Department.code == "D01")).one()
    ended = IMPORT_DAY - dt.timedelta(days=1)

    def record(number: str, name: str, code: str | None, end: dt.date) -> PublishedBreach:
        return PublishedBreach(
            number=number, subject_name=name, subject_credit_code=code, publication_end=end,
            subject_kind="enterprise" if code else "individual", matter="事项", department_id=dept,
            decision_date=dt.date(2025, 3, 1), repair_earliest=dt.date(2025, 6, 1), source_kind="pledge",
            facts="逾期", basis="告知承诺书", severity=Severity.SERIOUS,
        )  # fmt: skip

    # Both ended yesterday and are still in their shown state (the expire flow has not run today).
    session.add(record("GS-2025-000001", "示范建设有限公司", CODE, ended))
    session.add(record("GS-2025-000002", "张三", None, ended))
    session.add(record("GS-2025-000003", "李四", None, IMPORT_DAY))  # its last day: still shown
    session.commit()
    report = import_pledges(
        session=session,
        rows=enumerate([_row("示范建设有限公司", CODE), _row("张三", None), _row("李四", None)], start=2),
        actor=Actor(name="导入", role=Role.ADMIN),
        source_name="t.csv",
        today=IMPORT_DAY,
        calendar=load_calendar(session=session),
    )
    assert report.imported == 2
    assert [(e.row, "GS-2025-000003" in e.message) for e in report.refusals] == [(4, True)]


def test_a_late_expiry_tells_the_platform_each_record_ended_the_day_after_its_gsjzq(
    engine: Engine, session: Session, staff: Staff
) -> None:
    del staff
    first, second = publish(engine, session, ("示范建设有限公司", CODE), ("张三", None))
    earlier = GSJZQ - dt.timedelta(days=1)
    session.execute(
        update(PublishedBreach).where(col(PublishedBreach.id) == second.id).values(publication_end=earlier)
    )
    session.commit()
    run_day = dt.date(2027, 3, 3)  # the flow missed 2027-02-28 .. 2027-03-02
    ids = expiry_candidates(session=session, today=run_day)
    assert expire_records(session=session, ids=ids, today=run_day, actor=Actor.system()) == 2
    session.commit()
    documents = [d for d in session.exec(select(PlatformDocument)).all() if str(d.kind) == "expire"]
    effective = {
        d.payload["record"]["record_number"]: d.payload["record"]["effective_date"] for d in documents
    }
    assert effective == {first.number: "2027-03-01", second.number: "2027-02-28"}
