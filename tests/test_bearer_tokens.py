"""The API's per-request token check (``token_identity``) answers exactly as ``authenticate`` does."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from models.accounts import authenticate, token_identity
from models.org import User
from tests.conftest import Staff


def test_the_per_request_token_check_answers_as_sign_in_does(session: Session, staff: Staff) -> None:
    for who in ("intake", "supervisor", "admin", "handler", "handler2", "competent"):
        token = getattr(staff, who)
        user = authenticate(session=session, token=token)
        identity = token_identity(session=session, token=token)
        assert user is not None
        assert identity is not None
        assert (identity.id, identity.name, identity.role, identity.department_id) == (
            user.id,
            user.name,
            user.role,
            user.department_id,
        )
        assert type(identity.role) is type(user.role)
    assert token_identity(session=session, token="sx_unknown") is None


def test_a_deactivated_account_is_refused_on_its_next_request(
    client: TestClient, session: Session, staff: Staff
) -> None:
    assert client.get("/api/v1/tasks", headers=staff.auth("handler")).status_code == 200
    user = session.exec(select(User).where(User.name == "住建经办人")).one()
    user.active = False
    session.add(user)
    session.commit()
    assert token_identity(session=session, token=staff.handler) is None
    response = client.get("/api/v1/tasks", headers=staff.auth("handler"))
    assert response.status_code == 401
    assert client.get("/api/v1/tasks").status_code == 401
