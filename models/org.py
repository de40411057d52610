"""Departments (责任单位) and users (staff accounts)."""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BeforeValidator, EmailStr, TypeAdapter, ValidationError, field_validator
from sqlalchemy import Column
from sqlmodel import Field, Session, SQLModel

from models.clock import utcnow
from models.lifecycle import Role
from models.text import Line
from models.types import UTCDateTime


class DepartmentLevel(StrEnum):
    CITY = "city"  # 市级
    COUNTY = "county"  # 县（区、旗）级
    ZONE = "zone"  # 开发区


LEVEL_LABELS = {DepartmentLevel.CITY: "市级", DepartmentLevel.COUNTY: "县级", DepartmentLevel.ZONE: "开发区"}

# The check every typed contact address already gets (PledgeCreate, ComplaintCreate: pydantic's EmailStr),
# so a department's or an account's address is refused on entry rather than dying in the outbox later.
_EMAIL_ADDRESS = TypeAdapter(EmailStr)


def _email_address(value: Any) -> Any:
    """A blank address is no address; any other must be one, with a message saying how to write it."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        return None
    try:
        return _EMAIL_ADDRESS.validate_python(text)
    except ValidationError:
        shown = text if len(text) <= 60 else text[:60] + "…"
        raise ValueError(
            f"“{shown}”不是有效的电子邮箱地址；请填写完整的地址，如 bangongshi@example.gov.cn"
            "（一个 @，其后是带“.”的域名，不含空格），没有邮箱请留空 (not a valid e-mail address)"
        ) from None


# An e-mail address as entered (the stored rows keep plain ``str``: they are read back, never re-checked).
EmailAddress = Annotated[str | None, BeforeValidator(_email_address)]


# Fields a department is created and shown with.
class DepartmentBase(SQLModel):
    code: Line = Field(min_length=1, max_length=32, index=True, unique=True)
    name: Line = Field(min_length=1, max_length=128)
    level: DepartmentLevel = DepartmentLevel.CITY
    email: str | None = Field(default=None, max_length=254)
    # 统一社会信用代码 of the department: the deciding body's code (SX_RDBMDM) in credit-platform documents.
    credit_code: Line | None = Field(default=None, max_length=18)


_DEPARTMENT_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


# Input for creating or importing a department; the competent department is given by code: given as
# None it is cleared, left out (a file without that column) it stays as it is.
class DepartmentCreate(DepartmentBase):
    email: EmailAddress = Field(default=None, max_length=254)
    competent_code: str | None = None

    @field_validator("code")
    @classmethod
    def _code_fits_a_path(cls, value: str) -> str:
        # A code names the department in page and API paths (/departments/{code}/…), files and commands.
        if not _DEPARTMENT_CODE.fullmatch(value):
            raise ValueError(
                f"部门代码“{value}”只能由字母、数字和 - _ . 组成，且以字母或数字开头"
                " (letters, digits, - _ . only)"
            )
        return value


# The stored department; ``competent_id`` is its 主管部门 (the 认定部门 for complaints against it).
class Department(DepartmentBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    competent_id: int | None = Field(default=None, foreign_key="department.id")
    active: bool = True
    # The department that took over a retired one's open work (机构改革: merged, abolished, renamed);
    # set with ``active`` false by models/department_retire.py, so a later reader can follow the chain.
    successor_id: int | None = Field(default=None, foreign_key="department.id")


def competent_of(session: Session, department_id: int | None) -> int | None:
    """The department's 主管部门 (the 认定部门 for complaints against it), if it has one."""
    if department_id is None:
        return None
    dept = session.get(Department, department_id)
    return dept.competent_id if dept else None


# What the API returns.
class DepartmentPublic(DepartmentBase):
    id: int
    competent_id: int | None
    active: bool = True
    successor_id: int | None = None  # set when retired in a reorganisation (撤并): who carries its work on


# Fields of a staff account.
class UserBase(SQLModel):
    name: Line = Field(min_length=1, max_length=64)
    role: Role
    email: str | None = Field(default=None, max_length=254)


# Input for creating a user; the department is given by code (required for handlers).
class UserCreate(UserBase):
    email: EmailAddress = Field(default=None, max_length=254)
    department_code: str | None = None


# The stored user; the API token and the page password are stored hashed only.
class User(UserBase, table=True):
    __tablename__ = "app_user"
    id: int | None = Field(default=None, primary_key=True)
    department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    token_hash: str = Field(index=True, unique=True, max_length=128)
    password_hash: str | None = None
    # Carried in each page sign-in cookie and bumped to end every session of the user at once (sign-out,
    # new password, deactivation, role change): models/accounts.py end_sessions.
    session_generation: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    active: bool = True
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


# What the API returns about a user.
class UserPublic(UserBase):
    id: int
    department_id: int | None
    active: bool
