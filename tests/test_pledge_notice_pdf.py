"""The 告知承诺书 as a PDF beside its printable page: the same facts (one builder), the access code only when
staff hand in the pledge's current one right after it was shown, and only to staff who may see the pledge."""

from __future__ import annotations

import datetime as dt
import io
import re
from urllib.parse import unquote

import pypdf
from fastapi.testclient import TestClient

from tests.conftest import Staff
from tests.test_staff_pledge_pages import pledge
from tests.web_support import CSRF_FIELD, csrf_of, post_form, sign_in
from web.core import cn_date


def pdf_text(content: bytes) -> str:
    """The text of every page, as a reader extracts it, with line breaks and spaces removed."""
    reader = pypdf.PdfReader(io.BytesIO(content))
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))


def compact(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_the_pdf_notice_states_the_pledge_number_pledgor_terms_and_deadline(
    client: TestClient, staff: Staff
) -> None:
    created = pledge(client, staff, obligation="施工图审查合格书\n消防设计审查意见")
    sign_in(client, staff.handler)
    r = client.get(f"/staff/pledges/{created['id']}/notice.pdf")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    disposition = r.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    # An ASCII name for old clients and the Chinese one in RFC 5987 form.
    assert f'filename="{created["number"]}.pdf"' in disposition
    assert unquote(disposition.split("filename*=UTF-8''", 1)[1]) == f"告知承诺书_{created['number']}.pdf"
    text = pdf_text(r.content)
    for fact in (
        "告知承诺书",
        created["number"],
        "示范建设有限公司",
        created["pledgor_credit_code"],
        "建筑工程施工许可证",
        "施工图审查合格书",
        "消防设计审查意见",
        "2026年4月30日前",
        cn_date(dt.date.fromisoformat(created["publication_day"])),
        "《建筑法》第八条",
        "市住房和城乡建设局",
        "本告知书不载明",  # drawn later, it cannot carry the code: it says how to get one
    ):
        assert fact in text, fact
    assert created["access_code"] not in text


def test_the_pdf_and_the_printable_page_state_the_same_facts(client: TestClient, staff: Staff) -> None:
    created = pledge(client, staff)
    sign_in(client, staff.handler)
    page = client.get(f"/staff/pledges/{created['id']}/notice").text
    article = page.split('<article class="notice" id="notice">', 1)[1].split("</article>", 1)[0]
    sentences = [compact(s) for s in re.sub(r"<[^>]+>", "\n", article).split("\n") if s.strip()]
    assert len(sentences) > 15
    text = pdf_text(client.get(f"/staff/pledges/{created['id']}/notice.pdf").content)
    for sentence in sentences:
        # The page escapes quotes and the PDF numbers its terms; otherwise word for word.
        assert sentence.replace("&#34;", '"').replace("&#39;", "'") in text, sentence


def test_the_notice_carries_the_access_code_only_when_the_current_code_is_handed_in(
    client: TestClient, staff: Staff
) -> None:
    created = pledge(client, staff)
    pid, code = created["id"], created["access_code"]
    sign_in(client, staff.handler)
    page = f"/staff/pledges/{pid}"
    pdf = post_form(client, f"/staff/pledges/{pid}/notice.pdf", {"access_code": code}, page=page)
    assert pdf.status_code == 200
    assert pdf.headers["cache-control"] == "no-store"
    text = pdf_text(pdf.content)
    assert code in text
    assert "本告知书载明的办理码" in text
    html = post_form(client, f"/staff/pledges/{pid}/notice", {"access_code": code.lower()}, page=page)
    assert html.status_code == 200
    assert html.headers["cache-control"] == "no-store"
    assert code in html.text
    # A code that is not the pledge's (a typo, or one a re-issue has voided) is refused, never printed.
    wrong = "ABCD-EFGH-JKMN" if code != "ABCD-EFGH-JKMN" else "ABCD-EFGH-JKMP"
    refused = post_form(client, f"/staff/pledges/{pid}/notice.pdf", {"access_code": wrong}, page=page)
    assert refused.status_code == 422
    assert "办理码与承诺" in refused.text
    assert wrong not in refused.text
    # Without the form's CSRF field nothing is drawn.
    forged = client.post(f"/staff/pledges/{pid}/notice.pdf", data={"access_code": code, CSRF_FIELD: "x"})
    assert forged.status_code == 403


def test_only_staff_who_may_see_the_pledge_get_its_notice(client: TestClient, staff: Staff) -> None:
    created = pledge(client, staff)
    url = f"/staff/pledges/{created['id']}/notice.pdf"
    anonymous = client.get(url, follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login")
    sign_in(client, staff.handler2)  # another department's handler: as if it did not exist
    assert client.get(url).status_code == 404
    token = csrf_of(client, "/staff/pledges")
    posted = client.post(url, data={CSRF_FIELD: token, "access_code": created["access_code"]})
    assert posted.status_code == 404
    sign_in(client, staff.supervisor)
    assert client.get(url).status_code == 200
    assert f'href="{url}"' in client.get(f"/staff/pledges/{created['id']}").text


def test_the_page_that_shows_a_new_code_offers_the_notice_with_it(client: TestClient, staff: Staff) -> None:
    sign_in(client, staff.intake)
    token = csrf_of(client, "/staff/pledges/new")
    form = {
        CSRF_FIELD: token,
        "pledgor_kind": "individual",
        "pledgor_name": "王五",
        "matter": "食品经营许可证",
        "obligation": "健康证明",
        "deadline": "2026-04-30",
        "authority_code": "D01",
    }
    shown = client.post("/staff/pledges/new", data=form)
    assert shown.status_code == 200
    code = re.search(r'class="access-code">([A-Z0-9-]+)<', shown.text)
    assert code
    offered = re.search(r'action="(/staff/pledges/\d+/notice)"', shown.text)
    assert offered
    assert f'name="access_code" value="{code[1]}"' in shown.text
    assert 'formaction="' + offered[1] + '.pdf"' in shown.text
    pdf = client.post(offered[1] + ".pdf", data={CSRF_FIELD: token, "access_code": code[1]})
    text = pdf_text(pdf.content)
    assert code[1] in text
    assert "王五" in text
    assert "健康证明" in text
