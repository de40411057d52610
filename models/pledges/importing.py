"""Bulk import of pledges: validate every row, register the good ones in bulk, report the rest.

``import_pledges`` is the one service behind every way in: the ``import_pledges`` flow working through an
uploaded file (``models.pledges.import_jobs``) and ``shouxin pledges import``. It writes through the
caller's session and commits nothing: the caller commits, after each chunk if it wants the progress seen.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from models.accounts import retired_message
from models.breach import PublishedBreach
from models.bulk import insert_rows
from models.calendar import WorkCalendar
from models.clock import iso_date, utcnow
from models.gcpause import collector_paused
from models.id_sets import chunks, in_list
from models.lifecycle import PledgeState, Role
from models.numbering import PLEDGE_PREFIX, reserve_numbers
from models.org import Department
from models.outbox import Notification, NotificationStatus, outbox_rows
from models.pledge import Pledge, registration_publication_day
from models.pledges.access import new_access_codes
from models.pledges.import_checks import checked_chunks
from models.pledges.import_rows import COLUMN_LABELS, RowError, ValidRow
from models.register.queries import bars_pledge_route, false_pledge_bars
from models.settings import get_settings
from models.workflow import Actor, Fired, record_events_many

# Rows validated, checked and inserted at a time: memory stays bounded for any file size.
IMPORT_CHUNK = 5000
_MAIL_TEMPLATE = "pledge_registered"
_PLEDGES = Pledge.__table__  # type: ignore[attr-defined]
_MAILS = Notification.__table__  # type: ignore[attr-defined]
_BREACHES = PublishedBreach.__table__  # type: ignore[attr-defined]


@dataclass
class ImportReport:
    source: str
    total: int = 0  # rows read (blank rows are not counted)
    imported: int = 0
    already_imported: int = 0
    errors: list[RowError] = field(default_factory=list)  # validation, row by row
    # By the credit check (逢办必查), or for an authority retired (撤并) while the import ran.
    refusals: list[RowError] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)
    # Access codes of imported pledgors their registration notice (with the code) reaches by no channel,
    # neither e-mail nor SMS (the notice's one outbox row is undeliverable): it has to be printed and
    # handed over by the authority; everyone else gets it by mail or text.
    offline_codes: list[dict[str, str]] = field(default_factory=list)

    @property
    def all_errors(self) -> list[RowError]:
        # Refusals by the credit check follow every validation error, as when the file was one pass.
        return self.errors + self.refusals

    @property
    def failed_rows(self) -> int:
        return len({e.row for e in self.all_errors})

    def to_dict(self) -> dict[str, Any]:
        """The report as the API has always answered it."""
        return {
            "source": self.source,
            "total": self.total,
            "imported": self.imported,
            "already_imported": self.already_imported,
            "failed": self.failed_rows,
            "errors": [asdict(e) for e in self.all_errors],
            "numbers": self.numbers,
            "offline_codes": self.offline_codes,
        }

    def stored(self) -> dict[str, Any]:
        """What a stored import keeps to show the report and to go on after an interrupted run."""
        return {
            "errors": [asdict(e) for e in self.errors],
            "refusals": [asdict(e) for e in self.refusals],
            "numbers": self.numbers,
            "offline_codes": self.offline_codes,
        }

    @classmethod
    def restore(
        cls, source: str, stored: dict[str, Any], *, total: int, imported: int, already_imported: int
    ) -> ImportReport:
        return cls(
            source=source,
            total=total,
            imported=imported,
            already_imported=already_imported,
            errors=[RowError(**e) for e in stored.get("errors", [])],
            refusals=[RowError(**e) for e in stored.get("refusals", [])],
            numbers=list(stored.get("numbers", [])),
            offline_codes=list(stored.get("offline_codes", [])),
        )


def import_pledges(
    *,
    session: Session,
    rows: Iterable[tuple[int, dict[str, Any]]],
    actor: Actor,
    source_name: str,
    today: dt.date,
    calendar: WorkCalendar,
    default_authority: str | None = None,
    report: ImportReport | None = None,
    after_chunk: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Validate every row and insert the good ones in bulk, ``IMPORT_CHUNK`` rows at a time, in the
    caller's transaction (commits nothing). ``after_chunk`` is called with the report so far after each
    chunk: the CLI moves its progress bar, the flow records the progress and commits.

    Bad rows are reported (row, column, why) and not imported; a row whose content was imported before
    (same ``import_key``) is counted as already imported, so importing a file twice adds nothing.
    ``report`` continues an import interrupted after some chunks (``rows`` then starts after them).
    """
    report = report or ImportReport(source=source_name)
    departments = session.scalars(select(Department)).all()
    names = {d.id: d.name for d in departments}
    authorities = {
        d.code: d.id for d in departments
        if d.id is not None and d.active and (actor.role != Role.HANDLER or d.id == actor.department_id)
    }  # fmt: skip
    seen: set[str] = set()  # every key of this file met so far: a row repeated in the file counts once
    chunk = _Chunk(session, actor, today, calendar, names)
    checked = checked_chunks(
        rows, size=IMPORT_CHUNK, authorities=authorities, default_authority=default_authority, today=today
    )
    with collector_paused(), closing(checked):
        for part in checked:
            report.total += part.read
            report.errors += part.errors
            chunk.import_rows(part.valid, seen, report, part.codes)
            if after_chunk is not None:
                after_chunk(report)
    return report


class _Chunk:
    """Duplicate check, credit check and inserts for the valid rows of one chunk."""

    def __init__(
        self, session: Session, actor: Actor, today: dt.date, calendar: WorkCalendar, names: dict[Any, str]
    ) -> None:
        self.session, self.actor, self.today, self.calendar = session, actor, today, calendar
        self.authority_names = names
        self.days: dict[dt.date, dt.date | None] = {}  # publication day per deadline
        self.iso: dict[dt.date | None, str | None] = {}  # iso_date per deadline and publication day

    def import_rows(
        self,
        rows: list[ValidRow],
        seen: set[str],
        report: ImportReport,
        codes: Sequence[tuple[str, str]] = (),
    ) -> None:
        """The duplicate and credit checks and the inserts of one chunk, counted in ``report``; the keys
        now stored (found or inserted) join ``seen``. ``codes``: the rows' access codes when the validating
        worker made them, one per row. A row repeated in the file shares its first occurrence's fate:
        already imported if that one is imported, refused with the same reason if it is refused."""
        if not rows:
            return
        code_of = dict(zip([row.number for row in rows], codes, strict=True)) if codes else None
        stored = existing_import_keys(self.session, [r.key for r in rows if r.key not in seen])
        first: dict[str, ValidRow] = {}
        for row in rows:
            if row.key not in seen and row.key not in stored:
                first.setdefault(row.key, row)
        refused = refused_by_credit_check(self.session, list(first.values()), today=self.today)
        accepted = []
        for row in rows:
            reason = refused.get(row.values["pledgor_credit_code"] or row.values["pledgor_name"])
            if row.key in seen or row.key in stored:
                report.already_imported += 1
            elif reason:
                report.refusals.append(RowError(row.number, COLUMN_LABELS["pledgor_credit_code"], reason))
            elif first[row.key] is not row:
                report.already_imported += 1  # imported with its first occurrence, above it in the file
            else:
                accepted.append(row)
        if accepted:
            made = [code_of[row.number] for row in accepted] if code_of else new_access_codes(len(accepted))
            accepted = self._insert(accepted, report, made)
        seen |= stored | {row.key for row in accepted}

    def _publication_day(self, deadline: dt.date) -> dt.date | None:
        # As single registration sets it: a back-registered pledge keeps its N working days.
        if deadline not in self.days:
            self.days[deadline] = registration_publication_day(
                self.calendar, deadline=deadline, registered_on=self.today
            )
        return self.days[deadline]

    def _iso(self, day: dt.date | None) -> str | None:
        # A chunk has a few hundred distinct deadlines and publication days: each formatted once.
        try:
            return self.iso[day]
        except KeyError:
            text = self.iso[day] = iso_date(day)
            return text

    def _insert(
        self, rows: list[ValidRow], report: ImportReport, codes: list[tuple[str, str]]
    ) -> list[ValidRow]:
        """The pledges, their ``register`` events and registration notices (each with the pledge's access
        code), as ``register_pledge_with_code`` stores one, in three bulk inserts. Returns the rows stored
        or found stored meanwhile; a row whose authority was retired since the import began is refused."""
        session, actor, year = self.session, self.actor, self.today.year
        now = utcnow()
        numbers = reserve_numbers(session=session, prefix=PLEDGE_PREFIX, year=year, count=len(rows))
        rows, numbers, codes = self._without_retired_authorities(rows, numbers, codes, report)
        if not rows:
            return rows
        version = self.calendar.version
        # The columns every pledge of the chunk shares, merged into each row after its own ones (the
        # keys in the order they always had).
        shared = {
            "state": PledgeState.REGISTERED, "version": 1, "stage_seq": 0, "stage_deadline": None,
            "deadline_pending": False, "registered_by_id": actor.id, "registered_on": self.today,
            "created_at": now, "updated_at": now,
        }  # fmt: skip
        publication_day = self._publication_day
        pledges = []
        for row, (seq, number), (_, digest) in zip(rows, numbers, codes, strict=True):
            day = publication_day(row.values["deadline"])
            pledges.append({
                **row.values, "publication_day": day, "calendar_version": version if day else None,
                "import_key": row.key, "access_code_digest": digest, "number": number, "year": year,
                "seq": seq, **shared,
            })  # fmt: skip
        # Another import of the same file, worked through at the same time, may store a row between this
        # chunk's duplicate check and here: the unique import key skips it (a standard upsert), and it counts
        # as already imported below; the number reserved for it stays unused (numbers are unique, not
        # gap-free: models/numbering.py).
        insert_rows(session, _PLEDGES, pledges, on_conflict_do_nothing=["import_key"])
        # The numbers were reserved in this transaction: the rows carrying them are the ones just
        # inserted, found by a range scan of the unique (year, seq) index.
        seqs = [seq for seq, _ in numbers]
        found = session.execute(
            select(_PLEDGES.c.seq, _PLEDGES.c.id).where(
                _PLEDGES.c.year == year, _PLEDGES.c.seq.between(min(seqs), max(seqs))
            )
        )
        id_of: dict[int, int] = dict(found.tuples().all())
        if len(id_of) < len(pledges):
            report.already_imported += len(pledges) - len(id_of)
            kept = [i for i, seq in enumerate(seqs) if seq in id_of]
            pledges, numbers = [pledges[i] for i in kept], [numbers[i] for i in kept]
            codes = [codes[i] for i in kept]
            seqs = [seq for seq, _ in numbers]
        ids = [id_of[seq] for seq in seqs]
        iso = self._iso
        day_of = {number: iso(p["publication_day"]) for p, (_, number) in zip(pledges, numbers, strict=True)}
        record_events_many(
            session=session,
            kind="pledge",
            cases=[
                Fired(pid, number, "", str(PledgeState.REGISTERED))
                for pid, (_, number) in zip(ids, numbers, strict=True)
            ],
            event="register",
            actor=actor,
            now=now,
            data=lambda f: {"publication_day": day_of[f.number], "source": "import"},
            last={},  # new cases: no chain tips to read
        )
        mails = []
        for p, pid, (code, _) in zip(pledges, ids, codes, strict=True):
            notice = self._notice(p, pid, code, now)
            mails.extend(notice)
            if undeliverable(notice):
                report.offline_codes.append(
                    {"number": p["number"], "pledgor_name": p["pledgor_name"], "access_code": code}
                )
        insert_rows(session, _MAILS, mails)
        report.numbers += [number for _, number in numbers]
        report.imported += len(pledges)
        return rows

    def _without_retired_authorities(
        self,
        rows: list[ValidRow],
        numbers: list[tuple[int, str]],
        codes: list[tuple[str, str]],
        report: ImportReport,
    ) -> tuple[list[ValidRow], list[tuple[int, str]], list[tuple[str, str]]]:
        """The rows whose authority is still active, the others refused naming the successor. The
        authorities were read when the import began, and a retirement (撤并) may have committed between two
        chunks: its move of the open pledges would have missed these. Read after the chunk's first write
        (SQLite's write turn is then this transaction's) and with a share lock (PostgreSQL), so a
        retirement that starts now waits for this chunk and then moves its pledges too."""
        ids = {row.values["authority_id"] for row in rows}
        locked = select(Department).where(col(Department.id).in_(ids)).with_for_update(read=True)
        retired = {
            d.id: retired_message(self.session, d)
            for d in self.session.scalars(locked.execution_options(populate_existing=True))
            if not d.active
        }
        if not retired:
            return rows, numbers, codes
        label = COLUMN_LABELS["authority_code"]
        report.refusals += [
            RowError(row.number, label, retired[row.values["authority_id"]])
            for row in rows
            if row.values["authority_id"] in retired
        ]
        kept = [i for i, row in enumerate(rows) if row.values["authority_id"] not in retired]
        return [rows[i] for i in kept], [numbers[i] for i in kept], [codes[i] for i in kept]

    def _notice(self, pledge: dict[str, Any], pid: int, code: str, now: dt.datetime) -> list[dict[str, Any]]:
        # The context of register_pledge_with_code's notice, key for key and in the same order; its rows by
        # e-mail, SMS or both, as enqueue_for_pledgor's.
        iso = self._iso
        context = {
            "pledge_number": pledge["number"], "pledgor_name": pledge["pledgor_name"],
            "matter": pledge["matter"], "obligation": pledge["obligation"],
            "deadline": iso(pledge["deadline"]), "publication_day": iso(pledge["publication_day"]),
            "authority_name": self.authority_names[pledge["authority_id"]], "access_code": code,
        }  # fmt: skip
        return outbox_rows(
            template=_MAIL_TEMPLATE,
            recipient_kind="pledgor",
            recipient_name=pledge["pledgor_name"],
            recipient_email=pledge["pledgor_email"],
            recipient_phone=pledge["pledgor_phone"],
            key=f"pledge:{pid}:register:{_MAIL_TEMPLATE}",
            context=context,
            now=now,
            case_kind="pledge",
            case_id=pid,
            case_number=pledge["number"],
            flow_run_id=self.actor.flow_run_id,
        )


def undeliverable(rows: Sequence[dict[str, Any]]) -> bool:
    """Whether the outbox rows of one notice (``outbox_rows``'s) reach the recipient by no channel: then
    there is one row, undeliverable with the reason, and a secret in it (the access code) must be handed
    over by staff. Read off the rows, so the channels are decided in one place."""
    return all(row["status"] == NotificationStatus.UNDELIVERABLE for row in rows)


def existing_import_keys(session: Session, keys: Sequence[str]) -> set[str]:
    """Those of ``keys`` a stored pledge has."""
    column = _PLEDGES.c.import_key
    found: set[str] = set()
    for part in chunks(keys):
        found.update(session.execute(select(column).where(in_list(session, column, part))).scalars().all())
    return found


def refused_by_credit_check(session: Session, rows: list[ValidRow], *, today: dt.date) -> dict[str, str]:
    """Credit codes (or, for subjects without one, exact names, as ``has_current_breach`` and
    ``false_pledge_of`` match them) that ``credit_check`` refuses on ``today``, with the reason: a few
    set-based queries per chunk instead of two per row, filtered by the same conditions
    (``false_pledge_bars``, ``bars_pledge_route``). As there, a false pledge outranks a shown record."""
    if not get_settings().credit_check_enabled or not rows:
        return {}
    breaches, pledges = _BREACHES, _PLEDGES
    codes = list({r.values["pledgor_credit_code"] for r in rows if r.values["pledgor_credit_code"]})
    names = list({r.values["pledgor_name"] for r in rows if not r.values["pledgor_credit_code"]})
    refused: dict[str, str] = {}
    for part in chunks(codes):
        false = select(pledges.c.pledgor_credit_code, pledges.c.number).where(
            false_pledge_bars(today), in_list(session, pledges.c.pledgor_credit_code, part)
        )
        for code, number in session.execute(false).all():
            refused.setdefault(code, f"信用核查未通过：曾有虚假承诺（{number}），不适用告知承诺方式")
        shown = select(breaches.c.subject_credit_code, breaches.c.number).where(
            bars_pledge_route(today), in_list(session, breaches.c.subject_credit_code, part)
        )
        for code, number in session.execute(shown).all():
            refused.setdefault(code, f"信用核查未通过：有正在公示的严重失信记录 {number}，不适用告知承诺方式")
    by_name: dict[str, str] = {}
    for part in chunks(names):
        false = select(pledges.c.pledgor_name, pledges.c.number).where(
            pledges.c.pledgor_credit_code.is_(None),
            false_pledge_bars(today),
            in_list(session, pledges.c.pledgor_name, part),
        )
        for name, number in session.execute(false).all():
            by_name.setdefault(name, number)
        shown = select(breaches.c.subject_name, breaches.c.number).where(
            breaches.c.subject_credit_code.is_(None),
            bars_pledge_route(today),
            in_list(session, breaches.c.subject_name, part),
        )
        for name, number in session.execute(shown).all():
            by_name.setdefault(name, number)
    for name, number in by_name.items():
        refused[name] = f"信用核查未通过：有严重失信记录或虚假承诺（{number}），不适用告知承诺方式"
    return refused
