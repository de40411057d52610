"""Departments and staff accounts: import, creation, token authentication."""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import ValidationError
from sqlalchemy import bindparam, event, inspect
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from models.errors import NotFound, ValidationFailed
from models.lifecycle import MACHINE_ROLES, STAFF_ROLES, Role
from models.org import LEVEL_LABELS, Department, DepartmentCreate, User, UserCreate

TOKEN_PREFIX = "sx_"


def hash_token(token: str) -> str:
    """API tokens are 256-bit random strings, so a fast SHA-256 lookup hash is safe (no dictionary to
    attack) and keeps authentication at microseconds; human passwords use argon2 instead."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def department_by_code(*, session: Session, code: str) -> Department:
    dept = session.exec(select(Department).where(Department.code == code)).first()
    if dept is None:
        raise NotFound(f"部门代码 {code} 不存在；请先导入部门 (unknown department code '{code}')", code=code)
    return dept


def active_department_by_code(*, session: Session, code: str, field: str | None = None) -> Department:
    """The department with ``code`` that new work or staff may go to: one retired in a reorganisation (撤并)
    is refused, naming its successor. Read with a share lock: a retirement of it running at the same
    moment waits for this transaction, and its move of the open work then sees what this one stored (or
    this one waits for the retirement and is refused)."""
    dept = session.exec(
        select(Department).where(Department.code == code.strip()).with_for_update(read=True)
    ).first()
    if dept is None:
        raise NotFound(f"部门代码 {code} 不存在；请先导入部门 (unknown department code '{code}')", code=code)
    if not dept.active:
        raise ValidationFailed(retired_message(session, dept), **({"field": field} if field else {}))
    return dept


def retired_message(session: Session, dept: Department) -> str:
    """Why new work cannot go to a retired department (撤并), naming its successor when it has one: every
    refusal of a retired department says the same."""
    successor = session.get(Department, dept.successor_id) if dept.successor_id is not None else None
    instead = (
        f"，由 {successor.code} {successor.name} 承接；请改用 {successor.code}"
        if successor
        else "；请选择启用中的部门"
    )
    return f"部门 {dept.code} {dept.name} 已撤并{instead} (department '{dept.code}' is retired)"


def create_user(*, session: Session, data: UserCreate) -> tuple[User, str]:
    """Create a user and return it with its token, which is shown once and stored only hashed."""
    department_id = None
    if data.department_code:
        department_id = active_department_by_code(session=session, code=data.department_code).id
    elif data.role == Role.HANDLER:
        raise ValidationFailed("责任单位经办人必须指定所属部门 (--department is required for handlers)")
    if data.role not in STAFF_ROLES:
        raise ValidationFailed(f"不能创建角色为 {data.role} 的账号 (role '{data.role}' is not a staff role)")
    token = new_token()
    user = User(
        name=data.name,
        role=data.role,
        email=data.email,
        department_id=department_id,
        token_hash=hash_token(token),
    )
    session.add(user)
    session.flush()
    return user, token


def create_machine_user(*, session: Session, name: str, role: Role) -> tuple[User, str]:
    """An account for another system (``MACHINE_ROLES``, e.g. the 12345 platform) and its token, shown
    once and stored only hashed: it calls that system's own endpoint and nothing else, and never signs in
    to the pages (no password can be set: ``set_password``)."""
    if role not in MACHINE_ROLES:
        raise ValidationFailed(f"角色 {role} 不是对接系统角色 (role '{role}' is not a machine role)")
    token = new_token()
    user = User(name=name.strip(), role=role, token_hash=hash_token(token))
    session.add(user)
    session.flush()
    return user, token


def active_supervisors(*, session: Session) -> list[User]:
    """Every active supervisor account, in id order: the recipients of escalations and digests."""
    stmt = select(User).where(User.role == Role.SUPERVISOR, col(User.active).is_(True)).order_by(col(User.id))
    return list(session.exec(stmt).all())


# Every API request authenticates: the statement is built once with a bound parameter, since building
# and cache-keying it cost several times SQLite's run of it (docs/benchmarks.md).
_USER_BY_TOKEN_HASH = select(User).where(col(User.token_hash) == bindparam("token_hash"))


def authenticate(*, session: Session, token: str) -> User | None:
    """The active staff account of ``token`` (the page sign-in): another system's token signs in nowhere."""
    user = session.exec(_USER_BY_TOKEN_HASH, params={"token_hash": hash_token(token)}).first()
    return user if user is not None and user.active and user.role in STAFF_ROLES else None


class TokenIdentity(NamedTuple):
    """Who an API token belongs to: what an Actor is made of."""

    id: int
    name: str
    role: Role
    department_id: int | None


_users = User.__table__  # type: ignore[attr-defined]
_IDENTITY_BY_TOKEN_HASH = core_select(
    _users.c.id, _users.c.name, _users.c.role, _users.c.department_id, _users.c.active
).where(_users.c.token_hash == bindparam("token_hash"))


def token_identity(*, session: Session, token: str) -> TokenIdentity | None:
    """``authenticate`` without building the User object: the same lookup and the same answer (None for
    an unknown token or an inactive account), as a Core row, for the API's per-request check (building
    the ORM object cost more than the query)."""
    row = session.connection().execute(_IDENTITY_BY_TOKEN_HASH, {"token_hash": hash_token(token)}).first()
    if row is None or not row.active:
        return None
    return TokenIdentity(row.id, row.name, Role(row.role), row.department_id)


def _load_yaml(path: Path, text: str) -> Any:
    """The YAML document of ``path``, or ValidationFailed naming the file and where it stops parsing."""
    try:
        return yaml.safe_load(text) or []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第 {mark.line + 1} 行第 {mark.column + 1} 列" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ValidationFailed(f"{path.name}: YAML 格式错误 {where}：{problem} (invalid YAML)") from exc


def read_department_file(path: Path) -> list[DepartmentCreate]:
    """Parse a CSV or YAML file of departments (code, name, level, competent department code)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationFailed(
            f"{path.name}: 不是 UTF-8 编码的文本文件（第 {exc.start + 1} 字节起无法解码）；请另存为 UTF-8 "
            "(not a UTF-8 text file)"
        ) from exc
    rows: list[dict[str, Any]]
    if path.suffix.lower() in (".yaml", ".yml"):
        loaded = _load_yaml(path, text)
        if isinstance(loaded, dict):
            loaded = loaded.get("departments", [])
        if not isinstance(loaded, list):
            raise ValidationFailed(f"{path.name}: YAML 应为部门列表 (expected a list of departments)")
        rows = loaded
    elif path.suffix.lower() == ".csv":
        try:
            rows = list(csv.DictReader(io.StringIO(text)))
        except csv.Error as exc:
            raise ValidationFailed(f"{path.name}: CSV 格式错误：{exc} (invalid CSV)") from exc
    else:
        raise ValidationFailed(f"{path.name}: 仅支持 .csv 或 .yaml 文件 (use a CSV or YAML file)")
    # A CSV row is named as a spreadsheet shows it (the header is row 1), a YAML department by its place.
    csv_file = path.suffix.lower() == ".csv"
    result = []
    for number, row in enumerate(rows, start=2 if csv_file else 1):
        where = f"第{number}行" if csv_file else f"第{number}项"
        if not isinstance(row, dict):
            raise ValidationFailed(
                f"{path.name} {where}: 应为含 code、name、level 的部门 (expected a mapping)"
            )
        clean = {k.strip(): (v.strip() if isinstance(v, str) else v) for k, v in row.items() if k}
        competent = clean.pop("competent", None) or clean.pop("competent_department", None)
        clean["competent_code"] = clean.get("competent_code") or competent or None
        clean = {k: v for k, v in clean.items() if v not in ("", None)}
        try:
            result.append(DepartmentCreate.model_validate(clean))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise ValidationFailed(
                f"{path.name} {where} 列 {field}：{_field_problem(first)} ({field}: {first['msg']})",
                field=field,
            ) from exc
    return result


def _field_problem(error: Any) -> str:
    """A department file's cell refused by the model, said in Chinese with what would be accepted."""
    kind, context = error["type"], error.get("ctx") or {}
    if kind == "enum":
        allowed = " / ".join(f"{level.value}（{label}）" for level, label in LEVEL_LABELS.items())
        return f"“{error['input']}”不是可选值；可选：{allowed}"
    if kind == "missing":
        return "必填，不能为空"
    if kind == "string_too_long":
        return f"不能超过 {context.get('max_length')} 个字符"
    if kind == "string_too_short":
        return "不能为空"
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    return f"取值无效：{error['msg']}"


def import_departments(*, session: Session, items: list[DepartmentCreate]) -> tuple[int, int]:
    """Insert or update departments by code; returns (created, updated). All or nothing."""
    existing = {d.code: d for d in session.exec(select(Department)).all()}
    created = updated = 0
    for item in items:
        dept = existing.get(item.code)
        if dept is None:
            dept = Department(code=item.code, name=item.name, level=item.level, email=item.email)
            session.add(dept)
            existing[item.code] = dept
            created += 1
        else:
            dept.name, dept.level, dept.email = item.name, item.level, item.email
            updated += 1
    session.flush()
    for item in items:
        if item.competent_code:
            existing[item.code].competent_id = _usable_competent(session, existing, item).id
        elif "competent_code" in item.model_fields_set:
            # Given and empty (the page's “（无）”, JSON null): the department has no 主管部门 any more.
            # Left out (a file without the column) it keeps the one it has.
            existing[item.code].competent_id = None
    _refuse_competent_cycles(existing, [item.code for item in items])
    session.flush()
    return created, updated


def _usable_competent(
    session: Session, existing: dict[str, Department], item: DepartmentCreate
) -> Department:
    """The department ``item`` names as its 主管部门, which must exist and not be retired: a retired one
    would be sent every verification of its departments' complaints, and nobody can act for it.

    Re-read with a share lock, as ``active_department_by_code`` does: a retirement of it running at the
    same moment moves the departments under it, so it must either see this one or refuse it here."""
    code = item.competent_code or ""
    if code not in existing:
        raise ValidationFailed(
            f"部门 {item.code} 的主管部门 {code} 不存在 (unknown competent department)",
            field="competent_code",
        )
    competent = session.exec(
        select(Department)
        .where(Department.code == code)
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    ).one()
    if not competent.active:
        raise ValidationFailed(
            f"部门 {item.code} 的主管部门不可用：{retired_message(session, competent)}",
            field="competent_code",
        )
    return competent


def _refuse_competent_cycles(departments: dict[str, Department], codes: list[str]) -> None:
    """A 主管部门 verifies what its departments sign for (complaints/actions.py ``_sign_for``): one that is
    its own, or reached again up the chain, would verify complaints about itself."""
    by_id = {d.id: d for d in departments.values()}
    for code in codes:
        start = departments[code]
        chain = [start.code]
        seen = {start.id}
        current = by_id.get(start.competent_id)
        while current is not None:
            chain.append(current.code)
            if current.id == start.id:
                if len(chain) == 2:
                    raise ValidationFailed(
                        f"部门 {code} 不能以自己为主管部门；请选择其他部门，没有主管部门请选“（无）”"
                        " (a department cannot be its own competent department)",
                        field="competent_code",
                    )
                raise ValidationFailed(
                    f"部门 {code} 的主管部门形成循环（{' → '.join(chain)}）：主管部门不能互相指向；"
                    "请为其中一个部门改选其他主管部门或选“（无）” (competent departments form a cycle)",
                    field="competent_code",
                )
            if current.id in seen:
                break  # a loop further up that does not return here is reported for its own members
            seen.add(current.id)
            current = by_id.get(current.competent_id)


# Page sign-in passwords are chosen by people, so they get a slow salted hash (argon2), unlike tokens.
_password_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 10


def set_password(*, session: Session, user: User, password: str) -> None:
    """A new page password; every page session of the user ends (someone who knew the old one is out)."""
    if user.role in MACHINE_ROLES:
        raise ValidationFailed(
            "对接系统账号只用令牌，不能设置网页登录密码 (machine accounts have no password)"
        )
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"密码至少 {MIN_PASSWORD_LENGTH} 位，请换一个更长的密码 (password too short)")
    user.password_hash = _password_hasher.hash(password)
    end_sessions(session=session, user=user)


def end_sessions(*, session: Session, user: User) -> None:
    """End every page session of the user, on every device: the sign-in cookies carry the generation
    they were issued under, and one that is no longer the user's is refused (web/core.py). Flushed."""
    user.session_generation += 1
    session.add(user)
    session.flush()


# Deactivating an account or changing its role ends its sessions wherever it is done (admin page, CLI,
# a script): a cookie must never outlive the rights it was issued for, even if they are given back later.
# active_history loads the old value, so assigning the same value again ends nothing.
@event.listens_for(User.active, "set", active_history=True)
@event.listens_for(User.role, "set", active_history=True)
def _rights_changed(target: User, value: Any, oldvalue: Any, _initiator: Any) -> None:
    state = inspect(target, raiseerr=True)
    if state.has_identity and value != oldvalue:
        target.session_generation = (target.session_generation or 0) + 1


def authenticate_password(*, session: Session, name: str, password: str) -> User | None:
    """The active user with this name whose password matches; None otherwise (same cost either way)."""
    # In id order: if two active accounts share a name and password, the same (oldest) one signs in each time.
    candidates = session.exec(
        select(User)
        .where(User.name == name.strip(), col(User.active), col(User.role).in_(STAFF_ROLES))
        .order_by(col(User.id))
    ).all()
    verified = False
    for user in candidates:
        if user.password_hash is None:
            continue
        verified = True
        try:
            _password_hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            continue
        return user
    if not verified:
        # An unknown name, or accounts that have no password yet (token-only): spend one argon2
        # verification all the same, so the answer's timing does not reveal which staff names exist.
        try:
            _password_hasher.verify(_DUMMY_PASSWORD_HASH, password)
        except (VerificationError, InvalidHashError):
            pass
    return None


_DUMMY_PASSWORD_HASH = _password_hasher.hash("not-a-real-password")
