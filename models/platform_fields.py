"""The national credit-information exchange's fields a platform document carries beyond the 双公示 record
(models/breach_record.py ``public_fields``): who represents an enterprise, the decision's document number,
the deciding body's and the data source's codes, the pledge's type and content. Field names and their
sources are listed in docs/integrations.md ("信用平台").

Every document is written through ``models.platform.enqueue_documents``, which adds these fields to a
whole batch with one query per few thousand records (the sweep publishes thousands at a time)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from models.breach import PublishedBreach
from models.id_sets import chunks, in_list
from models.org import Department
from models.pledge import ID_TYPE_LABELS, PLEDGE_TYPE_LABELS, IdType, Pledge, PledgeType, PledgorKind
from models.settings import get_settings

# The fields this module adds, in the order docs/integrations.md lists them.
NATIONAL_FIELDS = (
    "WSH",  # 决定文书号: the breach record's number, the document Shouxin issues for the decision
    "FDDBR",  # 法定代表人 (enterprises only)
    "FDDBRZJLX",  # 法定代表人证件类型
    "FDDBRZJHM",  # 法定代表人证件号码
    "RDBMDM",  # 认定部门统一社会信用代码
    "SJLY",  # 数据来源单位
    "SJLYDM",  # 数据来源单位统一社会信用代码
    "CNLX",  # 承诺类型
    "CNNR",  # 承诺内容
)

_B = PublishedBreach.__table__  # type: ignore[attr-defined]
_P = Pledge.__table__  # type: ignore[attr-defined]
_D = Department.__table__  # type: ignore[attr-defined]


def _label(labels: Mapping[Any, str], value: str | None, kind: type) -> str:
    return labels.get(kind(value), value) if value else ""


def national_fields(row: Any, *, source_name: str, source_code: str) -> dict[str, str]:
    """The national fields of one record from its joined row (the columns ``_query`` selects); a field
    without a value is an empty string, as the exchange expects every field present."""
    enterprise = row.subject_kind == PledgorKind.ENTERPRISE.value
    return {
        "WSH": row.number,
        "FDDBR": (row.legal_representative or "") if enterprise else "",
        "FDDBRZJLX": _label(ID_TYPE_LABELS, row.legal_representative_id_type, IdType) if enterprise else "",
        "FDDBRZJHM": (row.legal_representative_id_number or "") if enterprise else "",
        "RDBMDM": row.credit_code or "",
        "SJLY": source_name,
        "SJLYDM": source_code,
        "CNLX": _label(PLEDGE_TYPE_LABELS, row.pledge_type, PledgeType),
        "CNNR": row.obligation or "",
    }


def _query(session: Session, breach_ids: Sequence[int]) -> Any:
    joined = _B.outerjoin(_P, _P.c.id == _B.c.pledge_id).outerjoin(_D, _D.c.id == _B.c.department_id)
    return (
        select(
            _B.c.id,
            _B.c.number,
            _B.c.subject_kind,
            _D.c.credit_code,
            _P.c.pledge_type,
            _P.c.obligation,
            _P.c.legal_representative,
            _P.c.legal_representative_id_type,
            _P.c.legal_representative_id_number,
        )  # fmt: skip
        .select_from(joined)
        .where(in_list(session, _B.c.id, breach_ids))
    )


def add_national_fields(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Add the national fields to each document row's ``payload["record"]`` in place."""
    settings = get_settings()
    source_name = settings.credit_platform_source_name or settings.issuer_name
    source_code = settings.credit_platform_source_code
    ids = sorted({row["breach_id"] for row in rows})
    found: dict[int, dict[str, str]] = {}
    for part in chunks(ids):
        for r in session.execute(_query(session, part)):
            found[r.id] = national_fields(r, source_name=source_name, source_code=source_code)
    for row in rows:
        fields = found.get(row["breach_id"])
        if fields is not None:
            row["payload"]["record"].update(fields)
