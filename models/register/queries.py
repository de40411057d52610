"""The public register's queries: the one filter behind its pages, their count and the export, keyset
pages, a record by number, the credit profile, the subject checks other services ask (a current breach, a
false pledge), the count shown."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_
from sqlmodel import Session, col, select

from models.breach import SEVERITY_LABELS, PublishedBreach, Severity
from models.breach_record import department_names, public_fields, published_class
from models.clock import chinese_date
from models.errors import NotFound, ValidationFailed
from models.lifecycle import PLEDGE, PledgeState
from models.org import Department
from models.pledge import PLEDGOR_KIND_LABELS, Pledge, PledgorKind
from models.register.names import name_key_sql, typed_keys
from models.register.states import shown_on
from models.uscc import validate_credit_code


@dataclass(frozen=True)
class RegisterQuery:
    name: str | None = None  # prefix of XDR_MC, compared folded (models/register/names.py)
    credit_code: str | None = None
    department: str | None = None  # department code
    subject_kind: str | None = None  # PledgorKind value (XDR_LB: 企业 / 个人 / 政府部门)
    severity: str | None = None  # a published class: general (一般) / serious (严重)
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    after: str | None = None  # keyset cursor "<JDRQ>:<id>" from the previous page
    limit: int = 20


# What the register may be narrowed by, with the words a person picks them by.
SUBJECT_KINDS = {str(kind): label for kind, label in PLEDGOR_KIND_LABELS.items()}
SHOWN_CLASSES = {str(s): SEVERITY_LABELS[s] for s in Severity if published_class(s)}


def _cursor(record: PublishedBreach) -> str:
    return f"{record.decision_date.isoformat()}:{record.id}"


# The largest id the register's INTEGER key holds on PostgreSQL: a larger one in a cursor was never
# handed out, and the database would refuse it with an error of its own instead of this message.
_MAX_ID = 2**31 - 1


def _parse_cursor(cursor: str) -> tuple[dt.date, int]:
    try:
        day, ident = cursor.split(":", 1)
        parsed = dt.date.fromisoformat(day), int(ident)
    except ValueError:
        parsed = None
    if parsed is None or not 0 <= parsed[1] <= _MAX_ID:
        shown = cursor if cursor.isprintable() else repr(cursor)
        raise ValidationFailed(f"分页游标“{shown}”无效；请使用上一页返回的 next_cursor (invalid cursor)")
    return parsed


def _choice(value: str, choices: dict[str, str], what: str, field: str) -> str:
    if value not in choices:
        allowed = "、".join(f"{code}（{label}）" for code, label in choices.items())
        shown = value if value.isprintable() else repr(value)
        raise ValidationFailed(
            f"{what}“{shown}”不存在；可选：{allowed} (unknown {field} {value!r})", field=field
        )
    return value


def _department_id(session: Session, code: str) -> int:
    """The department a code names, as written, else the one department whose code it is in another case
    (codes may hold lower-case letters; a reader may type fgw for FGW). An unknown code is refused: an
    empty list would read as "this department has no records"."""
    typed = code.strip()
    dept = session.exec(select(Department.id).where(Department.code == typed)).first()
    if dept is None:
        alike = session.exec(select(Department.id).where(func.upper(Department.code) == typed.upper())).all()
        dept = alike[0] if len(alike) == 1 else None
    if dept is None:
        shown = code if code.isprintable() else repr(code)
        raise ValidationFailed(
            f"认定部门代码“{shown}”不存在；请从认定部门列表中选择 (unknown department {code!r})",
            field="department",
        )
    return dept


def _name_clause(name: str) -> ColumnElement[bool]:
    """The records whose name starts with ``name``, both folded (names.py): a half-open range on the
    indexed expression, not LIKE (SQLite cannot use an index for a LIKE with an ESCAPE clause, and a rare
    prefix then scanned the whole register)."""
    stored = name_key_sql(col(PublishedBreach.subject_name))
    # Individuals are shown masked (张*三); matching their real name by prefix would let anyone unmask it
    # one character at a time, so for them only the full name matches.
    individual = col(PublishedBreach.subject_kind) == PledgorKind.INDIVIDUAL.value
    return or_(
        *(
            ((stored >= key) & (stored < key + "\U0010ffff") & ~individual) | (individual & (stored == key))
            for key in sorted(typed_keys(name))
        )
    )


def register_select(*, session: Session, query: RegisterQuery, today: dt.date) -> Any:
    """The records shown on ``today`` that ``query`` asks for, unordered and whole: the one filter behind
    the register's pages, their count and the export, so the three cannot disagree. A value that names
    nothing (a department, a subject type or a class) is refused rather than answered with no records."""
    stmt = select(PublishedBreach).where(shown_on(today))
    if query.name and typed_keys(query.name):
        stmt = stmt.where(_name_clause(query.name))
    if query.credit_code:
        stmt = stmt.where(PublishedBreach.subject_credit_code == validate_credit_code(query.credit_code))
    if query.department:
        stmt = stmt.where(PublishedBreach.department_id == _department_id(session, query.department))
    if query.subject_kind:
        kind = _choice(query.subject_kind, SUBJECT_KINDS, "主体类型", "subject_kind")
        stmt = stmt.where(col(PublishedBreach.subject_kind) == kind)
    if query.severity:
        stmt = stmt.where(
            col(PublishedBreach.severity) == _choice(query.severity, SHOWN_CLASSES, "失信程度", "severity")
        )
    if query.date_from and query.date_to and query.date_from > query.date_to:
        raise ValidationFailed(
            f"决定日期起（{chinese_date(query.date_from)}）晚于止（{chinese_date(query.date_to)}）；"
            "请核对日期范围 "
            f"(date_from {query.date_from.isoformat()} after date_to {query.date_to.isoformat()})",
            field="date_from",
        )
    if query.date_from:
        stmt = stmt.where(col(PublishedBreach.decision_date) >= query.date_from)
    if query.date_to:
        stmt = stmt.where(col(PublishedBreach.decision_date) <= query.date_to)
    return stmt


def newest_first(stmt: Any) -> Any:
    return stmt.order_by(col(PublishedBreach.decision_date).desc(), col(PublishedBreach.id).desc())


# ``today`` below is the caller's day (the request's clock): a record past its GSJZQ is no longer shown
# even if the expire flow has not run yet (models/register/states.py, ``shown_on``).


def list_register(
    *, session: Session, query: RegisterQuery, today: dt.date
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the records shown on ``today``, newest decision first; keyset on (JDRQ, id)."""
    stmt = register_select(session=session, query=query, today=today)
    if query.after:
        day, ident = _parse_cursor(query.after)
        # The leading `<=` is implied by the OR but is what an index can seek on: without it PostgreSQL
        # walked the decision-date index from the newest record and filtered, so page 2,000 cost ~100 ms.
        stmt = stmt.where(
            col(PublishedBreach.decision_date) <= day,
            (col(PublishedBreach.decision_date) < day) | (col(PublishedBreach.id) < ident),
        )
    limit = max(1, min(query.limit, 100))
    rows = session.exec(newest_first(stmt).limit(limit + 1)).all()
    departments = department_names(session)
    page = [public_fields(r, departments) for r in rows[:limit]]
    return page, (_cursor(rows[limit - 1]) if len(rows) > limit else None)


def count_register(*, session: Session, query: RegisterQuery, today: dt.date) -> int:
    """How many records ``query`` finds on ``today``, all pages together."""
    found = register_select(session=session, query=query, today=today).subquery()
    return int(session.exec(select(func.count()).select_from(found)).one())


def breach_by_number(
    *, session: Session, number: str, shown_only: bool = True, today: dt.date, with_minor: bool = False
) -> PublishedBreach:
    """The record by number, if shown on ``today`` (``shown_only``); ``with_minor`` also finds one of
    class 轻微, kept but not published, for its subject's objection or repair (``shown_on``)."""
    stmt = select(PublishedBreach).where(PublishedBreach.number == number)
    if shown_only:
        stmt = stmt.where(shown_on(today, with_minor=with_minor))
    record = session.exec(stmt).first()
    if record is None:
        raise NotFound(f"公示记录 {number} 不存在或已不在公示期内；请核对编号 (no record {number})")
    return record


def get_public_record(*, session: Session, number: str, today: dt.date) -> dict[str, Any]:
    record = breach_by_number(session=session, number=number, today=today)
    return public_fields(record, department_names(session))


# Pledge outcomes that are public: kept (守信, 承诺事项闭合), and published as a breach while that record
# is shown. An open or overdue-but-not-yet-published pledge is between the pledgor and the authority until
# publication day (RULEBOOK, pledges §4: a pledge fulfilled before that day is never published), and a
# withdrawn, repaired or expired record must not live on here.
def _public_pledge_clause(today: dt.date) -> Any:
    fulfilled = col(Pledge.state) == PledgeState.FULFILLED
    shown = (col(Pledge.state) == PledgeState.PUBLISHED) & shown_on(today)
    return fulfilled | shown


def credit_profile(*, session: Session, credit_code: str, today: dt.date) -> dict[str, Any]:
    """The subject's current published records and its public pledge outcomes (counts and the list)."""
    code = validate_credit_code(credit_code)
    departments = department_names(session)
    records = session.exec(
        select(PublishedBreach)
        .where(PublishedBreach.subject_credit_code == code, shown_on(today))
        .order_by(col(PublishedBreach.decision_date).desc())
    ).all()
    rows = session.exec(
        select(Pledge, PublishedBreach)
        .outerjoin(PublishedBreach, col(PublishedBreach.pledge_id) == Pledge.id)
        .where(Pledge.pledgor_credit_code == code, _public_pledge_clause(today))
        .order_by(col(Pledge.deadline).desc())
    ).all()
    pledges = [p for p, _ in rows]
    counts: dict[str, int] = {}
    for p in pledges:
        counts[str(p.state)] = counts.get(str(p.state), 0) + 1
    return {
        "credit_code": code,
        "records": [public_fields(r, departments) for r in records],
        "pledges": {
            "total": len(pledges),
            "by_state": counts,
            "items": [
                {
                    "number": p.number,
                    "matter": _pledge_matter(p, record, departments),
                    "deadline": p.deadline.isoformat(),
                    "state": str(p.state),
                    "state_label": PLEDGE.state(p.state).label,
                }
                for p, record in rows
            ],
        },
    }


def _pledge_matter(
    pledge: Pledge, record: PublishedBreach | None, departments: dict[int, tuple[str, str]]
) -> str:
    """A published pledge's matter as its record states it: an upheld objection may have corrected the
    record's matter, and the profile must not show the old one beside it (the record's own list entry)."""
    if pledge.state == PledgeState.PUBLISHED and record is not None:
        return str(public_fields(record, departments)["matter"])
    return pledge.matter


# RULEBOOK pledges §2: "serious bad credit or a past false pledge" bars the pledge route "until repaired".
# The two conditions below are the whole rule: the single check here and the import's set-based one
# (models/pledges/importing.py) both filter by them, so the two cannot drift apart.


def bars_pledge_route(today: dt.date) -> ColumnElement[bool]:
    """SQL condition on a record: it bars its subject from the pledge route on ``today``, being shown and
    of class 严重. A 一般 or 轻微 record does not: every overdue pledge is published as 一般, and one missed
    deadline must not shut a subject out of the pledge route for the year it is shown."""
    return and_(shown_on(today), col(PublishedBreach.severity) == Severity.SERIOUS)


def false_pledge_bars(today: dt.date) -> ColumnElement[bool]:
    """SQL condition on a pledge: a false pledge that still bars its pledgor on ``today``. Its finding is
    a 严重 record (models/pledges/review.py), and the bar lifts with that record: repaired, withdrawn on an
    objection, or past its period, i.e. no longer shown. One corrected to 轻微 is not published but still
    in force, so it still bars. A false pledge confirmed before findings were recorded has no record, so
    nothing can lift it: it stays barred, as it always was."""
    in_force = shown_on(today, with_minor=True)
    lifted = exists().where(col(PublishedBreach.pledge_id) == col(Pledge.id), ~in_force)
    return and_(col(Pledge.state) == PledgeState.FALSE_PLEDGE, ~lifted)


def has_current_breach(
    *, session: Session, credit_code: str | None, name: str | None, today: dt.date
) -> str | None:
    """The number of a record of the subject that bars the pledge route on ``today`` (``bars_pledge_route``:
    shown and 严重), if any (by code, or exact name without)."""
    stmt = select(PublishedBreach.number).where(bars_pledge_route(today))
    if credit_code:
        stmt = stmt.where(PublishedBreach.subject_credit_code == credit_code)
    elif name:
        stmt = stmt.where(
            PublishedBreach.subject_name == name, col(PublishedBreach.subject_credit_code).is_(None)
        )
    else:
        return None
    # Newest first: with several shown records the refusal names the latest one, the same on every run and
    # backend (without an ORDER BY, PostgreSQL returns whichever row its heap or index scan meets first).
    return session.exec(stmt.order_by(col(PublishedBreach.id).desc()).limit(1)).first()


def false_pledge_of(
    *, session: Session, credit_code: str | None, name: str | None, today: dt.date
) -> str | None:
    """The number of the subject's newest false pledge that still bars it on ``today``
    (``false_pledge_bars``), if any."""
    stmt = select(Pledge.id, Pledge.number).where(false_pledge_bars(today))
    if credit_code:
        stmt = stmt.where(Pledge.pledgor_credit_code == credit_code)
    elif name:
        stmt = stmt.where(Pledge.pledgor_name == name, col(Pledge.pledgor_credit_code).is_(None))
    else:
        return None
    # The newest, as has_current_breach, so the same pledge is named on every run and backend; picked here
    # rather than by ORDER BY id LIMIT 1, with which SQLite walks every pledge without a credit code (the
    # id-ordered credit-code index) instead of the few false pledges. A subject has only a handful of these.
    found = session.exec(stmt).all()
    return max(found)[1] if found else None


def count_shown(*, session: Session, today: dt.date) -> int:
    stmt = select(func.count()).select_from(PublishedBreach).where(shown_on(today))
    return int(session.exec(stmt).one())
