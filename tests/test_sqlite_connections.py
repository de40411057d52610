"""SQLite file engines keep as many connections as the API's thread pool has threads."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.pool import QueuePool, StaticPool

from models.db import make_engine


def test_a_file_engine_pools_a_connection_per_api_thread(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'pool.db'}")
    try:
        assert isinstance(engine.pool, QueuePool)
        assert engine.pool.size() == 40
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    finally:
        engine.dispose()


def test_an_explicit_pool_and_an_in_memory_database_are_left_alone() -> None:
    engine = make_engine("sqlite://", poolclass=StaticPool)
    assert isinstance(engine.pool, StaticPool)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
    engine.dispose()
    memory = make_engine("sqlite://")
    with memory.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
    memory.dispose()
