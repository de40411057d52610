"""Personal data a person typed stays masked where it leaves Shouxin: in the credit platform's document
(the pledge's obligation, SX_CNNR, as its facts already were) and in uvicorn's access-log line, where a
search term arrives URL-encoded (zhang.san%40example.com, 139+1234+5678)."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import uvicorn
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import AccessFormatter
from uvicorn.server import ServerState

from api.main import create_app
from models.calendar import load_calendar
from models.clock import Clock
from models.platform import PlatformDocument
from models.pledge import PledgeCreate, PledgorKind
from models.pledges import register_pledge
from models.privacy import publication_text, scrub
from models.publication import sweep
from models.workflow import Actor
from tests.conftest import Staff
from tests.test_publication import SUPERVISOR

ID, MASKED_ID = "110101199003071234", "110101********1234"
MOBILE, MASKED_MOBILE = "13912345678", "139****5678"
EMAIL, MASKED_EMAIL = "zhang.san@example.com", "z***@example.com"
LANDLINE, MASKED_LANDLINE = "0571-87654321", "0571-****4321"


def test_the_platform_document_sends_the_pledge_obligation_masked_like_its_facts(
    engine: Engine, staff: Staff
) -> None:
    obligation = f"王小明（身份证 {ID}，手机 {MOBILE}，邮箱 {EMAIL}，电话 {LANDLINE}）补交经营场所证明"
    with Session(engine) as session:
        register_pledge(
            session=session,
            data=PledgeCreate(
                pledgor_kind=PledgorKind.INDIVIDUAL,
                pledgor_name="王小明",
                pledgor_credit_code=None,
                pledgor_email="w@example.com",
                matter="个体工商户登记",
                obligation=obligation,
                deadline=dt.date(2026, 2, 12),
                authority_code="D01",
                legal_basis="《优化营商环境条例》",
            ),
            actor=SUPERVISOR,
            today=dt.date(2026, 1, 5),
            calendar=load_calendar(session=session),
        )
        session.commit()
    sweep(engine=engine, today=dt.date(2026, 2, 28), actor=Actor.system("测试"))
    with Session(engine) as session:
        [document] = session.exec(select(PlatformDocument)).all()
    record = document.payload["record"]
    # The platform gets the subject's name (XDR_MC), so names stay; contact data and the ID number go.
    assert record["SX_CNNR"] == (
        f"王小明（身份证 {MASKED_ID}，手机 {MASKED_MOBILE}，邮箱 {MASKED_EMAIL}，电话 {MASKED_LANDLINE}）"
        "补交经营场所证明"
    )
    assert MASKED_ID in record["facts"]
    assert MASKED_MOBILE in record["facts"]


@pytest.mark.parametrize(
    ("encoded", "masked"),
    [
        ("q=zhang.san%40example.com", f"q={MASKED_EMAIL}"),
        ("q=139+1234+5678", f"q={MASKED_MOBILE}"),
        ("q=139%201234%205678&page=2", f"q={MASKED_MOBILE}&page=2"),
        ("q=%2B86+139-1234-5678", f"q={MASKED_MOBILE}"),
        ("q=0571-87654321", f"q={MASKED_LANDLINE}"),
        ("q=%28010%2912345678", "q=010-****5678"),
        (f"q={ID}", f"q={MASKED_ID}"),
        ("q=%E7%8E%8B%E5%B0%8F%E6%98%8E+13912345678", f"q=%E7%8E%8B%E5%B0%8F%E6%98%8E+{MASKED_MOBILE}"),
        # What a Chinese input method types, and what the staff search still finds: full-width digits,
        # an ideographic space, dots; an address encoded twice; an ID number grouped by dashes.
        ("q=" + "".join(f"%EF%BC%{0x90 + int(d):02X}" for d in "13912345678"), f"q={MASKED_MOBILE}"),
        ("q=139%E3%80%801234%E3%80%805678", f"q={MASKED_MOBILE}"),
        ("q=139.1234.5678", f"q={MASKED_MOBILE}"),
        ("q=zhang.san%2540example.com", f"q={MASKED_EMAIL}"),
        (f"q={ID[:6]}-{ID[6:14]}-{ID[14:]}", f"q={MASKED_ID}"),
    ],
)
def test_scrub_masks_contacts_a_url_carries_encoded(encoded: str, masked: str) -> None:
    assert scrub(f"/staff/complaints?{encoded}") == f"/staff/complaints?{masked}"


def test_scrub_leaves_encoded_text_without_personal_data_as_it_was() -> None:
    for text in (
        "/staff/complaints?q=%E5%B7%A5%E7%A8%8B%E6%AC%BE&page=2",
        "完成率 50%+，编号 GS-2026-000001",
    ):
        assert scrub(text) == text


class _Transport(asyncio.Transport):
    """A connection from 127.0.0.1:5000 that keeps what the server writes."""

    def __init__(self) -> None:
        super().__init__()
        self.closing = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        pass

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


@pytest.fixture
def access_log() -> Iterator[io.StringIO]:
    """uvicorn's access logger writing its lines as uvicorn's default configuration formats them."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(AccessFormatter(LOGGING_CONFIG["formatters"]["access"]["fmt"], use_colors=False))
    logger = logging.getLogger("uvicorn.access")
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield out
    logger.removeHandler(handler)
    logger.setLevel(level)
    logger.propagate = propagate


async def _serve(app: Any, requests: list[tuple[str, dict[str, str]]]) -> None:
    """Each request through the HTTP protocol uvicorn picks for this install, as a server would run it."""
    config = uvicorn.Config(app, log_config=None, access_log=True, lifespan="off")
    config.load()
    for target, headers in requests:
        state = ServerState()
        protocol = config.http_protocol_class(config=config, server_state=state, app_state={})
        protocol.connection_made(_Transport())
        head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": "testserver", **headers}.items())
        protocol.data_received(f"GET {target} HTTP/1.1\r\n{head}Connection: close\r\n\r\n".encode())
        await asyncio.gather(*state.tasks)


def test_the_access_log_line_of_a_search_masks_what_the_query_string_encodes(
    engine: Engine, staff: Staff, access_log: io.StringIO
) -> None:
    app = create_app(engine=engine, clock=Clock.from_settings(), check_schema=False)
    auth = staff.auth("intake")
    terms = [MOBILE, EMAIL, "139 1234 5678", LANDLINE, ID]
    requests = [(f"/api/v1/complaints?{urlencode({'q': term})}", auth) for term in terms]
    requests.append((f"/staff/complaints?{urlencode({'q': EMAIL})}", {}))
    asyncio.run(_serve(app, requests))

    lines = access_log.getvalue().splitlines()
    assert len(lines) == len(requests)
    assert (
        lines[0] == f'INFO:     127.0.0.1:5000 - "GET /api/v1/complaints?q={MASKED_MOBILE} HTTP/1.1" 200 OK'
    )
    for line, masked in zip(
        lines,
        [MASKED_MOBILE, MASKED_EMAIL, MASKED_MOBILE, MASKED_LANDLINE, MASKED_ID, MASKED_EMAIL],
        strict=True,
    ):
        assert f"?q={masked} HTTP/1.1" in line, line
    log = "\n".join(lines)
    for leak in ("zhang.san", "139+1234+5678", "87654321", "1234+5678", ID, MOBILE):
        assert leak not in log


def test_the_filters_leave_text_without_personal_data_as_it_was() -> None:
    # Full-width text is matched folded but only the matches are replaced: an indent and 全角 digits stay.
    assert publication_text("　　经查，该单位于２０２６年１月") == "　　经查，该单位于２０２６年１月"
    assert publication_text("　　联系电话１３９１２３４５６７８。") == f"　　联系电话{MASKED_MOBILE}。"
    # A credit code ending in a letter is no card; ids and trace ids in a log are not phone numbers.
    assert publication_text("统一社会信用代码11330000002482162J") == "统一社会信用代码11330000002482162J"
    run = (
        "run 6f1c2a9e-0813-4cde-9a1b-0813013859ef "
        "traceparent 00-0123456789abcdef0123456789abcdef-0123456789abcdef-01"
    )
    assert scrub(run) == run
    # A masked path keeps its slashes.
    assert scrub("/a/139%201234%205678/b") == f"/a/{MASKED_MOBILE}/b"


def test_the_filters_mask_numbers_beside_words_addresses_and_json_escapes() -> None:
    # A hex token is no phone, but a word beside a number does not hide it.
    assert publication_text("Tel13912345678") == f"Tel{MASKED_MOBILE}"
    assert publication_text("Tel:0571-87654321Fax:0571-87654322") == "Tel:0571-****4321Fax:0571-****4322"
    assert publication_text("0571-87654321ext801") == "0571-****4321ext801"
    assert publication_text("卡号NO6222021234567890123") == "卡号NO***************0123"
    # An address whose local part is a phone number is masked as an address.
    assert publication_text("13912345678@qq.com") == "1***@qq.com"
    assert publication_text("zhang.13912345678@163.com") == "z***@163.com"
    # A JSON log line escapes non-ASCII text: the number after 手机号： is still found.
    line = json.dumps({"msg": f"手机号：{MOBILE}，身份证：{ID}"})
    assert scrub(line) == json.dumps(
        {"msg": f"手机号：{MASKED_MOBILE}，身份证：{MASKED_ID}"}, ensure_ascii=False
    )
