"""The import key of a row must not change across releases: a file imported before an upgrade and
imported again after it must be counted as already imported, not duplicated."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from models.pledges.import_rows import validate_row

RAW = {
    "pledgor_kind": "企业", "pledgor_name": "甲公司", "pledgor_credit_code": "91440300708461136T",
    "pledgor_email": "a@example.com", "matter": "施工许可", "obligation": "审查合格书",
    "deadline": "2026-04-30", "authority_code": "D01", "legal_basis": "建筑法",
}  # fmt: skip
TODAY = dt.date(2026, 3, 2)


def _key_before_orjson(values: dict[str, object]) -> str:
    # How releases up to f0fafa0 computed the key (json.dumps with its default separators), over the values
    # rows had then: the pledgor's phone came later and is not part of the key.
    earlier = {k: v for k, v in values.items() if k != "pledgor_phone"}
    canonical = json.dumps(earlier, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def test_import_key_is_the_one_earlier_releases_stored() -> None:
    row, errors = validate_row(2, RAW, {"D01": 7}, None, today=TODAY)
    assert errors == []
    assert row is not None
    assert row.key == _key_before_orjson(row.values)


def test_import_key_without_optional_fields_matches_too() -> None:
    raw = {**RAW, "pledgor_email": "", "legal_basis": "", "pledgor_kind": "个人", "pledgor_credit_code": ""}
    row, errors = validate_row(3, raw, {"D01": 7}, None, today=TODAY)
    assert errors == []
    assert row is not None
    assert row.key == _key_before_orjson(row.values)
