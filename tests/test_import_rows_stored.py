"""The import's rows are made ready to insert by the validating process (the child, for a large CSV) and
written without per-row conversion: what it stores must be, column for column, what the general bulk
path (insert_rows, write_events, outbox_row) stores for the same pledges."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text
from sqlmodel import Session, select

import models.pledges as pledges
from models.audit import CaseEvent, canonical_json, canonical_json_template
from models.bulk import insert_converted, insert_rows, row_converter
from models.calendar import load_calendar
from models.lifecycle import PledgeState, Role
from models.org import Department
from models.outbox import Notification, outbox_row
from models.pledge import Pledge
from models.publication import Fired, write_events
from models.uscc import make_credit_code
from models.workflow import Actor
from tests.conftest import Staff

TODAY = dt.date(2026, 3, 2)
NOW = dt.datetime(2026, 3, 2, 8, 30, 15, 123456, tzinfo=dt.UTC)
ACTOR = Actor(name='导入 "批量"\\员', role=Role.ADMIN, flow_run_id="run-1")


def _raws() -> list[dict[str, Any]]:
    rows = []
    for i in range(9):
        rows.append({
            "pledgor_kind": ("企业", "个人", "政府部门")[i % 3],
            "pledgor_name": f'存储比对 "公司"\\{i}\n',
            "pledgor_credit_code": "" if i % 3 == 1 else make_credit_code(f"91110000{i:09d}"),
            "pledgor_email": f"s{i}@example.com" if i % 2 else "",
            "matter": "建筑工程施工许可证", "obligation": "施工图审查合格书\t附件",
            "deadline": ("2026-05-06", "2026年6月1日", "2099-01-01")[i % 3],
            "authority_code": ("D01", "D02")[i % 2], "legal_basis": "" if i % 4 else "《条例》第十条",
        })  # fmt: skip
    return rows


def _stored(session: Session, table: str, skip: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    order = "case_id" if table != "pledge" else "id"
    result = session.connection().execute(text(f"SELECT * FROM {table} ORDER BY {order}"))
    return [{k: v for k, v in row.items() if k not in skip} for row in result.mappings()]


def test_imported_rows_are_stored_as_the_general_bulk_path_stores_them(
    session: Session, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    del staff
    monkeypatch.setattr(pledges, "utcnow", lambda: NOW)
    monkeypatch.setattr(pledges, "IMPORT_CHUNK", 4)
    report = pledges.import_pledges(
        session=session,
        rows=enumerate(_raws(), start=2),
        actor=ACTOR,
        source_name="s.csv",
        today=TODAY,
        calendar=load_calendar(session=session),
    )
    assert report.imported == 9
    assert not report.errors
    imported = (_stored(session, "pledge"), _stored(session, "case_event", ("id",)),
                _stored(session, "notification", ("id",)))  # fmt: skip
    assert any(p["publication_day"] is None for p in imported[0])  # a deadline beyond the calendar

    # The same pledges again, through insert_rows, write_events and outbox_row, as imports stored them.
    found = session.exec(select(Pledge).order_by(Pledge.id)).all()  # type: ignore[arg-type]
    mails = {m.case_id: m for m in session.exec(select(Notification)).all()}
    offline = {o["number"]: o["access_code"] for o in report.offline_codes}
    departments = {d.id: d.name for d in session.exec(select(Department)).all()}
    records = [p.model_dump() for p in found]
    for table in ("notification", "case_event", "pledge"):
        session.connection().execute(text(f"DELETE FROM {table}"))
    insert_rows(session, Pledge.__table__, records)  # type: ignore[attr-defined]
    days = {p.number: p.publication_day for p in found}
    write_events(
        session=session, kind="pledge", event="register", actor=ACTOR, now=NOW,
        fired=[Fired(p.id, p.number, "", str(PledgeState.REGISTERED)) for p in found if p.id is not None],
        data=lambda f: {"publication_day": pledges._iso(days[f.number]), "source": "import"},
    )  # fmt: skip
    rows = []
    for p in found:
        assert p.id is not None
        code = mails[p.id].context.get("access_code") or offline[p.number]
        context = {
            "pledge_number": p.number, "pledgor_name": p.pledgor_name, "matter": p.matter,
            "obligation": p.obligation, "deadline": p.deadline.isoformat(),
            "publication_day": pledges._iso(p.publication_day), "authority_name": departments[p.authority_id],
            "access_code": code,
        }  # fmt: skip
        rows.append(outbox_row(
            template="pledge_registered", recipient_kind="pledgor", recipient_name=p.pledgor_name,
            recipient_email=p.pledgor_email, key=f"pledge:{p.id}:register:pledge_registered",
            context=context, now=NOW, case_kind="pledge", case_id=p.id, case_number=p.number,
            flow_run_id=ACTOR.flow_run_id,
        ))  # fmt: skip
    insert_rows(session, Notification.__table__, rows)  # type: ignore[attr-defined]
    general = (_stored(session, "pledge"), _stored(session, "case_event", ("id",)),
               _stored(session, "notification", ("id",)))  # fmt: skip
    assert imported == general


def test_events_already_under_new_ids_take_the_general_path(
    session: Session, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An event left under an id a new pledge gets (a reused rowid) is continued, never forked."""
    del staff
    next_id = session.connection().execute(text("SELECT coalesce(max(id), 0) + 1 FROM pledge")).scalar_one()
    write_events(session=session, kind="pledge", event="note", actor=ACTOR, now=NOW,
                 fired=[Fired(next_id, "X-1", "", "registered")])  # fmt: skip
    report = pledges.import_pledges(
        session=session, rows=enumerate(_raws()[:2], start=2), actor=ACTOR, source_name="s.csv",
        today=TODAY, calendar=load_calendar(session=session),
    )  # fmt: skip
    assert report.imported == 2
    events = session.exec(
        select(CaseEvent).where(CaseEvent.case_id == next_id).order_by(CaseEvent.seq)  # type: ignore[arg-type]
    ).all()
    assert [(e.seq, e.event) for e in events] == [(1, "note"), (2, "register")]
    assert events[1].prev_hash == events[0].hash


_PLAIN = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20)


@given(
    shared=st.dictionaries(st.text(max_size=8), _PLAIN, max_size=6),
    case=st.integers(0, 2**40),
    data=st.dictionaries(st.text(max_size=8), st.none() | st.text(max_size=20), max_size=3),
)
def test_a_template_cut_around_its_slots_joins_to_the_canonical_json(
    shared: dict[str, Any], case: int, data: dict[str, Any]
) -> None:
    fields = {**shared, "case": 0, "data": {}}
    slots = tuple(k for k in sorted(fields) if k in ("case", "data"))
    parts = canonical_json_template(fields, slots)
    assert parts is not None
    values = {"case": canonical_json(case), "data": canonical_json(data)}
    joined = parts[0] + b"".join(values[k] + part for k, part in zip(slots, parts[1:], strict=True))
    assert joined == canonical_json({**fields, "case": case, "data": data})


def test_a_template_refuses_what_canonical_json_writes_with_the_standard_library() -> None:
    assert canonical_json_template({"a": 1.5, "case": 0}, ("case",)) is None
    assert canonical_json_template({"a": 2**70, "case": 0}, ("case",)) is None


def test_converted_rows_are_stored_as_insert_rows_stores_them(session: Session, staff: Staff) -> None:
    del staff
    names = ("template", "recipient_kind", "recipient_name", "recipient_email", "context", "status",
             "attempts", "next_attempt_at", "idempotency_key", "created_at", "sent_at")  # fmt: skip
    dicts = [
        outbox_row(template="t", recipient_kind="k", recipient_name=f"名{i}",
                   recipient_email=f"a{i}@b.cn" if i % 2 else None, key=f"k{i}", context={"i": i}, now=NOW)
        for i in range(5)
    ]  # fmt: skip
    table = Notification.__table__  # type: ignore[attr-defined]
    insert_rows(session, table, [{n: d[n] for n in names} for d in dicts])
    expected = _stored(session, "notification", ("id",))
    session.connection().execute(text("DELETE FROM notification"))
    convert = row_converter(table, names, session.connection().dialect.name)
    insert_converted(session, table, names, [convert([d[n] for n in names]) for d in dicts])
    assert _stored(session, "notification", ("id",)) == expected
    with pytest.raises(ValueError, match="needs values"):
        insert_converted(session, table, ("template",), [("t",)])
