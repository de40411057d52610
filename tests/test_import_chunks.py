"""The bulk import worked through in chunks gives the report and rows of a single pass; the hand-written
import key is byte for byte the json.dumps one earlier releases stored."""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import json
import multiprocessing
import multiprocessing.process
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session, SQLModel, col, select

import models.pledge_access as pledges_access
import models.pledges as pledges
from models.audit import CaseEvent
from models.audit_verify import verify_case
from models.calendar import load_calendar
from models.errors import ValidationFailed
from models.lifecycle import PledgeState, Role
from models.org import Department
from models.outbox import Notification
from models.pledge import Pledge, PledgeCreate, PledgorKind
from models.pledge_access import verify
from models.pledges import _import_key, import_pledges, register_pledge
from models.uscc import make_credit_code
from models.workflow import Actor
from tests.conftest import Staff

TODAY = dt.date(2026, 3, 2)
ADMIN = Actor(name="导入", role=Role.ADMIN)


def _json_key(values: dict[str, Any]) -> str:
    canonical = json.dumps(values, sort_keys=True, ensure_ascii=False, default=str)
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
def test_import_key_is_json_dumps_of_the_row(
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
    assert _import_key(values) == _json_key(values)


def test_import_key_of_unexpected_types_takes_json_dumps() -> None:
    values = {
        "pledgor_kind": PledgorKind.ENTERPRISE, "pledgor_name": "甲", "pledgor_credit_code": None,
        "pledgor_email": None, "matter": "事", "obligation": "料", "legal_basis": "",
        "deadline": dt.datetime(2026, 4, 30, 8, 0), "authority_id": True,
    }  # fmt: skip
    assert _import_key(values) == _json_key(values)


def _raw(i: int, **over: Any) -> dict[str, Any]:
    row = {
        "pledgor_kind": "企业", "pledgor_name": f"分块导入公司{i}",
        "pledgor_credit_code": make_credit_code(f"91110000{i:09d}"), "pledgor_email": f"p{i}@example.com",
        "matter": "建筑工程施工许可证", "obligation": "施工图审查合格书", "deadline": "2026-05-06",
        "authority_code": "D01",
    }  # fmt: skip
    return {**row, **over}


def _import(session: Session, raws: list[dict[str, Any]]) -> pledges.ImportReport:
    return import_pledges(
        session=session,
        rows=enumerate(raws, start=2),
        actor=ADMIN,
        source_name="t.csv",
        today=TODAY,
        calendar=load_calendar(session=session),
    )


def test_chunks_report_duplicates_errors_and_refusals_as_one_pass(
    session: Session, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    del staff  # departments D00–D02
    monkeypatch.setattr(pledges, "IMPORT_CHUNK", 2)
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
    assert [e.row for e in report.errors] == [5, 8, 7]
    assert earlier.numbers[0] in report.errors[-1].message
    seqs = [int(n.rsplit("-", 1)[1]) for n in report.numbers]
    assert seqs == list(range(seqs[0], seqs[0] + 4))
    again = _import(session, raws)
    assert (again.imported, again.already_imported) == (0, 6)


def test_imported_events_and_mails_match_a_single_registration(
    session: Session, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    del staff
    monkeypatch.setattr(pledges, "IMPORT_CHUNK", 3)
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


def _csv(rows: int) -> bytes:
    lines = ["承诺人类型,承诺人名称,统一社会信用代码,电子邮箱,承诺事项,承诺内容,承诺期限,受理部门代码"]
    for i in range(rows):
        deadline = "2026-13-45" if i % 7 == 3 else ("2026年5月6日" if i % 2 else "2026-05-06")
        code = make_credit_code(f"91110000{i:09d}")
        lines.append(f"企业,子进程导入公司{i},{code},p{i}@example.com,施工许可,审查合格书,{deadline},D01")
    lines.append(lines[1])  # a repeated row: already imported, within the file
    return ("\ufeff" + "\n".join(lines) + "\n").encode()


def _import_file(session: Session, content: bytes) -> pledges.ImportReport:
    return import_pledges(
        session=session,
        rows=pledges.read_import_file(content, "big.csv"),
        actor=ADMIN,
        source_name="big.csv",
        today=TODAY,
        calendar=load_calendar(session=session),
    )


def _expected(session: Session, content: bytes) -> tuple[int, list[pledges.RowError], int]:
    authorities = {d.code: d.id for d in session.exec(select(Department)).all() if d.id is not None}
    batches = list(pledges._validated(pledges.read_import_file(content, "big.csv"), authorities, None, 0))
    valid = {r.key for b in batches for r in b.rows}
    return batches[-1].total, [e for b in batches for e in b.errors], len(valid)


@pytest.fixture
def forking(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.setattr(pledges, "FORK_MIN_BYTES", 0)
    monkeypatch.setattr(pledges, "IMPORT_CHUNK", 7)
    monkeypatch.setattr(pledges, "_FIRST_BATCH", 3)
    children: list[int] = []
    real = pledges._validated_in_child

    def counted(*args: Any) -> Iterator[pledges._Batch]:
        children.append(1)
        return real(*args)

    monkeypatch.setattr(pledges, "_validated_in_child", counted)
    yield monkeypatch
    assert children == [1]  # the file was validated by a child process


def test_a_file_validated_in_a_child_process_imports_as_in_this_one(
    session: Session, staff: Staff, forking: pytest.MonkeyPatch
) -> None:
    del staff, forking
    content = _csv(40)
    total, errors, valid = _expected(session, content)
    report = _import_file(session, content)
    assert (report.total, report.errors, report.imported, report.already_imported) == (
        total, errors, valid, 1
    )  # fmt: skip
    assert len(session.exec(select(Pledge)).all()) == valid
    mails = session.exec(select(Notification)).all()
    digests = {p.number: p.access_code_digest for p in session.exec(select(Pledge)).all()}
    assert all(verify(m.context["access_code"], digests[m.case_number]) for m in mails)


def test_a_child_that_stops_half_way_leaves_the_rest_to_this_process(
    session: Session, staff: Staff, forking: pytest.MonkeyPatch
) -> None:
    del staff
    parent, real = os.getpid(), pledges._validate_row

    def failing_in_child(number: int, *args: Any) -> Any:
        if os.getpid() != parent and number > 20:
            os._exit(3)  # the child dies without a word, as when killed
        return real(number, *args)

    forking.setattr(pledges, "_validate_row", failing_in_child)
    content = _csv(40)
    total, errors, valid = _expected(session, content)
    report = _import_file(session, content)
    assert (report.total, report.errors, report.imported) == (total, errors, valid)
    seqs = sorted(int(n.rsplit("-", 1)[1]) for n in report.numbers)
    assert seqs == list(range(seqs[0], seqs[0] + valid))


def test_an_unreadable_large_file_is_refused_as_before(
    session: Session, staff: Staff, forking: pytest.MonkeyPatch
) -> None:
    del staff, forking
    with pytest.raises(ValidationFailed, match="UTF-8"):
        _import_file(session, "承诺人名称,承诺期限\n甲,2026-05-06\n".encode("gbk"))


def test_the_collector_is_paused_only_while_an_import_runs(session: Session, staff: Staff) -> None:
    del staff
    states: list[bool] = []
    real = pledges._import_chunk

    def watched(*args: Any) -> None:
        states.append(gc.isenabled())
        real(*args)

    assert gc.isenabled()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pledges, "_import_chunk", watched)
        _import(session, [_raw(1)])
        assert gc.isenabled()
        gc.disable()
        try:
            _import(session, [_raw(2)])
            assert not gc.isenabled()  # left as the caller had it
        finally:
            gc.enable()
    assert states == [False, False]


def test_a_child_that_goes_quiet_is_ended_and_the_rest_validated_here(
    session: Session, staff: Staff, forking: pytest.MonkeyPatch
) -> None:
    del staff
    parent, real = os.getpid(), pledges._validate_row

    def hanging_in_child(number: int, *args: Any) -> Any:
        if os.getpid() != parent and number > 12:
            time.sleep(3600)  # as if stuck on a lock taken by another thread before the fork
        return real(number, *args)

    forking.setattr(pledges, "_validate_row", hanging_in_child)
    forking.setattr(pledges, "_CHILD_SILENCE_SECONDS", 0.5)
    content = _csv(30)
    total, errors, valid = _expected(session, content)
    report = _import_file(session, content)
    assert (report.total, report.errors, report.imported) == (total, errors, valid)


def test_without_a_child_process_the_file_is_validated_here(
    session: Session, staff: Staff, forking: pytest.MonkeyPatch
) -> None:
    del staff

    def refused(self: object) -> None:
        raise AssertionError("daemonic processes are not allowed to have children")

    forking.setattr(multiprocessing.process.BaseProcess, "start", refused)
    content = _csv(20)
    total, errors, valid = _expected(session, content)
    report = _import_file(session, content)
    assert (report.total, report.errors, report.imported) == (total, errors, valid)


def test_the_cli_import_hands_a_large_csv_to_the_child_and_reports_progress(
    tmp_path: Path, forking: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from cli.main import app
    from models.accounts import import_departments
    from models.db import get_engine
    from models.settings import get_settings
    from tests.conftest import DEPARTMENTS

    forking.setenv("SHOUXIN_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    forking.setenv("SHOUXIN_TODAY", TODAY.isoformat())
    get_settings.cache_clear()
    get_engine.cache_clear()
    seen: list[int] = []
    real = pledges.import_pledges

    def watched(**kwargs: Any) -> pledges.ImportReport:
        progress = kwargs.pop("progress")
        return real(**kwargs, progress=lambda done: (seen.append(done), progress(done)))

    forking.setattr("cli.pledges_cmd.import_pledges", watched)
    try:
        SQLModel.metadata.create_all(get_engine())
        with Session(get_engine()) as session:
            import_departments(session=session, items=DEPARTMENTS)
            session.commit()
        path = tmp_path / "big.csv"
        path.write_bytes(_csv(40))
        result = CliRunner().invoke(app, ["pledges", "import", str(path)])
        assert result.exit_code == 1, result.output  # the file has bad rows, reported line by line
        with Session(get_engine()) as session:
            imported = len(session.exec(select(Pledge)).all())
        assert imported == 40 - len([i for i in range(40) if i % 7 == 3])
        assert seen == sorted(seen)
        assert seen[-1] == 41
    finally:
        get_engine().dispose()
        get_settings.cache_clear()
        get_engine.cache_clear()


def test_the_child_calls_no_openssl(
    session: Session, staff: Staff, forking: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # OpenSSL's method store is guarded by locks another thread may hold at the fork: the import keys and
    # the access codes' HMACs in the child come from CPython's own SHA-256.
    del staff
    parent, marks = os.getpid(), tmp_path / "openssl-in-child"

    def watched(real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            if os.getpid() != parent:
                with marks.open("a") as out:
                    out.write(f"{real.__name__}\n")
            return real(*args, **kwargs)

        return call

    for name in ("sha256", "new"):
        forking.setattr(hashlib, name, watched(getattr(hashlib, name)))
    forking.setattr(pledges_access.hmac, "digest", watched(pledges_access.hmac.digest))
    forking.setattr(pledges_access.hmac, "new", watched(pledges_access.hmac.new))
    content = _csv(40)
    total, errors, valid = _expected(session, content)
    report = _import_file(session, content)
    assert (report.total, report.errors, report.imported) == (total, errors, valid)
    assert not marks.exists()
    digests = {p.number: p.access_code_digest for p in session.exec(select(Pledge)).all()}
    mails = session.exec(select(Notification)).all()
    assert len(mails) == valid
    assert all(verify(m.context["access_code"], digests[m.case_number]) for m in mails)


@pytest.mark.parametrize("secret", ["short", "k" * 64, "长密钥" * 40])
def test_the_lock_free_access_codes_have_the_hmac_digests(
    monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    # Keys shorter than, equal to and longer than SHA-256's block are padded or hashed as RFC 2104 says.
    monkeypatch.setenv("SHOUXIN_SECRET_KEY", secret)
    pledges_access.get_settings.cache_clear()
    try:
        assert pledges._LOCK_FREE_SHA256 is not None
        codes = pledges_access.access_code_maker(pledges._LOCK_FREE_SHA256)(50)
        assert len({code for code, _ in codes}) == 50
        for code, digest in codes:
            assert digest == pledges_access.digest(code)
            assert verify(code, digest)
    finally:
        monkeypatch.undo()
        pledges_access.get_settings.cache_clear()


def test_the_import_key_is_the_same_with_either_sha256() -> None:
    values = {
        "pledgor_kind": PledgorKind.ENTERPRISE, "pledgor_name": "甲公司", "pledgor_credit_code": None,
        "pledgor_email": None, "matter": "许可", "obligation": "承诺", "legal_basis": "", "authority_id": 1,
        "deadline": dt.date(2026, 5, 6),
    }  # fmt: skip
    assert _import_key(values) == _json_key(values)


def test_reading_ahead_hands_over_batches_errors_and_stops_the_source() -> None:
    # The child's batches are received by a thread: in order, its errors raised in the importing thread,
    # and a caller that stops early has the source closed (for the child: ended) before it goes on.
    closed: list[str] = []

    def source(fail: bool) -> Iterator[pledges._Batch]:
        try:
            for i in range(5):
                if fail and i == 2:
                    raise ValidationFailed("坏文件")
                yield pledges._Batch(i, [], [])
        finally:
            closed.append("fail" if fail else "ok")

    assert [b.total for b in pledges._read_ahead(source(False))] == [0, 1, 2, 3, 4]  # type: ignore[arg-type]
    failing = pledges._read_ahead(source(True))  # type: ignore[arg-type]
    assert [next(failing).total, next(failing).total] == [0, 1]
    with pytest.raises(ValidationFailed, match="坏文件"):
        next(failing)
    ahead = pledges._read_ahead(source(False))  # type: ignore[arg-type]
    assert next(ahead).total == 0
    ahead.close()  # type: ignore[attr-defined]
    assert closed == ["ok", "fail", "ok"]
    assert not [t for t in threading.enumerate() if t.name == "import-read-ahead"]


def test_a_failing_chunk_ends_the_child_and_the_receiving_thread(
    session: Session, staff: Staff, forking: pytest.MonkeyPatch
) -> None:
    # Even while the traceback (held by pytest.raises here) still refers to the batches.
    del staff
    real, calls = pledges._import_chunk, []

    def failing(*args: Any) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("磁盘已满")
        real(*args)

    forking.setattr(pledges, "_import_chunk", failing)
    with pytest.raises(RuntimeError, match="磁盘已满") as raised:
        _import_file(session, _csv(40))
    assert raised.traceback
    assert multiprocessing.active_children() == []
    assert not [t for t in threading.enumerate() if t.name == "import-read-ahead"]
    session.rollback()


def _parse_date_general(value: Any) -> dt.date:
    # _parse_date before its YYYY-MM-DD shortcut.
    text = pledges._text(value)
    match = pledges._CN_DATE.match(text)
    if match:
        return dt.date(int(match[1]), int(match[2]), int(match[3]))
    return dt.date.fromisoformat(text)


@given(
    st.dates().map(dt.date.isoformat)
    | st.from_regex(r"\A[0-9٠-٩０-９]{4}-[0-9٠-٩]{2}-[0-9٠-٩x]{2}\Z")
    | st.text(alphabet="0123456789-年月日/. W", max_size=12)
)
def test_the_iso_shortcut_reads_dates_as_the_general_way(text: str) -> None:
    try:
        expected: Any = _parse_date_general(text)
    except (ValueError, TypeError) as exc:
        expected = type(exc)
    try:
        got: Any = pledges._parse_date(text)
    except (ValueError, TypeError) as exc:
        got = type(exc)
    assert got == expected
