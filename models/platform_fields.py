"""The national credit-information exchange's fields a platform document carries beyond the 双公示 record
(models/breach_record.py ``public_fields``): who represents an enterprise, the decision's document number,
the data source and its code, and the deciding department's code and the pledge's type and content.

Names follow the 双公示 data standard of the 全国信用信息共享平台 (行政处罚 catalogue ``CF_*``, without the
catalogue prefix, as ``XDR_MC``, ``JDRQ`` and ``GSJZQ`` already are). The standard has no item for the
deciding department of a breach finding (认定部门) or for a credit pledge (信用承诺): those three carry the
``SX_`` prefix, a Shouxin extension, so no receiver takes them for national items. Sources, the mapping
and the names used before issue 17 are in docs/integrations.md ("信用平台").

Every document is written through ``models.platform.enqueue_documents``, which adds these fields to a
whole batch with one query per few thousand records (the sweep publishes thousands at a time)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from models.breach import PublishedBreach
from models.id_sets import chunks, in_list
from models.org import Department
from models.pledge import ID_TYPE_LABELS, PLEDGE_TYPE_LABELS, IdType, Pledge, PledgeType, PledgorKind
from models.privacy import publication_text
from models.settings import get_settings

# The fields this module adds, in the order docs/integrations.md lists them, with the standard's item.
NATIONAL_FIELDS = (
    "WSH",  # CF_WSH 行政处罚决定书文号: the breach record's number, the document Shouxin issues
    "FRDB",  # CF_FRDB 法定代表人 (enterprises only)
    "FR_ZJLX",  # CF_FR_ZJLX 法定代表人证件类型
    "FR_ZJHM",  # CF_FR_ZJHM 法定代表人证件号码
    "SJLY",  # CF_SJLY 数据来源单位
    "SJLYDM",  # CF_SJLYDM 数据来源单位统一社会信用代码
    "SX_RDBMDM",  # Shouxin extension: 认定部门统一社会信用代码 (nearest national item: CF_CFJGDM)
    "SX_CNLX",  # Shouxin extension: 承诺类型 (no national item)
    "SX_CNNR",  # Shouxin extension: 承诺内容 (no national item)
)

_B = PublishedBreach.__table__  # type: ignore[attr-defined]
_P = Pledge.__table__  # type: ignore[attr-defined]
_D = Department.__table__  # type: ignore[attr-defined]


# Each code type's labels; ``_label`` is cached because a sweep batch looks up the same few stored codes
# for thousands of documents.
_LABELS: dict[type, Mapping[Any, str]] = {IdType: ID_TYPE_LABELS, PledgeType: PLEDGE_TYPE_LABELS}


@lru_cache(maxsize=128)
def _label(kind: type, value: str | None) -> str:
    return _LABELS[kind].get(kind(value), value) if value else ""


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
    """Add the national fields to each document row's ``payload["record"]`` in place: one dict a record
    from its joined row (the columns ``_query`` selects, fetched at once and unpacked as tuples), the data
    source's two fields read once a batch. A field without a value is an empty string, as the exchange
    expects every field present. The pledge's obligation goes through the publication filter
    (models/privacy.py ``publication_text``), as everything sent outside does."""
    settings = get_settings()
    # Refused at start-up while a platform URL is set and either is a placeholder or empty
    # (models/settings.py ``_platform_source_named``).
    source_name = settings.credit_platform_source()
    source_code = settings.credit_platform_source_code
    enterprise_kind = PledgorKind.ENTERPRISE.value
    ids = sorted({row["breach_id"] for row in rows})
    found: dict[int, dict[str, str]] = {}
    for part in chunks(ids):
        result = session.execute(_query(session, part)).all()
        for id_, number, kind, credit_code, pledge_type, obligation, rep, rep_type, rep_number in result:
            enterprise = kind == enterprise_kind
            found[id_] = {
                "WSH": number,
                "FRDB": (rep or "") if enterprise else "",
                "FR_ZJLX": _label(IdType, rep_type) if enterprise else "",
                "FR_ZJHM": (rep_number or "") if enterprise else "",
                "SJLY": source_name,
                "SJLYDM": source_code,
                "SX_RDBMDM": credit_code or "",
                "SX_CNLX": _label(PledgeType, pledge_type),
                # The one field here that is free text a person typed: it goes through the publication
                # filter like the record's facts (names unmasked, as the platform gets XDR_MC). The rest
                # are codes, labels or the standard's own items (FRDB, FR_ZJHM: the exchange requires
                # the legal representative's name and full ID number).
                "SX_CNNR": publication_text(obligation) or "",
            }
    for row in rows:
        fields = found.get(row["breach_id"])
        if fields is not None:
            row["payload"]["record"].update(fields)
