"""The bulk import service (models/pledges/importing.py): chunks give the report and rows of a single pass,
the rows stored are those earlier releases stored, and the import key is json.dumps' as it always was."""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session, SQLModel, col, select

import models.pledges.importing as service
from models.audit import CaseEvent
from models.audit_verify import verify_case
from models.calendar import load_calendar
from models.errors import ValidationFailed
from models.lifecycle import PledgeState, Role
from models.outbox import Notification
from models.pledge import Pledge, PledgeCreate, PledgorKind
from models.pledges import register_pledge
from models.pledges.import_rows import import_key, read_import_file
from models.pledges.importing import ImportReport, import_pledges
from models.settings import get_settings
from models.uscc import make_credit_code
from models.workflow import Actor
from tests.conftest import Staff

TODAY = dt.date(2026, 3, 2)
ADMIN = Actor(name="导入", role=Role.ADMIN)
_json_string = json.encoder.encode_basestring


def _key_as_stored_before(v: dict[str, Any]) -> str:
    """How releases up to issue 13 wrote the key of a validated row, by hand (their test compared it with
    json.dumps): the keys already stored in pledge.import_key."""
    code, email = v["pledgor_credit_code"], v["pledgor_email"]
    canonical = (
        f'{{"authority_id": {v["authority_id"]}, "deadline": "{v["deadline"]}", '
        f'"legal_basis": {_json_string(v["legal_basis"])}, "matter": {_json_string(v["matter"])}, '
        f'"obligation": {_json_string(v["obligation"])}, '
        f'"pledgor_credit_code": {"null" if code is None else _json_string(code)}, '
        f'"pledgor_email": {"null" if email is None else _json_string(email)}, '
        f'"pledgor_kind": {_json_string(v["pledgor_kind"])}, '
        f'"pledgor_name": {_json_string(v["pledgor_name"])}}}'
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


_TEXT = st.text(max_size=40)


@given(
    authority=st.integers(min_value=0, max_value=10**12),
    deadline=st.dates(),
    kind=st.sampled_from(list(PledgorKind)),
    name=_TEXT,
    code=st.none() | _TEXT,
    email=st.none() | _TEXT,
    matter=_TEXT,
    obligation=_TEXT,
    basis=_TEXT,
)
def test_the_import_key_is_the_one_earlier_releases_stored(
    authority: int,
    deadline: dt.date,
    kind: PledgorKind,
    name: str,
    code: str | None,
    email: str | None,
    matter: str,
    obligation: str,
    basis: str,
) -> None:
    values = {
        "pledgor_kind": kind, "pledgor_name": name, "pledgor_credit_code": code, "pledgor_email": email,
        "matter": matter, "obligation": obligation, "legal_basis": basis, "deadline": deadline,
        "authority_id": authority,
    }  # fmt: skip
    assert import_key(values) == _key_as_stored_before(values)


def _raw(i: int, **over: Any) -> dict[str, Any]:
    row = {
        "pledgor_kind": "企业", "pledgor_name": f"分块导入公司{i}",
        "pledgor_credit_code": make_credit_code(f"91110000{i:09d}"), "pledgor_email": f"p{i}@example.com",
        "matter": "建筑工程施工许可证", "obligation": "施工图审查合格书", "deadline": "2026-05-06",
        "authority_code": "D01",
    }  # fmt: skip
    return {**row, **over}


def _import(session: Session, raws: list[dict[str, Any]], actor: Actor = ADMIN) -> ImportReport:
    report = import_pledges(
        session=session,
        rows=enumerate(raws, start=2),
        actor=actor,
        source_name="t.csv",
        today=TODAY,
        calendar=load_calendar(session=session),
    )
    session.commit()
    return report


def test_chunks_report_duplicates_errors_and_refusals_as_one_pass(
    session: Session, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    del staff  # departments D00–D02
    monkeypatch.setattr(service, "IMPORT_CHUNK", 2)
    false = _raw(900, pledgor_kind="个人", pledgor_credit_code="", pledgor_name="李四")
    earlier = _import(session, [false])
    session.exec(select(Pledge)).one().state = PledgeState.FALSE_PLEDGE
    session.commit()
    raws = [
        _raw(1), _raw(2), _raw(1),  # the third row repeats the first, in the next chunk
        _raw(3, deadline="2026-13-45"), _raw(4),
        {**false, "obligation": "另一份材料"},  # 李四 made a false pledge: refused by the credit check
        _raw(5, pledgor_email="not-an-address"), _raw(6), _raw(2),
    ]  # fmt: skip
    report = _import(session, raws)
    assert (report.total, report.imported, report.already_imported) == (9, 4, 2)
    # Validation errors in row order, then the credit check's refusals, as before chunks.
    assert [e["row"] for e in report.to_dict()["errors"]] == [5, 8, 7]
    assert earlier.numbers[0] in report.refusals[0].message
    seqs = [int(n.rsplit("-", 1)[1]) for n in report.numbers]
    assert seqs == list(range(seqs[0], seqs[0] + 4))
    again = _import(session, raws)
    assert (again.imported, again.already_imported) == (0, 6)


def test_rows_another_import_stored_after_the_duplicate_check_count_as_already_imported(
    session: Session, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two uploads of one file worked through at once: both find a row new before either stored it. The
    later insert skips it on the unique import key, and it counts as already imported, with no event or
    notice of its own."""
    del staff
    first = _import(session, [_raw(1)])
    monkeypatch.setattr(service, "existing_import_keys", lambda *_: set())  # the check came first
    report = _import(session, [_raw(1), _raw(2)])
    assert (report.imported, report.already_imported) == (1, 1)
    assert len(report.numbers) == 1
    assert report.numbers[0] != first.numbers[0]
    pledges = session.exec(select(Pledge).order_by(col(Pledge.id))).all()
    assert [p.pledgor_name for p in pledges] == ["分块导入公司1", "分块导入公司2"]
    assert len(session.exec(select(CaseEvent)).all()) == 2
    assert len(session.exec(select(Notification)).all()) == 2
    # The number reserved for the skipped row stays unused: numbers are unique, not gap-free.
    assert [p.seq for p in pledges] == [pledges[0].seq, pledges[0].seq + 2]


def test_imported_events_and_mails_match_a_single_registration(
    session: Session, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    del staff
    monkeypatch.setattr(service, "IMPORT_CHUNK", 3)
    report = _import(session, [_raw(i, pledgor_email="" if i % 2 else f"p{i}@example.com") for i in range(7)])
    assert report.imported == 7
    single = register_pledge(
        session=session,
        data=PledgeCreate(
            pledgor_kind=PledgorKind.ENTERPRISE, pledgor_name="单笔登记公司",
            pledgor_credit_code=make_credit_code("91110000000000999"), pledgor_email="one@example.com",
            matter="建筑工程施工许可证", obligation="施工图审查合格书", deadline=dt.date(2026, 5, 6),
            authority_code="D01",
        ),
        actor=ADMIN, today=TODAY, calendar=load_calendar(session=session),
    )  # fmt: skip
    mails = {n.case_number: n for n in session.exec(select(Notification)).all()}
    for number in report.numbers:
        assert list(mails[number].context) == [
            k for k in mails[single.number].context if mails[number].recipient_email or k != "access_code"
        ]
    ids = session.exec(select(Pledge.id).where(col(Pledge.number).in_(report.numbers))).all()
    for pid in ids:
        events = session.exec(
            select(CaseEvent).where(CaseEvent.case_kind == "pledge", CaseEvent.case_id == pid)
        ).all()
        assert [(e.seq, e.event, e.data["source"]) for e in events] == [(1, "register", "import")]
        assert verify_case(events, current_state=str(PledgeState.REGISTERED)) == []


def test_imported_rows_are_stored_as_earlier_releases_stored_them(
    session: Session, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Values taken from the import before issue 13 (forked child, hand-built driver rows) for this row,
    actor and moment: the import key, the event's data and chain hash, the mail's context."""
    del staff
    monkeypatch.setattr(service, "utcnow", lambda: dt.datetime(2026, 3, 2, 8, 30, 15, 123456, tzinfo=dt.UTC))
    monkeypatch.setattr(service, "new_access_codes", lambda n: [("CODE-0000", "digest0")] * n)
    raw = {
        "pledgor_kind": "企业", "pledgor_name": '存储比对 "公司"\\0\n',
        "pledgor_credit_code": make_credit_code("91110000000000000"), "pledgor_email": "",
        "matter": "建筑工程施工许可证", "obligation": "施工图审查合格书\t附件", "deadline": "2026-05-06",
        "authority_code": "D01", "legal_basis": "《条例》第十条",
    }  # fmt: skip
    actor = Actor(name='导入 "批量"\\员', role=Role.ADMIN, flow_run_id="run-1")
    report = _import(session, [raw], actor)
    pledge = session.exec(select(Pledge)).one()
    assert (pledge.number, pledge.access_code_digest) == ("CN-2026-000001", "digest0")
    event = session.exec(select(CaseEvent)).one()
    # The authority's id is in the key and the case id in the hash: the values below are for a fresh
    # database (PostgreSQL's sequences are not rolled back with each test's transaction).
    if (pledge.id, pledge.authority_id) == (1, 2):
        assert pledge.import_key == "953a12c5cff003e8dd803cdfec9aeb6ea721db9b674877f9c0047f4f4c8c3e98"
        assert event.hash == "85080f94bc34e120045bb83fd862399a2fa52e7f07076c3e53272ce58fad0732"
    assert (pledge.state, pledge.version, pledge.stage_seq, pledge.publication_day) == (
        PledgeState.REGISTERED, 1, 0, dt.date(2026, 5, 14),
    )  # fmt: skip
    assert event.data == {"publication_day": "2026-05-14", "source": "import"}
    assert (event.prev_hash, event.actor_name, event.flow_run_id) == ("", actor.name, "run-1")
    mail = session.exec(select(Notification)).one()
    assert mail.context == {
        "pledge_number": "CN-2026-000001", "pledgor_name": '存储比对 "公司"\\0',
        "matter": "建筑工程施工许可证", "obligation": "施工图审查合格书\t附件", "deadline": "2026-05-06",
        "publication_day": "2026-05-14", "authority_name": "市住房和城乡建设局",
    }  # fmt: skip
    assert (mail.status, mail.idempotency_key) == (
        "undeliverable",
        f"pledge:{pledge.id}:register:pledge_registered",
    )
    assert report.offline_codes == [
        {"number": "CN-2026-000001", "pledgor_name": '存储比对 "公司"\\0', "access_code": "CODE-0000"}
    ]


def test_an_implausible_deadline_is_refused_for_its_row_and_the_other_rows_are_imported(
    session: Session, staff: Staff
) -> None:
    """The deadline rule of single registration (check_deadline), row by row: a typing slip is reported
    for its row, naming the deadline and the range, and does not stop the import."""
    del staff
    raws = [_raw(1, deadline="0001-01-01"), _raw(2), _raw(3, deadline="9999-12-31", pledgor_email="x")]
    report = _import(session, raws)
    assert (report.total, report.imported) == (3, 1)
    errors = report.to_dict()["errors"]
    assert [(e["row"], e["column"]) for e in errors] == [(2, "承诺期限"), (4, "电子邮箱"), (4, "承诺期限")]
    assert "承诺期限 0001-01-01 不在合理范围内" in errors[0]["message"]
    assert "2025-03-02 至 2031-03-02" in errors[0]["message"]
    assert "承诺期限 9999-12-31 不在合理范围内" in errors[2]["message"]
    assert session.exec(select(Pledge.pledgor_name)).all() == ["分块导入公司2"]


def test_a_back_registered_row_gets_the_publication_day_a_single_registration_gives(
    session: Session, staff: Staff
) -> None:
    """A deadline already past when the file is imported: published no earlier than N working days after
    the import day, as registration_publication_day gives a single registration, not at the next sweep."""
    del staff
    calendar = load_calendar(session=session)
    past, ahead = dt.date(2026, 2, 2), dt.date(2026, 5, 6)
    report = _import(session, [_raw(1, deadline=past.isoformat()), _raw(2, deadline=ahead.isoformat())])
    assert report.imported == 2
    days = dict(session.exec(select(Pledge.deadline, Pledge.publication_day)).all())
    for deadline in (past, ahead):
        single = register_pledge(
            session=session,
            data=PledgeCreate(
                pledgor_kind=PledgorKind.INDIVIDUAL, pledgor_name=f"单笔登记{deadline}", matter="施工许可",
                obligation="审查合格书", deadline=deadline, authority_code="D01",
            ),
            actor=ADMIN, today=TODAY, calendar=calendar,
        )  # fmt: skip
        assert days[deadline] == single.publication_day
    assert days[past] == calendar.nth_working_day_after(TODAY, get_settings().publication_working_days)
    assert days[ahead] == calendar.nth_working_day_after(ahead, get_settings().publication_working_days)


def test_an_unreadable_file_is_refused(session: Session, staff: Staff) -> None:
    del staff
    with pytest.raises(ValidationFailed, match="UTF-8"):
        import_pledges(
            session=session,
            rows=read_import_file("承诺人名称,承诺期限\n甲,2026-05-06\n".encode("gbk"), "big.csv"),
            actor=ADMIN,
            source_name="big.csv",
            today=TODAY,
            calendar=load_calendar(session=session),
        )


def test_the_collector_is_paused_only_while_an_import_runs(session: Session, staff: Staff) -> None:
    del staff
    states: list[bool] = []
    real = service._Chunk.import_rows

    def watched(self: Any, *args: Any) -> None:
        states.append(gc.isenabled())
        real(self, *args)

    assert gc.isenabled()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(service._Chunk, "import_rows", watched)
        _import(session, [_raw(1)])
        assert gc.isenabled()
        gc.disable()
        try:
            _import(session, [_raw(2)])
            assert not gc.isenabled()  # left as the caller had it
        finally:
            gc.enable()
    assert states == [False, False]


def _csv(rows: int) -> bytes:
    lines = ["承诺人类型,承诺人名称,统一社会信用代码,电子邮箱,承诺事项,承诺内容,承诺期限,受理部门代码"]
    for i in range(rows):
        deadline = "2026-13-45" if i % 7 == 3 else ("2026年5月6日" if i % 2 else "2026-05-06")
        code = make_credit_code(f"91110000{i:09d}")
        lines.append(f"企业,命令行导入公司{i},{code},p{i}@example.com,施工许可,审查合格书,{deadline},D01")
    lines.append(lines[1])  # a repeated row: already imported, within the file
    return ("\ufeff" + "\n".join(lines) + "\n").encode()


def test_the_cli_import_reports_progress_and_stores_the_pledges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from cli.main import app
    from models.accounts import import_departments
    from models.db import get_engine
    from models.settings import get_settings
    from tests.conftest import DEPARTMENTS

    monkeypatch.setenv("SHOUXIN_TODAY", TODAY.isoformat())
    monkeypatch.setattr(service, "IMPORT_CHUNK", 7)
    get_settings.cache_clear()
    get_engine.cache_clear()
    seen: list[int] = []
    real = service.import_pledges

    def watched(**kwargs: Any) -> ImportReport:
        bar = kwargs.pop("after_chunk")
        return real(**kwargs, after_chunk=lambda so_far: (seen.append(so_far.total), bar(so_far)))

    monkeypatch.setattr("cli.pledges_cmd.import_pledges", watched)
    try:
        SQLModel.metadata.create_all(get_engine())
        with Session(get_engine()) as session:
            import_departments(session=session, items=DEPARTMENTS)
            session.commit()
        path = tmp_path / "big.csv"
        path.write_bytes(_csv(40))
        result = CliRunner().invoke(app, ["pledges", "import", str(path)])
        assert result.exit_code == 1, result.output  # the file has bad rows, reported line by line
        assert "承诺期限" in result.output
        with Session(get_engine()) as session:
            imported = len(session.exec(select(Pledge)).all())
        assert imported == 40 - len([i for i in range(40) if i % 7 == 3])
        assert seen == [7, 14, 21, 28, 35, 41]
    finally:
        get_engine().dispose()
        get_settings.cache_clear()
        get_engine.cache_clear()
