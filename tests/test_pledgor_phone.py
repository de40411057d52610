"""The pledgor's 联系电话: given by the authority at registration (API, staff form, import), a mobile stored
as its 11 digits and texted, a landline kept as written and never texted; every notice to the pledgor goes by
SMS when the pledgor has only a mobile and by both when an e-mail address is given too."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.calendar import load_calendar
from models.files import Upload
from models.lifecycle import Role
from models.outbox import NOT_A_MOBILE, Notification, NotificationStatus, mobile_number
from models.pledge import Pledge, PledgeCreate, PledgorKind, normalise_mobile, normalise_phone
from models.pledges import pledge_action, register_pledge
from models.pledges.access import verify
from models.pledges.import_rows import validate_row
from models.publication import sweep
from models.settings import get_settings
from models.workflow import Actor
from notifications.render import render
from notifications.sms import render_sms
from tests.conftest import Staff
from tests.test_pledges import body
from tests.web_support import CSRF_FIELD, csrf_of, post_form, sign_in

API = "/api/v1"
MOBILE = "138 1234 5678"
LANDLINE = "0571-87654321"
SUPERVISOR = Actor(name="督办员", role=Role.SUPERVISOR)
INTAKE = Actor(name="受理员", role=Role.INTAKE)


@pytest.fixture
def sms_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOUXIN_SMS_PROVIDER", "http")
    monkeypatch.setenv("SHOUXIN_SMS_GATEWAY_URL", "http://127.0.0.1:9/sms")
    monkeypatch.setenv("SHOUXIN_SMS_GATEWAY_SECRET", "a-real-shared-secret-1")
    get_settings.cache_clear()


def imported(session: Session, csv: str, filename: str) -> Any:
    """The report of importing ``csv`` (by the supervisor, on 2026-03-02), committed."""
    from models.pledges.import_rows import read_import_file
    from models.pledges.importing import import_pledges

    report = import_pledges(
        session=session,
        rows=read_import_file(csv.encode(), filename),
        actor=SUPERVISOR,
        source_name=filename,
        today=dt.date(2026, 3, 2),
        calendar=load_calendar(session=session),
    )
    session.commit()
    return report


def rows(session: Session, pledge_id: int, template: str) -> list[tuple[str, str | None, str | None]]:
    """(channel, e-mail, phone) of the outbox rows of ``template`` for the pledge, in order."""
    session.expire_all()
    found = session.exec(
        select(Notification)
        .where(Notification.case_kind == "pledge", Notification.case_id == pledge_id)
        .where(Notification.template == template)
        .order_by(col(Notification.id))
    ).all()
    return [(n.channel, n.recipient_email, n.recipient_phone) for n in found]


def sms_row(session: Session, pledge_id: int, template: str) -> Notification:
    session.expire_all()
    return session.exec(
        select(Notification).where(
            Notification.case_id == pledge_id,
            Notification.template == template,
            Notification.channel == "sms",
        )
    ).one()


# ------------------------------------------------------------------------------------------ the number


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("13812345678", "13812345678"),
        ("+86 138-1234-5678", "13812345678"),
        ("１３８１２３４５６７８", "13812345678"),  # full-width digits from a Chinese IME
        ("0571-87654321", "0571-87654321"),  # landlines are kept as written
        ("(010)12345678", "(010)12345678"),
        ("010-12345678转123", "010-12345678转123"),
        ("400-810-8888", "400-810-8888"),
        ("", None),
        ("  ", None),
        (None, None),
    ],
)
def test_a_mobile_is_stored_as_its_digits_and_a_landline_as_written(written: str | None, stored: str) -> None:
    assert normalise_phone(written) == stored


@pytest.mark.parametrize("written", ["1381234567", "138123456789", "12812345678", "12345", "电话", "abc"])
def test_a_number_that_is_neither_a_mobile_nor_a_landline_is_refused_saying_what_each_looks_like(
    written: str,
) -> None:
    with pytest.raises(ValueError, match="11 位数字") as refused:
        normalise_phone(written)
    assert "区号" in str(refused.value)
    assert written in str(refused.value)


# Arabic-Indic and other script digits are digits to Python's \d but to no SMS gateway or telephone: a
# number written with them would be stored as a "mobile" and texted in vain.
@pytest.mark.parametrize("written", ["13\u066812345678", "138\u0661\u0662345678", "0571-8\u0667654321"])
def test_a_number_written_with_digits_of_another_script_is_refused_not_stored(written: str) -> None:
    with pytest.raises(ValueError, match="格式不正确"):
        normalise_phone(written)
    with pytest.raises(ValueError, match="格式不正确"):
        normalise_mobile(written)
    assert mobile_number(written) is None


# ---------------------------------------------------------------------------------------- registering


def test_registering_by_api_with_only_a_mobile_texts_the_notice_with_the_access_code(
    client: TestClient, session: Session, staff: Staff, sms_on: None
) -> None:
    r = client.post(
        f"{API}/pledges",
        json=body(deadline="2026-04-30", pledgor_email=None, pledgor_phone=MOBILE),
        headers=staff.auth("intake"),
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["pledgor_phone"] == "13812345678"
    assert rows(session, created["id"], "pledge_registered") == [("sms", None, "13812345678")]
    row = sms_row(session, created["id"], "pledge_registered")
    assert row.status == NotificationStatus.PENDING
    text = render_sms("pledge_registered", row.context)
    assert created["number"] in text
    assert created["access_code"] in text
    assert "2026-04-30" in text
    assert "示范建设有限公司" not in text  # a text message carries no names


def test_a_pledgor_with_both_gets_the_registration_notice_by_mail_and_by_sms(
    client: TestClient, session: Session, staff: Staff, sms_on: None
) -> None:
    r = client.post(
        f"{API}/pledges", json=body(deadline="2026-04-30", pledgor_phone=MOBILE), headers=staff.auth("intake")
    )
    assert r.status_code == 201, r.text
    assert rows(session, r.json()["id"], "pledge_registered") == [
        ("email", "a@example.com", None),
        ("sms", None, "13812345678"),
    ]


def test_a_landline_is_kept_for_staff_to_call_and_never_texted(
    client: TestClient, session: Session, staff: Staff, sms_on: None
) -> None:
    r = client.post(
        f"{API}/pledges",
        json=body(deadline="2026-04-30", pledgor_email=None, pledgor_phone=LANDLINE),
        headers=staff.auth("intake"),
    )
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    assert r.json()["pledgor_phone"] == LANDLINE
    row = session.exec(select(Notification).where(Notification.case_id == pid)).one()
    assert (row.channel, row.status, row.recipient_phone, row.last_error) == (
        "sms",
        NotificationStatus.UNDELIVERABLE,
        LANDLINE,
        NOT_A_MOBILE,
    )
    assert "access_code" not in row.context  # never sent, so the code is not stored
    sign_in(client, staff.handler)
    page = client.get(f"/staff/pledges/{pid}").text
    assert f"{LANDLINE}（固定电话，不发短信，请电话联系）" in page


def test_a_wrong_phone_is_refused_by_the_api_saying_how_to_write_it(client: TestClient, staff: Staff) -> None:
    r = client.post(
        f"{API}/pledges",
        json=body(deadline="2026-04-30", pledgor_phone="1381234567"),
        headers=staff.auth("intake"),
    )
    assert r.status_code == 422
    assert "pledgor_phone" in r.text
    assert "11 位数字" in r.text


def test_the_staff_registration_form_takes_the_phone_and_explains_a_wrong_one(
    client: TestClient, session: Session, staff: Staff
) -> None:
    sign_in(client, staff.intake)
    form = {
        CSRF_FIELD: csrf_of(client, "/staff/pledges/new"),
        "pledgor_kind": "individual",
        "pledgor_name": "王五",
        "matter": "食品经营许可证",
        "obligation": "健康证明",
        "deadline": "2026-04-30",
        "authority_code": "D01",
    }
    page = client.get("/staff/pledges/new").text
    assert 'name="pledgor_phone" id="field-pledgor_phone" type="tel"' in page
    refused = client.post("/staff/pledges/new", data={**form, "pledgor_phone": "139-1234"})
    assert refused.status_code == 422
    assert "联系电话“139-1234”格式不正确" in refused.text
    assert 'value="139-1234"' in refused.text  # the form keeps what was typed
    done = client.post("/staff/pledges/new", data={**form, "pledgor_phone": "+86 139 1234 5678"})
    assert done.status_code == 200
    stored = session.exec(select(Pledge).where(Pledge.pledgor_name == "王五")).one()
    assert stored.pledgor_phone == "13912345678"


def _register_and_reissue_on_the_staff_page(
    client: TestClient, staff: Staff, *, email: str = "", phone: str = ""
) -> tuple[str, str]:
    """The pledge page after registering a pledge with ``email`` and ``phone``, and after re-issuing its
    code: what each says about how the pledgor was told."""
    sign_in(client, staff.intake)
    page = "/staff/pledges/new"
    form = {
        "pledgor_kind": "individual",
        "pledgor_name": "王五",
        "pledgor_email": email,
        "pledgor_phone": phone,
        "matter": "食品经营许可证",
        "obligation": "健康证明",
        "deadline": "2026-04-30",
        "authority_code": "D01",
    }
    registered = post_form(client, page, form)
    assert registered.status_code == 200, registered.text
    number = re.search(r"编号 <strong>(CN-[0-9-]+)</strong>", registered.text)
    assert number
    reissued = post_form(client, "/staff/pledges/access-code", {"number": number[1]}, page=page)
    assert reissued.status_code == 200, reissued.text
    return registered.text, reissued.text


PRINT_IT = "无可用邮箱或短信"


def test_the_staff_page_says_the_code_went_by_mail_to_a_pledgor_with_only_an_e_mail(
    client: TestClient, staff: Staff, sms_on: None
) -> None:
    registered, reissued = _register_and_reissue_on_the_staff_page(client, staff, email="w@example.com")
    assert "登记告知已通过邮件发送" in registered
    assert "新办理码已通过邮件发送" in reissued
    assert "短信" not in registered.split("<form")[0]
    assert PRINT_IT not in registered
    assert PRINT_IT not in reissued


def test_the_staff_page_says_the_code_went_by_sms_to_a_pledgor_with_only_a_mobile(
    client: TestClient, staff: Staff, sms_on: None
) -> None:
    registered, reissued = _register_and_reissue_on_the_staff_page(client, staff, phone=MOBILE)
    assert "登记告知已通过短信发送" in registered
    assert "新办理码已通过短信发送" in reissued
    for page in (registered, reissued):
        assert "邮件" not in page.split("<form")[0]
        assert PRINT_IT not in page


def test_the_staff_page_says_the_code_went_by_both_to_a_pledgor_with_both(
    client: TestClient, staff: Staff, sms_on: None
) -> None:
    registered, reissued = _register_and_reissue_on_the_staff_page(
        client, staff, email="w@example.com", phone=MOBILE
    )
    assert "登记告知已通过邮件和短信发送" in registered
    assert "新办理码已通过邮件和短信发送" in reissued


@pytest.mark.parametrize(
    ("email", "phone", "sms"),
    [("", "", True), ("", LANDLINE, True), ("", MOBILE, False)],
    ids=["no-address", "landline", "sms-not-configured"],
)
def test_the_staff_page_asks_for_the_printed_notice_when_the_code_went_nowhere(
    client: TestClient, staff: Staff, monkeypatch: pytest.MonkeyPatch, email: str, phone: str, sms: bool
) -> None:
    if sms:
        monkeypatch.setenv("SHOUXIN_SMS_PROVIDER", "http")
        monkeypatch.setenv("SHOUXIN_SMS_GATEWAY_URL", "http://127.0.0.1:9/sms")
        monkeypatch.setenv("SHOUXIN_SMS_GATEWAY_SECRET", "a-real-shared-secret-1")
    else:
        monkeypatch.setenv("SHOUXIN_SMS_PROVIDER", "none")
    get_settings.cache_clear()
    registered, reissued = _register_and_reissue_on_the_staff_page(client, staff, email=email, phone=phone)
    for page in (registered, reissued):
        assert "无可用邮箱或短信" in page
        assert "请打印告知书当面交付承诺人" in page
        assert "已通过" not in page
        assert "打印载明办理码的告知承诺书" in page  # the way it is printed, on the same page


# -------------------------------------------------------------------------------------- the import


RAW = {
    "pledgor_kind": "个人", "pledgor_name": "赵六", "pledgor_credit_code": "", "pledgor_email": "",
    "matter": "施工许可", "obligation": "审查合格书", "deadline": "2026-04-30", "authority_code": "D01",
    "legal_basis": "",
}  # fmt: skip


def test_an_import_row_takes_an_optional_phone_that_does_not_change_its_import_key() -> None:
    today = dt.date(2026, 3, 2)
    without, errors = validate_row(2, RAW, {"D01": 7}, None, today=today)
    assert without is not None
    assert errors == []
    assert without.values["pledgor_phone"] is None
    with_phone, errors = validate_row(2, {**RAW, "pledgor_phone": MOBILE}, {"D01": 7}, None, today=today)
    assert with_phone is not None
    assert errors == []
    assert with_phone.values["pledgor_phone"] == "13812345678"
    # A file imported again with the column added holds the same pledges.
    assert with_phone.key == without.key
    bad, errors = validate_row(5, {**RAW, "pledgor_phone": "12345"}, {"D01": 7}, None, today=today)
    assert bad is None
    assert [(e.row, e.column) for e in errors] == [(5, "联系电话")]
    assert "格式不正确" in errors[0].message


# ---------------------------------------------------------------------------- every later notice


def _pledge(session: Session, deadline: dt.date, *, email: str | None, phone: str | None) -> Pledge:
    data = PledgeCreate(
        pledgor_kind=PledgorKind.INDIVIDUAL,
        pledgor_name="钱七",
        pledgor_email=email,
        pledgor_phone=phone,
        matter="建筑工程施工许可证",
        obligation="施工图审查合格书",
        deadline=deadline,
        authority_code="D01",
    )
    calendar = load_calendar(session=session)
    pledge = register_pledge(
        session=session, data=data, actor=SUPERVISOR, today=dt.date(2026, 1, 5), calendar=calendar
    )
    session.commit()
    return pledge


def test_the_sweeps_reminder_overdue_warning_and_publication_notice_text_a_mobile_only_pledgor(
    engine: Engine, session: Session, staff: Staff, sms_on: None
) -> None:
    pledge = _pledge(session, dt.date(2026, 2, 12), email=None, phone=MOBILE)
    both = _pledge(session, dt.date(2026, 2, 12), email="q@example.com", phone=MOBILE)
    assert pledge.id is not None
    assert both.id is not None
    system = Actor.system("run-sms")
    sweep(engine=engine, today=dt.date(2026, 2, 9), actor=system)  # reminder, 3 working days before
    sweep(engine=engine, today=dt.date(2026, 2, 13), actor=system)  # overdue, warning day 1
    sweep(engine=engine, today=dt.date(2026, 2, 28), actor=system)  # published
    for template in ("pledge_reminder", "pledge_overdue", "pledge_prepublication", "pledge_published"):
        channels = rows(session, pledge.id, template)
        assert channels, template
        assert all(c == ("sms", None, "13812345678") for c in channels), template
        assert {c[0] for c in rows(session, both.id, template)} == {"email", "sms"}, template
        row = session.exec(
            select(Notification).where(
                Notification.case_id == pledge.id,
                Notification.template == template,
                Notification.channel == "sms",
            )
        ).first()
        assert row is not None
        text = render_sms(template, row.context)
        assert pledge.number in text
        assert "钱七" not in text
    published = sms_row(session, pledge.id, "pledge_published")
    assert published.context["record_number"] in render_sms("pledge_published", published.context)


def test_evidence_received_accepted_and_rejected_text_a_mobile_only_pledgor(
    session: Session, staff: Staff, sms_on: None, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from models.pledges import store_evidence

    monkeypatch.setenv("SHOUXIN_UPLOAD_DIR", str(tmp_path))
    get_settings.cache_clear()
    calendar = load_calendar(session=session)
    today = dt.date(2026, 3, 2)
    rejected = _pledge(session, dt.date(2026, 4, 30), email=None, phone=MOBILE)
    accepted = _pledge(session, dt.date(2026, 4, 30), email=None, phone=MOBILE)
    for p in (rejected, accepted):
        assert p.id is not None
        store_evidence(
            session=session, pledge_id=p.id, uploads=[Upload("合格书.pdf", b"%PDF-1.7\n%x\n")],
            actor=INTAKE, today=today, calendar=calendar,
        )  # fmt: skip
        session.commit()
    assert rejected.id is not None
    assert accepted.id is not None
    pledge_action(
        session=session, pledge_id=rejected.id, action="reject_evidence", actor=SUPERVISOR, today=today,
        calendar=calendar, expected_version=None, reason="合格书未盖章",
    )  # fmt: skip
    pledge_action(
        session=session, pledge_id=accepted.id, action="confirm", actor=SUPERVISOR, today=today,
        calendar=calendar, expected_version=None,
    )  # fmt: skip
    session.commit()
    for pid, template in (
        (rejected.id, "pledge_evidence_received"),
        (rejected.id, "pledge_evidence_rejected"),
        (accepted.id, "pledge_evidence_accepted"),
    ):
        assert rows(session, pid, template) == [("sms", None, "13812345678")], template
        text = render_sms(template, sms_row(session, pid, template).context)
        assert session.get(Pledge, pid).number in text  # type: ignore[union-attr]
        assert "合格书" not in text  # neither the file's name nor the reason: the mail has them
        assert "盖章" not in text
    # The text of a returned submission says by when to hand in again: returned before its deadline, the
    # pledge's own deadline, which still binds (24:00 of its day), then the publication day as the last
    # chance (late evidence still counts until it, as the mail says).
    returned = session.get(Pledge, rejected.id)
    assert returned is not None
    assert returned.publication_day is not None
    deadline, last = returned.deadline.isoformat(), returned.publication_day.isoformat()
    assert f"于{deadline} 24时前（最迟{last}零时前）补正提交" in render_sms(
        "pledge_evidence_rejected", sms_row(session, rejected.id, "pledge_evidence_rejected").context
    )


def test_the_mail_of_a_pledgor_with_a_phone_is_unchanged(
    session: Session, staff: Staff, sms_on: None
) -> None:
    pledge = _pledge(session, dt.date(2026, 4, 30), email="q@example.com", phone=LANDLINE)
    assert pledge.id is not None
    # A landline beside an e-mail address: the mail goes, nothing pretends the landline was texted.
    assert rows(session, pledge.id, "pledge_registered") == [("email", "q@example.com", None)]
    row = session.exec(select(Notification).where(Notification.case_id == pledge.id)).one()
    assert pledge.number in render("pledge_registered", row.context).text


def test_an_imported_pledgor_with_only_a_mobile_is_texted_the_registration_notice_with_its_code(
    session: Session, staff: Staff, sms_on: None
) -> None:
    csv = (
        "承诺人类型,承诺人名称,承诺事项,承诺内容,承诺期限,受理部门代码,电子邮箱,联系电话\n"
        "个人,孙八,施工许可,审查合格书,2026-04-30,D01,,+86 139 0000 1111\n"
        "个人,周九,施工许可,审查合格书,2026-04-30,D01,z@example.com,0571-87654321\n"
        "个人,吴十,施工许可,审查合格书,2026-04-30,D01,,139-0000\n"
    )
    report = imported(session, csv, "phones.csv")
    assert report.imported == 2
    assert [(e.row, e.column) for e in report.errors] == [(4, "联系电话")]
    texted = session.exec(select(Pledge).where(Pledge.pledgor_name == "孙八")).one()
    assert texted.pledgor_phone == "13900001111"
    assert texted.id is not None
    assert rows(session, texted.id, "pledge_registered") == [("sms", None, "13900001111")]
    assert report.offline_codes == []  # the text carries the code: nothing to hand over on paper
    context = sms_row(session, texted.id, "pledge_registered").context
    code = context["access_code"]
    assert verify(code, texted.access_code_digest)  # the pledgor's real code
    text = render_sms("pledge_registered", context)
    assert code in text
    assert texted.number in text
    landline = session.exec(select(Pledge).where(Pledge.pledgor_name == "周九")).one()
    assert landline.pledgor_phone == "0571-87654321"
    assert landline.id is not None
    assert rows(session, landline.id, "pledge_registered") == [("email", "z@example.com", None)]


@pytest.mark.parametrize(
    ("sms", "offline"),
    [(True, ["郑十一", "王十二"]), (False, ["孙八", "郑十一", "王十二"])],
    ids=["sms-configured", "no-sms"],
)
def test_the_import_lists_for_handing_over_exactly_the_codes_no_e_mail_or_text_carries(
    session: Session, staff: Staff, request: pytest.FixtureRequest, sms: bool, offline: list[str]
) -> None:
    if sms:
        request.getfixturevalue("sms_on")
    csv = (
        "承诺人类型,承诺人名称,承诺事项,承诺内容,承诺期限,受理部门代码,电子邮箱,联系电话\n"
        "个人,孙八,施工许可,审查合格书,2026-04-30,D01,,13900001111\n"  # a mobile only
        "个人,周九,施工许可,审查合格书,2026-04-30,D01,z@example.com,\n"  # an e-mail address only
        "个人,吴十,施工许可,审查合格书,2026-04-30,D01,w@example.com,13900002222\n"  # both
        "个人,郑十一,施工许可,审查合格书,2026-04-30,D01,,0571-87654321\n"  # a landline only
        "个人,王十二,施工许可,审查合格书,2026-04-30,D01,,\n"  # nothing
    )
    report = imported(session, csv, "channels.csv")
    assert (report.imported, report.errors) == (5, [])
    assert [c["pledgor_name"] for c in report.offline_codes] == offline
    for pledge in session.exec(select(Pledge)).all():
        session.expire_all()
        statuses = {
            n.status
            for n in session.exec(
                select(Notification).where(
                    Notification.case_id == pledge.id, Notification.template == "pledge_registered"
                )
            )
        }
        # Listed exactly when the registration notice has no row that will be sent.
        assert (statuses == {NotificationStatus.UNDELIVERABLE}) == (pledge.pledgor_name in offline), statuses
    for listed in report.offline_codes:
        pledge = session.exec(select(Pledge).where(Pledge.number == listed["number"])).one()
        assert verify(listed["access_code"], pledge.access_code_digest)
