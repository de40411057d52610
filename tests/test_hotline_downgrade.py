"""Below migration 0014 there are no hotline (machine) accounts: a downgrade is refused while a complaint a
hotline account registered still names it, instead of failing on the reference or orphaning it. The
database here is built by the migrations (the ``engine`` fixture is overridden), so it can be taken back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.db import make_engine
from models.schema import head_revision, upgrade
from tests.conftest import Staff
from tests.test_government_breach_downgrade import _downgrade
from tests.test_hotline_intake import new_hotline_token, post


@pytest.fixture
def engine(empty_database: str) -> Iterator[Engine]:
    migrated = make_engine(empty_database)
    upgrade(migrated)
    yield migrated
    migrated.dispose()


def test_a_downgrade_below_hotline_accounts_is_refused_while_a_complaint_names_one(
    client: TestClient, engine: Engine, staff: Staff
) -> None:
    with Session(engine) as session:
        token = new_hotline_token(session)
    answer = post(client, token)
    assert answer.status_code == 201, answer.text
    with pytest.raises(RuntimeError, match=f"无法降级.*{answer.json()['number']}"):
        _downgrade(engine, "0013_notification_channel")
    with engine.connect() as conn:  # nothing lost, nothing taken back
        assert conn.exec_driver_sql("SELECT count(*) FROM complaint").scalar() == 1
        assert conn.exec_driver_sql("SELECT count(*) FROM app_user WHERE role = 'HOTLINE'").scalar() == 1
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == head_revision()
