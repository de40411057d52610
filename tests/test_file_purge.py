"""Stored files no row references are removed a grace period after they were written (issue 15): a file
written just before its transaction failed, or for a request refused after its files were stored, would
otherwise stay on disk forever. Files a row names (pledge evidence, case files) and files younger than the
grace period (a transaction still in flight) stay; a second or concurrent purge finds nothing more and
fails on nothing."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

import models.files as files
from models.files import CaseFile, Purged, StoredFile, Upload, attach, file_path, purge_unreferenced, store
from models.pledge import PledgeEvidence
from models.settings import get_settings
from tests.conftest import Staff
from tests.test_staff_pledge_pages import with_evidence

HOUR = 3600.0
DAY = 24 * HOUR


def stored(content: bytes, age: float, name: str = "材料.pdf") -> StoredFile:
    """``content`` stored through the file mechanism, last written ``age`` seconds ago."""
    [row] = store([Upload(name, b"%PDF-1.7\n" + content)])
    aged(file_path(row.sha256), age)
    return row


def aged(path: Path, age: float) -> None:
    moment = time.time() - age
    os.utime(path, (moment, moment))


def on_disk() -> set[str]:
    return {p.name for p in Path(get_settings().upload_dir).rglob("*") if p.is_file()}


@pytest.fixture
def one_hour_grace(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SHOUXIN_UPLOAD_ORPHAN_GRACE_HOURS", "1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_only_unreferenced_files_older_than_the_grace_period_are_removed(
    client: TestClient, staff: Staff, session: Session
) -> None:
    # Referenced by pledge_evidence (uploaded through the API) and by case_file, both long ago.
    with_evidence(client, staff)
    [evidence] = session.exec(select(PledgeEvidence)).all()
    aged(file_path(evidence.sha256), 30 * DAY)
    rectification = stored(b"rectification", 30 * DAY)
    attach(session=session, case_kind="complaint", case_id=1, kind="rectification", event_seq=3,
           files=[rectification], uploaded_by="住建经办人")  # fmt: skip
    session.commit()
    # Unreferenced: written two days ago (its transaction failed), and an hour ago (one still in flight).
    orphan = stored(b"rolled back", 2 * DAY)
    in_flight = stored(b"in flight", HOUR)
    # A temporary a crash left two days ago, one being written now, and a file the store never writes.
    directory = file_path(orphan.sha256).parent
    crashed = directory / f"{orphan.sha256}.0a1b2c.tmp"
    crashed.write_bytes(b"%PDF-1.7\n half")
    aged(crashed, 2 * DAY)
    writing = directory / f"{in_flight.sha256}.3d4e5f.tmp"
    writing.write_bytes(b"%PDF-1.7\n being written")
    stranger = directory / "operator-notes.txt"
    stranger.write_text("kept")
    aged(stranger, 90 * DAY)
    crashed_size = crashed.stat().st_size

    assert purge_unreferenced(session=session) == Purged(files=2, bytes=orphan.size + crashed_size)
    assert on_disk() == {evidence.sha256, rectification.sha256, in_flight.sha256, writing.name, stranger.name}
    # What is referenced still downloads; a second run finds nothing more.
    assert files.load(sha256=evidence.sha256, filename=evidence.filename).startswith(b"%PDF-")
    assert purge_unreferenced(session=session) == Purged()


def test_the_purge_counts_the_bytes_it_removed(session: Session) -> None:
    orphans = [stored(b"x" * n, 3 * DAY) for n in (10, 200, 3000)]
    assert purge_unreferenced(session=session) == Purged(files=3, bytes=sum(o.size for o in orphans))
    assert on_disk() == set()


def test_the_grace_period_is_a_setting(session: Session, one_hour_grace: None) -> None:
    older = stored(b"two hours", 2 * HOUR)
    newer = stored(b"half an hour", HOUR / 2)
    assert purge_unreferenced(session=session) == Purged(files=1, bytes=older.size)
    assert on_disk() == {newer.sha256}


def test_a_file_handed_in_again_restarts_its_grace_period(session: Session) -> None:
    # The same bytes as an old unreferenced file: the store keeps one copy, and the new upload (whose
    # transaction has not committed yet) must find it there when its row is written.
    orphan = stored(b"same bytes", 3 * DAY)
    [again] = store([Upload("再次上传.pdf", b"%PDF-1.7\nsame bytes")])
    assert again.sha256 == orphan.sha256
    assert purge_unreferenced(session=session) == Purged()
    assert on_disk() == {orphan.sha256}


def test_a_file_handed_in_again_while_the_purge_runs_is_kept(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    orphan = stored(b"stored again mid-purge", 3 * DAY)
    listed = files._old_entries

    def listed_then_stored_again(root: Path, cutoff: float) -> Iterator[tuple[os.DirEntry[str], int]]:
        for entry, size in listed(root, cutoff):
            store([Upload("再次上传.pdf", b"%PDF-1.7\nstored again mid-purge")])  # saved after the listing
            yield entry, size

    monkeypatch.setattr(files, "_old_entries", listed_then_stored_again)
    assert purge_unreferenced(session=session) == Purged()
    assert on_disk() == {orphan.sha256}
    assert files.load(sha256=orphan.sha256, filename="材料.pdf").endswith(b"stored again mid-purge")


def test_a_damaged_file_handed_in_again_while_the_purge_runs_is_healed_and_kept(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Damaged long ago: the new upload writes its bytes anew (a fresh time), and the purge keeps that copy.
    orphan = stored(b"damaged then stored again", 3 * DAY)
    path = file_path(orphan.sha256)
    path.write_bytes(b"%PDF-1.7\ndamaged on disk")
    aged(path, 3 * DAY)
    listed = files._old_entries

    def listed_then_stored_again(root: Path, cutoff: float) -> Iterator[tuple[os.DirEntry[str], int]]:
        for entry, size in listed(root, cutoff):
            store([Upload("再次上传.pdf", b"%PDF-1.7\ndamaged then stored again")])  # after the listing
            yield entry, size

    monkeypatch.setattr(files, "_old_entries", listed_then_stored_again)
    assert purge_unreferenced(session=session) == Purged()
    assert on_disk() == {orphan.sha256}
    assert files.load(sha256=orphan.sha256, filename="材料.pdf").endswith(b"damaged then stored again")


def test_a_damaged_file_handed_in_again_is_written_anew_with_a_fresh_time(session: Session) -> None:
    orphan = stored(b"damaged before the purge", 3 * DAY)
    file_path(orphan.sha256).write_bytes(b"%PDF-1.7\nbroken")
    aged(file_path(orphan.sha256), 3 * DAY)
    [again] = store([Upload("再次上传.pdf", b"%PDF-1.7\ndamaged before the purge")])
    assert again.sha256 == orphan.sha256
    assert purge_unreferenced(session=session) == Purged()
    assert files.load(sha256=orphan.sha256, filename="材料.pdf").endswith(b"damaged before the purge")
    assert on_disk() == {orphan.sha256}  # no temporary left behind


def test_concurrent_purges_remove_each_file_once_and_fail_on_none(engine: Engine) -> None:
    orphans = [stored(str(n).encode(), 2 * DAY) for n in range(120)]
    results: list[Purged] = []
    errors: list[BaseException] = []

    def purge() -> None:
        try:
            with Session(engine) as session:
                results.append(purge_unreferenced(session=session))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=purge) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(r.files for r in results) == len(orphans)
    assert sum(r.bytes for r in results) == sum(o.size for o in orphans)
    assert on_disk() == set()


def test_an_empty_or_missing_upload_directory_is_nothing_to_purge(session: Session) -> None:
    assert not Path(get_settings().upload_dir).exists()
    assert purge_unreferenced(session=session) == Purged()


def test_every_table_that_names_a_stored_file_is_consulted() -> None:
    # A new table with a sha256 column must be added to the purge's references, or its files would go.
    naming = {t.name for t in SQLModel.metadata.sorted_tables if "sha256" in t.c}
    assert naming == {t.name for t in files._REFERENCES} == {"case_file", "pledge_evidence"}
    assert CaseFile.__tablename__ in naming


@pytest.mark.prefect
def test_the_daily_flow_purges_and_reports_files_and_bytes(prefect_harness: None) -> None:
    from flows.purge_files import purge_unreferenced_files
    from flows.registry import BY_NAME
    from models.db import get_engine

    SQLModel.metadata.create_all(get_engine())
    orphan = stored(b"left by a failed transaction", 2 * DAY)
    assert BY_NAME["purge_unreferenced_files"].load() is purge_unreferenced_files
    assert purge_unreferenced_files() == {"files": 1, "bytes": orphan.size}
    assert purge_unreferenced_files() == {"files": 0, "bytes": 0}
