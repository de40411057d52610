"""Below migration 0022 a complaint holds one government credit record and one register record: a
downgrade is refused while a complaint was confirmed against two departments, instead of deleting a public
record and orphaning its platform documents. The database here is built by the migrations (the ``engine``
fixture is overridden), so it can be taken back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from models.db import make_engine
from models.schema import alembic_config, migration_transaction, upgrade
from tests.conftest import Staff
from tests.test_government_breach_records import confirmed_against_two_departments


@pytest.fixture
def engine(empty_database: str) -> Iterator[Engine]:
    migrated = make_engine(empty_database)
    upgrade(migrated)
    yield migrated
    migrated.dispose()


def _downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as conn, migration_transaction(conn):
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def test_a_downgrade_below_per_department_records_is_refused_while_a_complaint_has_two(
    client: TestClient, engine: Engine, staff: Staff
) -> None:
    confirmed_against_two_departments(client, staff)
    with pytest.raises(RuntimeError, match="无法降级"):
        _downgrade(engine, "0021_outbox_settled_by_hand")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM published_breach").scalar() == 2  # nothing lost
        assert conn.exec_driver_sql("SELECT count(*) FROM government_credit_record").scalar() == 2
