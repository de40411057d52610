"""The hashed fields of an audit event and its hash, pinned to digests computed before ``hashed_fields``
read its columns through getters and cached the text of a batch's shared ``at``: every chain ever written
must verify the same way."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import pytest

from models.audit import CaseEvent, event_hash, hashed_fields
from models.lifecycle import Role
from models.workflow import Actor, event_row

_NY = zoneinfo.ZoneInfo("America/New_York")
_AT = dt.datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def _row(
    at: dt.datetime, data: dict[Any, Any], actor: Actor, note: str | None = "逾期\n未履行"
) -> dict[str, Any]:
    return event_row(
        kind="pledge", case_id=7, case_number="N-7", seq=2, prev_hash="ab", event="publish",
        from_state="overdue", to_state="published", actor=actor, at=at, note=note, data=data,
        idempotency_key=None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("at", "data", "actor", "expected"),
    [
        (_AT, {"record_number": "XY-1"}, Actor.system(),
         "63936611cc460677716ad8f3b5ff07b8e66cc022abaead3c9b2395b0ff601675"),
        (_AT, {"x": 1.5e-7, "n": [1, (2, 3)], "b": {"z": None, "a": True}},
         Actor(name="张三", role=Role.HANDLER, id=5, flow_run_id="run-1"),
         "0a8e33e571d9f4669c98cbac12798047089ad6d6182087632e24975640b5ba17"),
        # Equal under == (same tzinfo), one hour apart: each keeps its own text.
        (dt.datetime(2025, 11, 2, 1, 30, tzinfo=_NY), {}, Actor.system(),
         "bd40d3e14e0a214e25c338789c4d429f8357f5cd6d9e3e78f28d31536050343a"),
        (dt.datetime(2025, 11, 2, 1, 30, fold=1, tzinfo=_NY), {}, Actor.system(),
         "395242e94c2a1352ee5912b76090ceddd0f1cff048e930e787aa3ac3be010c55"),
    ],
)  # fmt: skip
def test_event_hash_is_unchanged(at: dt.datetime, data: dict[Any, Any], actor: Actor, expected: str) -> None:
    row = _row(at, data, actor)
    assert row["hash"] == expected
    assert event_hash("ab", hashed_fields(CaseEvent(**row))) == expected
    assert _row(at, data, actor)["hash"] == expected  # the cached text of the same datetime


def test_hashed_fields_from_a_row_and_from_its_values_agree() -> None:
    row = _row(_AT, {"d": "2026-03-02"}, Actor.system(), note=None)
    fields = hashed_fields(row)
    assert fields == hashed_fields(CaseEvent(**row))
    assert list(fields) == [
        "kind", "case", "seq", "event", "from", "to", "actor", "actor_name", "role", "at", "note", "data",
        "run",
    ]  # fmt: skip
    assert fields["at"] == "2026-03-02T01:30:15.123456+00:00"
