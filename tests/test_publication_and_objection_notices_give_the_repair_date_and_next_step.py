"""The notices of a published record tell the subject what comes next with its dates: the publication
notice gives the earliest day credit repair may be asked for (the record's stored ``repair_earliest``,
as the false-pledge notice gives it), and a rejected objection says until when the record stays shown and
from when repair may be asked for; a rejected repair says until when it stays shown."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.breach import PublishedBreach, Severity
from models.outbox import Notification
from models.pledges.mail import resubmit_by
from models.settings import get_settings
from notifications.catalogue import TEMPLATES
from notifications.render import cn_date, render
from notifications.sms import render_sms
from tests.conftest import TODAY, Staff
from tests.test_government_breach_records import _register_row
from tests.test_government_credit import confirmed
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


def test_a_correction_that_ends_the_records_period_says_it_stopped_not_a_past_date_to_come(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    today = TODAY  # the app's day
    record = session.get(PublishedBreach, breach.id)
    assert record is not None
    # A 严重 record decided 400 days ago: corrected to 一般, its one-year period is already over.
    decided = today - dt.timedelta(days=400)
    record.severity, record.decision_date = Severity.SERIOUS, decided
    record.publication_end = dt.date(decided.year + 3, decided.month, decided.day)
    record.repair_earliest = dt.date(decided.year + 1, decided.month, decided.day)
    session.add(record)
    session.commit()
    body = {"access_code": access_code(session, breach), "reason": "应为一般失信"}
    assert client.post(f"{API}/public/breaches/{breach.number}/objection", json=body).status_code == 201
    decided_now = client.post(
        f"{API}/breaches/{breach.id}/actions/uphold_correct",
        json={"reason": "程度认定有误", "corrected": {"severity": "general"}},
        headers=staff.auth("supervisor"),
    )
    assert decided_now.status_code == 200, decided_now.text

    told = render("objection_decision", notice(session, "objection_decision", case_id=breach.id).context)
    assert "\u3000\u3000该记录已停止公示。" in told.text  # indented as the paragraphs around it
    assert "公示至" not in told.text
    assert "该记录已停止公示。" in told.html


def test_a_government_record_kept_internal_is_not_told_it_is_shown(
    client: TestClient, staff: Staff, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    confirmed(client, staff)
    row = _register_row(session)
    lodged = client.post(
        f"{API}/government-breaches/{row.number}/objection",
        json={"reason": "已付清"},
        headers=staff.auth("supervisor"),
    )
    assert lodged.status_code == 200, lodged.text
    monkeypatch.setenv("SHOUXIN_PUBLISH_GOVERNMENT_BREACHES", "false")
    get_settings.cache_clear()
    assert client.get(f"{API}/public/breaches/{row.number}").status_code == 404
    rejected = client.post(
        f"{API}/breaches/{row.id}/actions/reject_objection",
        json={"reason": "属实"},
        headers=staff.auth("supervisor"),
    )
    assert rejected.status_code == 200, rejected.text

    told = render("objection_decision", notice(session, "objection_decision", case_id=row.id).context).text
    assert "该记录依规不予公示，保留至" in told
    assert "公示至" not in told.replace("不予公示，保留至", "")


def test_the_rejection_sms_before_the_deadline_names_the_last_chance_too() -> None:
    text = render_sms(
        "pledge_evidence_rejected",
        {"pledge_number": "CN-2026-000005", "resubmit_by": resubmit_by("2026-10-14", deadline="2026-09-29")},
    )
    assert "于2026-09-29 24时前（最迟2026-10-14零时前）补正提交，逾期将依法公示" in text
    assert "于2026-10-14零时前补正提交" in render_sms(
        "pledge_evidence_rejected",
        {"pledge_number": "CN-2026-000005", "resubmit_by": resubmit_by("2026-10-14")},
    )
