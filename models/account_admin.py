"""An administrator's changes to a staff account: deactivate or reactivate, change the role, revoke the
API token (a new one is issued and shown once).

Each change ends every page session of the account (a cookie never outlives the rights it was issued
for: models/accounts.py) and is written to the audit log (logger ``shouxin.audit.accounts``: who did
what to whom), since accounts have no case timeline of their own. Callers commit.
"""

from __future__ import annotations

import logging

from sqlmodel import Session

from models.accounts import active_department_by_code, end_sessions, hash_token, new_token
from models.errors import ValidationFailed
from models.lifecycle import STAFF_ROLES, Role
from models.org import User

audit_log = logging.getLogger("shouxin.audit.accounts")


def _audit(by: User, action: str, target: User, detail: str = "") -> None:
    audit_log.info(
        "account %s: user #%s %s by admin #%s %s%s",
        action,
        target.id,
        target.name,
        by.id,
        by.name,
        f" ({detail})" if detail else "",
    )


def _staff_account(target: User) -> None:
    if target.role not in STAFF_ROLES:
        raise ValidationFailed(
            f"{target.name} 是对接系统账号，不能在此修改 (machine accounts are managed with the CLI)"
        )


def set_active(*, session: Session, target: User, active: bool, by: User) -> bool:
    """Deactivate (or reactivate) ``target``; an administrator cannot deactivate their own account, so
    the system always keeps one who can undo it. Returns whether anything changed."""
    if not active and target.id == by.id:
        raise ValidationFailed("不能停用自己的账号 (you cannot deactivate your own account)")
    if target.active == active:
        return False
    target.active = active  # ends the account's sessions (models/accounts.py _rights_changed)
    session.add(target)
    session.flush()
    _audit(by, "activated" if active else "deactivated", target)
    return True


def change_role(
    *, session: Session, target: User, role: Role, by: User, department_code: str | None = None
) -> bool:
    """Give ``target`` another staff role (a handler needs a department, kept or given by code); an
    administrator cannot take their own admin role away. Returns whether anything changed."""
    _staff_account(target)
    if role not in STAFF_ROLES:
        raise ValidationFailed(f"角色 {role} 不是工作人员角色 (role '{role}' is not a staff role)")
    if target.id == by.id and role != Role.ADMIN:
        raise ValidationFailed("不能取消自己的管理员角色 (you cannot change your own role)")
    department_id = target.department_id
    if department_code:
        department_id = active_department_by_code(session=session, code=department_code).id
    if role == Role.HANDLER and department_id is None:
        raise ValidationFailed("责任单位经办人必须指定所属部门 (a handler needs a department)")
    if target.role == role and target.department_id == department_id:
        return False
    old = target.role
    target.role = role  # ends the account's sessions when the role differs (models/accounts.py)
    if target.department_id != department_id:
        target.department_id = department_id
        end_sessions(session=session, user=target)  # a new department is other rights too
    session.add(target)
    session.flush()
    _audit(by, "role changed", target, f"{old} -> {role}, department #{department_id}")
    return True


def revoke_token(*, session: Session, target: User, by: User) -> str:
    """Revoke ``target``'s API token: the old one is refused from now on and the new one, returned here,
    is shown once and stored only hashed. The account's page sessions end too (someone holding the old
    token may have signed in with it)."""
    _staff_account(target)
    token = new_token()
    target.token_hash = hash_token(token)
    end_sessions(session=session, user=target)
    _audit(by, "token revoked", target)
    return token
