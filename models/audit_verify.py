"""Verify the hash-chained audit trail: report every edited, deleted or reordered ``case_event`` row.

Each case's events form a chain: row ``seq`` n stores ``prev_hash`` = the hash of row n-1 and ``hash`` =
SHA-256 over that prev_hash and the row's own fields (``models.audit.event_hash``). Walking a case's rows in
seq order and recomputing each hash finds:

- an **edited** row: its fields no longer hash to the stored hash;
- a **deleted** row: a gap in seq, or a prev_hash that matches no row of the case (the row it pointed to is
  gone); a deleted *last* row leaves no gap, so the case's current state is also compared with the last
  event's ``to_state``;
- a **reordered** row: its stored hash is valid for the same fields at a *different* seq, or its prev_hash is
  the hash of some other row of the case than the one before it, or seq order disagrees with insertion
  order (row ids).

Both writers of events, ``workflow.record_event`` and its bulk twin ``record_events_many``, build their rows
with ``workflow.event_row`` (``event_hash`` over ``hashed_fields``), so one verifier covers both.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import Table, select
from sqlalchemy.engine import Connection
from sqlmodel import Session, col

from models.audit import CaseEvent, event_hash, hashed_fields

_TABLES = {"complaint": "complaint", "pledge": "pledge", "breach": "published_breach"}


class Problem(StrEnum):
    EDITED = "edited"
    DELETED = "deleted"
    REORDERED = "reordered"


_LABEL = {Problem.EDITED: "被篡改", Problem.DELETED: "被删除", Problem.REORDERED: "顺序被调换"}


@dataclass(frozen=True)
class Finding:
    """One thing wrong with one case's chain; ``seq`` is where it was seen."""

    problem: Problem
    case_kind: str
    case_id: int
    case_number: str
    seq: int
    detail: str

    def line(self) -> str:
        return (
            f"[{self.problem}] {self.case_kind} {self.case_number} (#{self.case_id}) 第 {self.seq} 条事件"
            f"{_LABEL[self.problem]}：{self.detail}"
        )


@dataclass
class VerifyReport:
    cases: int = 0
    events: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def of(self, problem: Problem) -> list[Finding]:
        return [f for f in self.findings if f.problem == problem]

    def lines(self) -> list[str]:
        head = f"已核验 {self.cases} 个案件、{self.events} 条审计事件"
        if self.ok:
            return [f"{head}：哈希链完整，未发现篡改、删除或调换。"]
        return [f"{head}：发现 {len(self.findings)} 处问题。", *(f.line() for f in self.findings)]


def _valid_at(row: CaseEvent, seq: int) -> bool:
    return event_hash(row.prev_hash, hashed_fields(replace_seq(row, seq))) == row.hash


def replace_seq(row: CaseEvent, seq: int) -> CaseEvent:
    copy = CaseEvent.model_validate(row.model_dump())
    copy.seq = seq
    return copy


def _origins(rows: Sequence[CaseEvent]) -> dict[int, int | None]:
    """Where each row was written: its own seq when its hash holds, else the seq its hash holds at
    (None: at no seq, so its content was edited)."""
    top = max(r.seq for r in rows) + len(rows) + 1
    origin: dict[int, int | None] = {}
    for row in rows:
        if event_hash(row.prev_hash, hashed_fields(row)) == row.hash:
            origin[row.seq] = row.seq
        else:
            origin[row.seq] = next((s for s in range(1, top) if s != row.seq and _valid_at(row, s)), None)
    return origin


class _CaseCheck:
    def __init__(self, rows: Sequence[CaseEvent]) -> None:
        self.rows = rows
        self.found: list[Finding] = []
        self.by_hash = {r.hash: r for r in rows}
        self.origin = _origins(rows)
        known = {s for s in self.origin.values() if s is not None}
        edited = {s for s, o in self.origin.items() if o is None}
        # Rows moved into a hole left by a deleted row were renumbered, not swapped.
        self.holes = set(range(1, max(known, default=0) + 1)) - known - edited

    def add(self, problem: Problem, row: CaseEvent, detail: str) -> None:
        first = self.rows[0]
        self.found.append(
            Finding(problem, first.case_kind, first.case_id, first.case_number, row.seq, detail)
        )

    def seen(self, seqs: tuple[int, ...], *problems: Problem) -> bool:
        return any(f.seq in seqs and (not problems or f.problem in problems) for f in self.found)

    def content(self, row: CaseEvent) -> None:
        was = self.origin[row.seq]
        if was is None:
            self.add(Problem.EDITED, row, "内容与其哈希不符（记录被修改）")
        elif was != row.seq and self.holes:
            self.add(Problem.DELETED, row, f"该事件原为第 {was} 条，其前的事件被删除后重新编号")
        elif was != row.seq:
            self.add(Problem.REORDERED, row, f"该事件原为第 {was} 条，现位于第 {row.seq} 条")

    def link(self, row: CaseEvent, prev: CaseEvent | None) -> None:
        expected_seq = prev.seq + 1 if prev else 1
        if row.seq > expected_seq:
            missing = ", ".join(str(s) for s in range(expected_seq, row.seq))
            self.add(Problem.DELETED, row, f"序号不连续，缺少第 {missing} 条")
            return
        if row.prev_hash == (prev.hash if prev else ""):
            return
        pointed = self.by_hash.get(row.prev_hash)
        if pointed is not None:
            self.add(Problem.REORDERED, row, f"前序哈希指向第 {pointed.seq} 条而非紧邻的前一条")
        elif not self.seen((row.seq,)):
            self.add(Problem.DELETED, row, "前序哈希与前一条事件不符（其间的事件被删除或替换）")

    def insertion_order(self, row: CaseEvent, prev: CaseEvent | None) -> None:
        if prev is None or prev.id is None or row.id is None or row.id > prev.id:
            return
        if not self.seen((row.seq, prev.seq), Problem.REORDERED):
            detail = f"写入顺序与序号不一致（第 {prev.seq} 条晚于第 {row.seq} 条写入）"
            self.add(Problem.REORDERED, row, detail)


def verify_case(rows: Sequence[CaseEvent], *, current_state: str | None = None) -> list[Finding]:
    """Findings for one case's events (``rows`` ordered by seq); ``current_state`` checks the tail."""
    if not rows:
        return []
    check = _CaseCheck(rows)
    prev: CaseEvent | None = None
    for row in rows:
        check.content(row)
        check.link(row, prev)
        check.insertion_order(row, prev)
        prev = row
    last = rows[-1]
    if current_state is not None and last.to_state != current_state:
        detail = (
            f"案件当前状态为 {current_state}，但最后一条事件的结果状态为 {last.to_state}（其后的事件被删除）"
        )
        check.add(Problem.DELETED, last, detail)
    return check.found


def _states(conn: Connection, kind: str, ids: Sequence[int]) -> dict[int, str]:
    from sqlmodel import SQLModel

    table: Table = SQLModel.metadata.tables[_TABLES[kind]]
    rows = conn.execute(select(table.c.id, table.c.state).where(table.c.id.in_(list(ids))))
    return {int(r.id): str(r.state) for r in rows}


def _grouped(session: Session, kind: str | None, case_id: int | None) -> Iterator[list[CaseEvent]]:
    stmt = select(CaseEvent).order_by(col(CaseEvent.case_kind), col(CaseEvent.case_id), col(CaseEvent.seq))
    if kind is not None:
        stmt = stmt.where(col(CaseEvent.case_kind) == kind)
    if case_id is not None:
        stmt = stmt.where(col(CaseEvent.case_id) == case_id)
    group: list[CaseEvent] = []
    for row in session.execute(stmt.execution_options(yield_per=2000)).scalars():
        if group and (group[0].case_kind, group[0].case_id) != (row.case_kind, row.case_id):
            yield group
            group = []
        group.append(row)
    if group:
        yield group


def verify_audit(*, session: Session, kind: str | None = None, case_id: int | None = None) -> VerifyReport:
    """Walk every case's events (optionally one kind, one case id) and report what is wrong."""
    report = VerifyReport()
    pending: list[list[CaseEvent]] = []

    def flush() -> None:
        by_kind: dict[str, list[int]] = {}
        for g in pending:
            by_kind.setdefault(g[0].case_kind, []).append(g[0].case_id)
        states: dict[tuple[str, int], str] = {}
        conn = session.connection()
        for k, ids in by_kind.items():
            if k in _TABLES:
                states.update({(k, i): s for i, s in _states(conn, k, ids).items()})
        for g in pending:
            state = states.get((g[0].case_kind, g[0].case_id))
            report.findings.extend(verify_case(g, current_state=state))
        pending.clear()

    for group in _grouped(session, kind, case_id):
        report.cases += 1
        report.events += len(group)
        pending.append(group)
        if len(pending) >= 500:
            flush()
    flush()
    return report
