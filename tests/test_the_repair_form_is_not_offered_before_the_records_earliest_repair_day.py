"""Before a record's earliest repair day its repair page says only when repair may be requested and what to
prepare: no form to fill, no decision deadline for a request that would be refused. A submission that
arrives anyway (a page drawn earlier, a bookmark) gets the service's refusal with the day, whatever was
typed, and nothing is filed. From that day the form is offered with its decision deadline. A refused
form's summary counts the fields it lists, the access code to type again is said apart; an objection form
that takes no objection offers no fields either."""

from __future__ import annotations

import datetime as dt
import re

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models.breach import PublishedBreach
from models.files import CaseFile
from tests.conftest import Staff
from tests.test_complaints_api import set_today
from tests.test_public_pages_write_dates_as_chinese_readers_read_them import ISO_DAY, timed, words
from tests.test_publication import CODE
from tests.test_register import access_code, publish
from tests.web_support import post_form

REENTER = "为安全起见，办理码需重新填写"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _state(session: Session, breach: PublishedBreach) -> str:
    session.expire_all()
    record = session.get(PublishedBreach, breach.id)
    assert record is not None
    return str(record.state)


def _summary(page: str) -> str:
    found = re.search(r'<div class="alert error" role="alert" id="form-errors".*?</div>', page, re.S)
    assert found, "no error summary"
    return found.group(0)


def test_before_the_earliest_day_the_page_says_when_and_what_to_prepare_and_offers_no_form(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    assert staff.admin
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    set_today(client, breach.repair_earliest - dt.timedelta(days=1))
    page = client.get(f"/register/{breach.number}/repair")
    assert page.status_code == 200
    html = page.text
    assert f"本记录最早可于{timed(breach.repair_earliest)}申请信用修复" in html
    assert 'id="repair-prepare"' in html
    assert "纠正失信行为的说明" in words(html)
    assert "信用修复承诺" in words(html)
    # No form, no promise of a decision on a request that would be refused.
    assert "<form" not in html.split('<main class="wrap"', 1)[1]
    assert 'name="statement"' not in html
    assert "作出决定" not in html
    assert "今天提出的申请" not in html
    assert 'id="repair-due"' not in html
    assert f'<a href="/register/{breach.number}">« 返回公示记录</a>' in html
    assert not ISO_DAY.search(words(html))


def test_a_filled_request_sent_before_the_earliest_day_gets_the_refusal_with_the_day_and_files_nothing(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    assert staff.admin
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    set_today(client, breach.repair_earliest - dt.timedelta(days=1))
    url = f"/register/{breach.number}/repair"
    form = {
        "access_code": access_code(session, breach),
        "statement": "已补交合格书",
        "repair_pledge": "今后按期履约",
    }
    token_page = "/pledges/evidence"  # the repair page has no form to take the CSRF field from
    answer = post_form(client, url, form, page=token_page)
    assert answer.status_code == 422
    refusal = f"该记录最早可于{breach.repair_earliest.year}年{breach.repair_earliest.month}月"
    assert refusal in _summary(answer.text)
    assert "（最短公示期未满）；请届时再申请" in answer.text
    assert "repair not before" not in answer.text  # the public reads Chinese only
    assert REENTER not in answer.text  # there is no field to type it into
    assert 'name="statement"' not in answer.text
    assert "作出决定" not in answer.text
    assert not ISO_DAY.search(words(answer.text))
    assert _state(session, breach) == "published"
    # Fields left blank are not what is wrong: the day is.
    blank = post_form(client, url, {"access_code": "", "statement": "", "repair_pledge": ""}, page=token_page)
    assert blank.status_code == 422
    assert refusal in _summary(blank.text)
    assert "请填写" not in blank.text
    # With files attached: refused before any file is kept.
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get(token_page).text)
    assert token
    with_files = client.post(
        url,
        data={"csrf_token": token.group(1), **form},
        files=[("files", ("凭证.pdf", PDF, "application/pdf"))],
        follow_redirects=False,
    )
    assert with_files.status_code == 422
    assert refusal in with_files.text
    assert session.exec(select(CaseFile)).all() == []
    assert _state(session, breach) == "published"


def test_from_the_earliest_day_the_form_is_offered_with_its_decision_deadline(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    assert staff.admin
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    set_today(client, breach.repair_earliest)
    html = client.get(f"/register/{breach.number}/repair").text
    assert f"本记录最短公示期已满（{timed(breach.repair_earliest)}起可申请）" in html
    assert 'name="statement"' in html
    assert 'id="repair-due"' in html
    assert "作出决定" in html
    assert 'id="repair-prepare"' not in html


def test_a_refused_forms_summary_counts_the_fields_it_lists_and_says_the_code_apart(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    assert staff.admin
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    set_today(client, breach.repair_earliest)
    form = {"access_code": access_code(session, breach), "statement": "已补交合格书", "repair_pledge": ""}
    refused = post_form(client, f"/register/{breach.number}/repair", form)
    assert refused.status_code == 422
    summary = _summary(refused.text)
    assert "提交的内容有 1 处需要修改" in summary
    assert len(re.findall(r"<li>", summary)) == 1
    assert '<li><a href="#f-repair_pledge">信用修复承诺：请填写信用修复承诺</a></li>' in summary
    assert REENTER in summary  # still said, after the list it is not counted in
    assert REENTER not in "".join(re.findall(r"<li>.*?</li>", summary, re.S))
    two = post_form(client, f"/register/{breach.number}/repair", {**form, "access_code": "", "statement": ""})
    summary = _summary(two.text)
    listed = re.findall(r"<li>", summary)
    assert f"提交的内容有 {len(listed)} 处需要修改" in summary
    assert len(listed) == 3  # the code, the statement, the pledge; the code's own line says to retype it


def test_an_objection_sent_to_a_record_that_takes_none_gets_no_fields_to_fill(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    assert staff.admin
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    code = access_code(session, breach)
    url = f"/register/{breach.number}/objection"
    assert post_form(client, url, {"access_code": code, "reason": "认定有误"}).status_code == 303
    shown = client.get(url).text
    assert "该记录的异议正在处理中" in shown
    assert "<form" not in shown.split('<main class="wrap"', 1)[1]
    assert "今天提出的异议" not in shown
    again = post_form(client, url, {"access_code": code, "reason": "再次异议"}, page="/pledges/evidence")
    assert again.status_code == 409
    assert "该记录的异议正在处理中，认定部门答复前不能再次提出异议" in _summary(again.text)
    assert again.text.count("该记录的异议正在处理中") == 1  # said once, as the refusal
    assert REENTER not in again.text
    assert 'name="reason"' not in again.text


def test_a_repair_request_sent_while_an_objection_is_pending_gets_the_busy_sentence_once(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    assert staff.admin
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    with engine.begin() as conn:
        conn.execute(update(PublishedBreach).values(repair_earliest=dt.date(2026, 1, 1)))
    code = access_code(session, breach)
    objected = post_form(
        client, f"/register/{breach.number}/objection", {"access_code": code, "reason": "有误"}
    )
    assert objected.status_code == 303
    url = f"/register/{breach.number}/repair"
    shown = client.get(url).text
    assert "该记录正在异议处理中，异议答复后方可申请信用修复" in shown
    assert 'name="statement"' not in shown
    assert "作出决定" not in shown
    form = {"access_code": code, "statement": "已补交", "repair_pledge": "今后按期履约"}
    answer = post_form(client, url, form, page="/pledges/evidence")
    assert answer.status_code == 422
    assert "该记录正在异议处理中，异议答复后方可申请信用修复" in _summary(answer.text)
    assert answer.text.count("该记录正在异议处理中") == 1
    assert REENTER not in answer.text
    assert _state(session, breach) == "under_objection"
