"""The public register: filters, masking, keyset pages, objection, repair, expiry, platform push."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.breach import PublishedBreach, Severity
from models.clock import utcnow
from models.lifecycle import BreachState
from models.outbox import Notification
from models.platform import DocumentStatus, PlatformDocument
from models.privacy import mask_name
from models.publication import sweep
from models.register import expire_records, expiry_candidates
from models.settings import get_settings
from models.workflow import Actor
from notifications.platform_push import push_due, sign
from tests.conftest import Staff
from tests.test_publication import CODE, new_pledge

PUBLISHED_ON = dt.date(2026, 2, 28)


def publish(engine: Engine, session: Session, *subjects: tuple[str, str | None]) -> list[PublishedBreach]:
    for name, code in subjects:
        new_pledge(session, dt.date(2026, 2, 12), name=name, code=code)
    sweep(engine=engine, today=PUBLISHED_ON, actor=Actor.system("r"))
    session.expire_all()
    return list(session.exec(select(PublishedBreach).order_by(PublishedBreach.id)).all())  # type: ignore[arg-type]


def test_mask_name() -> None:
    assert [mask_name(n) for n in ("张三", "张小三", "欧阳小明")] == ["张*", "张*三", "欧**明"]


def test_register_filters_masking_and_keyset(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    publish(engine, session, ("示范建设有限公司", CODE), ("张小三", None), ("张大力", None), ("李四", None))
    page1 = client.get("/api/v1/public/breaches", params={"limit": 3}).json()
    assert len(page1["items"]) == 3
    page2 = client.get("/api/v1/public/breaches", params={"limit": 3, "after": page1["next_cursor"]}).json()
    assert len(page2["items"]) == 1
    assert page2["next_cursor"] is None
    numbers = [i["record_number"] for i in page1["items"] + page2["items"]]
    assert len(set(numbers)) == 4
    names = {i["XDR_MC"] for i in page1["items"] + page2["items"]}
    assert names == {"示范建设有限公司", "张*三", "张*力", "李*"}
    item = page1["items"][0]
    assert {"XDR_SHXYM", "JDRQ", "GSJZQ", "basis", "department_name", "severity_label", "state_label"} <= set(
        item
    )
    assert "pledgor_email" not in json.dumps(page1)
    # Individuals' masked names cannot be unmasked by probing prefixes: only the exact full name matches.
    assert client.get("/api/v1/public/breaches", params={"name": "张"}).json()["items"] == []
    assert client.get("/api/v1/public/breaches", params={"name": "张小"}).json()["items"] == []
    exact = client.get("/api/v1/public/breaches", params={"name": "张小三"}).json()["items"]
    assert [i["XDR_MC"] for i in exact] == ["张*三"]
    by_prefix = client.get("/api/v1/public/breaches", params={"name": "示范"}).json()["items"]
    assert [i["XDR_MC"] for i in by_prefix] == ["示范建设有限公司"]
    by_code = client.get("/api/v1/public/breaches", params={"credit_code": CODE}).json()["items"]
    assert [i["XDR_MC"] for i in by_code] == ["示范建设有限公司"]
    assert by_code[0]["JDRQ"] == "2026-02-28"
    assert by_code[0]["GSJZQ"] == "2027-02-28"
    assert client.get("/api/v1/public/breaches", params={"department": "D02"}).json()["items"] == []
    assert len(client.get("/api/v1/public/breaches", params={"department": "D01"}).json()["items"]) == 4
    assert client.get("/api/v1/public/breaches", params={"date_from": "2026-03-01"}).json()["items"] == []
    one = client.get(f"/api/v1/public/breaches/{by_code[0]['record_number']}").json()
    assert one["state_label"] == "公示中"


def test_staff_breach_list_is_newest_first(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    breaches = publish(engine, session, ("示范建设有限公司", CODE), ("张小三", None), ("李四", None))
    r = client.get("/api/v1/breaches", headers=staff.auth("handler"))
    assert r.status_code == 200, r.text
    assert [b["id"] for b in r.json()] == sorted((b.id for b in breaches), reverse=True)


def test_credit_profile_shows_only_public_outcomes(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    # Besides the pledge that gets published: one still open, one overdue but before its publication day.
    open_pledge = new_pledge(session, dt.date(2026, 4, 30))
    overdue = new_pledge(session, dt.date(2026, 2, 25))
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    session.refresh(overdue)
    assert (open_pledge.state, overdue.state) == ("registered", "overdue")
    profile = client.get(f"/api/v1/public/credit/{CODE}").json()
    assert len(profile["records"]) == 1
    assert profile["pledges"]["by_state"] == {"published": 1}
    [item] = profile["pledges"]["items"]
    assert item["number"] not in (open_pledge.number, overdue.number)
    assert open_pledge.number not in json.dumps(profile)
    assert overdue.number not in json.dumps(profile)
    # A withdrawn record takes its pledge off the profile too.
    client.post(
        f"/api/v1/public/breaches/{breach.number}/objection",
        json={"access_code": access_code(session, breach), "reason": "已按期提交材料"},
    )
    r = client.post(
        f"/api/v1/breaches/{breach.id}/actions/uphold_withdraw",
        json={"reason": "材料已按期提交"},
        headers=staff.auth("handler"),
    )
    assert r.status_code == 200, r.text
    profile = client.get(f"/api/v1/public/credit/{CODE}").json()
    assert (profile["records"], profile["pledges"]["total"]) == ([], 0)
    bad = client.get("/api/v1/public/credit/91440300708461136X")
    assert bad.status_code == 422
    assert "校验码" in bad.json()["message"]


def test_credit_check_refuses_subject_with_current_serious_breach(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    from tests.test_pledges import body

    publish(engine, session, ("示范建设有限公司", CODE))
    # Only a 严重 record bars the pledge route (RULEBOOK pledges §2); the sweep publishes as 一般.
    session.execute(update(PublishedBreach).values(severity=Severity.SERIOUS))
    session.commit()
    r = client.post("/api/v1/pledges", json=body(), headers=staff.auth("intake"))
    assert r.status_code == 422
    assert r.json()["reason"] == "current_breach"


def access_code(session: Session, breach: PublishedBreach) -> str:
    """The pledgor's access code, as the registration notice in the outbox gave it."""
    mail = session.exec(
        select(Notification).where(
            Notification.template == "pledge_registered", Notification.case_id == breach.pledge_id
        )
    ).one()
    return str(mail.context["access_code"])


def test_objection_upheld_and_withdrawn(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    url = f"/api/v1/public/breaches/{breach.number}/objection"
    # The credit code and the pledge number are public: they do not let anyone object in the subject's name.
    public_data = {"credit_code": CODE, "pledge_number": "CN-2026-000001", "reason": "x"}
    assert client.post(url, json=public_data).status_code == 422
    wrong = client.post(url, json={"access_code": "AAAA-BBBB-CCCC", "reason": "已履约"})
    assert wrong.status_code == 403
    assert "办理码不正确" in wrong.json()["message"]
    assert session.get(PublishedBreach, breach.id).state == BreachState.PUBLISHED  # type: ignore[union-attr]
    r = client.post(
        url,
        json={
            "access_code": access_code(session, breach),
            "reason": "已按期提交材料",
            "evidence": "快递单号 SF123",
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["state_label"] == "异议处理中"
    assert r.json()["reply_due"] == "2026-03-09"  # 5 working days after 03-02 (the pinned today)
    shown = client.get("/api/v1/public/breaches").json()["items"]
    assert shown[0]["state"] == "under_objection"
    other = client.post(
        f"/api/v1/breaches/{breach.id}/actions/uphold_withdraw",
        json={"reason": "属实"},
        headers=staff.auth("handler2"),
    )
    assert other.status_code == 404  # another department's record is not revealed
    r = client.post(
        f"/api/v1/breaches/{breach.id}/actions/uphold_withdraw",
        json={"reason": "材料已按期提交"},
        headers=staff.auth("handler"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "withdrawn"
    assert client.get("/api/v1/public/breaches").json()["items"] == []
    mail = session.exec(select(Notification).where(Notification.template == "objection_decision")).one()
    assert mail.context["outcome"] == "withdrawn"
    kinds = [d.kind for d in session.exec(select(PlatformDocument).order_by(col(PlatformDocument.id))).all()]
    assert kinds == ["publish", "withdraw"]


def test_objection_rejected_and_corrected(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    payload = {"access_code": access_code(session, breach), "reason": "不服"}
    client.post(f"/api/v1/public/breaches/{breach.number}/objection", json=payload)
    r = client.post(
        f"/api/v1/breaches/{breach.id}/actions/reject_objection",
        json={"reason": "逾期属实"},
        headers=staff.auth("supervisor"),
    )
    assert r.json()["state"] == "published"
    # After a rejection a new objection brings new facts.
    again = {**payload, "evidence": "补交的施工图审查合格书（2026-02-10 出具）"}
    assert client.post(f"/api/v1/public/breaches/{breach.number}/objection", json=again).status_code == 201
    r = client.post(
        f"/api/v1/breaches/{breach.id}/actions/uphold_correct",
        json={"reason": "严重程度更正", "corrected": {"severity": "minor"}},
        headers=staff.auth("handler"),
    )
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["severity_label"], r.json()["GSJZQ"]) == (
        "published",
        "轻微",
        "2026-05-28",
    )
    # 轻微 is kept for its period but not published (RULEBOOK publication §1): the public no longer sees it.
    assert client.get("/api/v1/public/breaches").json()["items"] == []
    assert client.get(f"/api/v1/public/breaches/{breach.number}").status_code == 404
    outcomes = [
        n.context["outcome"]
        for n in session.exec(
            select(Notification)
            .where(Notification.template == "objection_decision")
            .order_by(col(Notification.id))
        ).all()
    ]
    assert outcomes == ["rejected", "corrected"]


def test_repair_only_after_minimum_period_then_approved(
    engine: Engine, session: Session, staff: Staff, clock: Any
) -> None:
    from api.main import create_app

    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    body = {
        "access_code": access_code(session, breach),
        "statement": "已补交合格书",
        "repair_pledge": "今后按期履约",
    }
    with TestClient(create_app(engine=engine, clock=clock, check_schema=False)) as early:
        r = early.post(f"/api/v1/public/breaches/{breach.number}/repair", json=body)
        assert r.status_code == 422
        assert "2026-05-28" in r.json()["message"]
    later = type(clock)(tz=clock.tz, pinned_today=dt.date(2026, 6, 1))
    with TestClient(create_app(engine=engine, clock=later, check_schema=False)) as c:
        wrong = c.post(
            f"/api/v1/public/breaches/{breach.number}/repair", json={**body, "access_code": "AAAABBBBCCCC"}
        )
        assert wrong.status_code == 403
        r = c.post(f"/api/v1/public/breaches/{breach.number}/repair", json=body)
        assert r.status_code == 201, r.text
        assert r.json()["state_label"] == "信用修复申请中"
        r = c.post(
            f"/api/v1/breaches/{breach.id}/actions/approve_repair",
            json={"reason": "符合修复条件"},
            headers=staff.auth("handler"),
        )
        assert r.json()["state"] == "repaired"
        assert c.get("/api/v1/public/breaches").json()["items"] == []
    mail = session.exec(select(Notification).where(Notification.template == "repair_decision")).one()
    assert mail.context["approved"] is True
    kinds = [d.kind for d in session.exec(select(PlatformDocument).order_by(col(PlatformDocument.id))).all()]
    assert kinds == ["publish", "repair"]


def test_expiry_is_idempotent(engine: Engine, session: Session, staff: Staff) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    assert expiry_candidates(session=session, today=dt.date(2027, 2, 28)) == []
    ids = expiry_candidates(session=session, today=dt.date(2027, 3, 1))
    assert ids == [breach.id]
    assert expire_records(session=session, ids=ids, today=dt.date(2027, 3, 1), actor=Actor.system()) == 1
    assert expire_records(session=session, ids=ids, today=dt.date(2027, 3, 1), actor=Actor.system()) == 0
    session.commit()
    session.expire_all()
    assert session.get(PublishedBreach, breach.id).state == BreachState.EXPIRED  # type: ignore[union-attr]


def test_a_pending_objection_does_not_keep_a_record_public_past_its_end(
    engine: Engine, session: Session, staff: Staff
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    session.execute(
        update(PublishedBreach)
        .where(col(PublishedBreach.id) == breach.id)
        .values(state=BreachState.UNDER_OBJECTION)
    )
    session.commit()
    ids = expiry_candidates(session=session, today=dt.date(2027, 3, 1))
    assert ids == [breach.id]
    assert expire_records(session=session, ids=ids, today=dt.date(2027, 3, 1), actor=Actor.system()) == 1
    session.commit()
    event = session.exec(select(CaseEvent).where(CaseEvent.event == "expire")).one()
    assert (event.from_state, event.to_state) == ("under_objection", "expired")


class _Platform(http.server.BaseHTTPRequestHandler):
    received: list[tuple[str, str, bytes]] = []
    fail_first = True

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if _Platform.fail_first:
            _Platform.fail_first = False
            self.send_response(500)
            self.end_headers()
            return
        _Platform.received.append(
            (self.headers["Idempotency-Key"], self.headers["X-Shouxin-Signature"], body)
        )
        receipt = json.dumps({"receipt_id": f"R-{self.headers['Idempotency-Key']}"}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(receipt)))
        self.end_headers()
        self.wfile.write(receipt)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def platform_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    # Class state: reset, since the test runs once per database backend.
    _Platform.received = []
    _Platform.fail_first = True
    server = http.server.HTTPServer(("127.0.0.1", 0), _Platform)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("SHOUXIN_CREDIT_PLATFORM_URL", f"http://127.0.0.1:{server.server_port}/push")
    monkeypatch.setenv("SHOUXIN_CREDIT_PLATFORM_SECRET", "a-real-random-secret-for-tests")
    get_settings.cache_clear()
    yield f"http://127.0.0.1:{server.server_port}/push"
    server.shutdown()


def test_push_retried_then_delivered_once(
    engine: Engine, session: Session, staff: Staff, platform_url: str
) -> None:
    publish(engine, session, ("示范建设有限公司", CODE), ("张小三", None))
    now = utcnow()
    first = push_due(engine=engine, now=now)
    assert (first.sent, first.retried) == (1, 1)
    assert push_due(engine=engine, now=now).sent == 0  # the failed one waits for its back-off
    later = push_due(engine=engine, now=now + dt.timedelta(minutes=5))
    assert later.sent == 1
    assert push_due(engine=engine, now=now + dt.timedelta(hours=1)).sent == 0
    keys = [k for k, _, _ in _Platform.received]
    assert len(keys) == len(set(keys)) == 2
    for _, signature, body in _Platform.received:
        assert signature == sign(body, "a-real-random-secret-for-tests")
        assert json.loads(body)["record"]["JDRQ"] == "2026-02-28"
    session.expire_all()
    assert {d.status for d in session.exec(select(PlatformDocument)).all()} == {DocumentStatus.ACKNOWLEDGED}


def test_push_does_nothing_without_url(engine: Engine, session: Session, staff: Staff) -> None:
    publish(engine, session, ("示范建设有限公司", CODE))
    assert push_due(engine=engine).unconfigured
    assert session.exec(select(PlatformDocument)).one().status == DocumentStatus.PENDING
