"""The notices of a published record tell the subject what comes next with its dates: the publication
notice gives the earliest day credit repair may be asked for (the record's stored ``repair_earliest``,
as the false-pledge notice gives it), and a rejected objection says until when the record stays shown and
from when repair may be asked for; a rejected repair says until when it stays shown."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.breach import PublishedBreach
from models.outbox import Notification
from notifications.catalogue import TEMPLATES
from notifications.render import cn_date, render
from tests.conftest import Staff
from tests.test_publication import CODE
from tests.test_register import access_code, publish

API = "/api/v1"


def notice(session: Session, template: str, **where: object) -> Notification:
    session.expire_all()
    stmt = select(Notification).where(Notification.template == template)
    for name, value in where.items():
        stmt = stmt.where(getattr(Notification, name) == value)
    rows = list(session.exec(stmt.order_by(col(Notification.id))).all())
    assert rows, template
    return rows[-1]


def test_the_publication_notice_gives_the_earliest_repair_day_when_it_has_it() -> None:
    sample = TEMPLATES["pledge_published"].sample
    told = render("pledge_published", {**sample, "repair_earliest": "2026-08-13"})
    assert "可自2026年8月13日起依规申请信用修复" in told.text
    assert "最早可申请信用修复日期" in told.html
    assert "最短公示期满后" not in told.text
    # A notice queued before the key existed still renders, as it was worded then.
    assert "可在最短公示期满后依规申请信用修复" in render("pledge_published", sample).text


def test_the_sweeps_publication_notice_carries_the_records_repair_day(
    engine: Engine,
    session: Session,
    staff: Staff,  # the departments the pledges name
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    row = notice(session, "pledge_published", case_id=breach.pledge_id)
    assert row.context["repair_earliest"] == breach.repair_earliest.isoformat()


def object_and_reject(client: TestClient, session: Session, staff: Staff, breach: PublishedBreach) -> None:
    body = {"access_code": access_code(session, breach), "reason": "材料已于期限内补交"}
    lodged = client.post(f"{API}/public/breaches/{breach.number}/objection", json=body)
    assert lodged.status_code == 201, lodged.text
    rejected = client.post(
        f"{API}/breaches/{breach.id}/actions/reject_objection",
        json={"reason": "逾期属实"},
        headers=staff.auth("supervisor"),
    )
    assert rejected.status_code == 200, rejected.text


def test_a_rejected_objection_says_until_when_the_record_is_shown_and_when_repair_opens(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    object_and_reject(client, session, staff, breach)
    row = notice(session, "objection_decision", case_id=breach.id)
    told = render("objection_decision", row.context)
    end, earliest = cn_date(breach.publication_end), cn_date(breach.repair_earliest)
    for part in (told.text, told.html.replace("<strong>", "").replace("</strong>", "")):
        assert f"该记录公示至{end}，期满后停止公示" in part
        assert f"可自{earliest}起依规申请信用修复" in part
    # A decision queued before these keys existed renders as it was worded then.
    old = {k: v for k, v in row.context.items() if k not in ("publication_end", "repair_earliest")}
    old.pop("record_published")
    assert "可自" not in render("objection_decision", old).text


def test_a_rejected_repair_says_until_when_the_record_stays_shown() -> None:
    sample = TEMPLATES["repair_decision"].sample
    refused = {
        **sample, "approved": False, "publication_end": "2027-05-12", "repair_earliest": "2026-08-13",
        "record_published": True,
    }  # fmt: skip
    told = render("repair_decision", refused).text
    assert "决定不予修复。该记录继续公示至2027年5月12日，符合条件后可再次申请。" in told
    assert "继续公示" not in render("repair_decision", sample).text
