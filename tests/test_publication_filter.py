"""The one publication filter (models/privacy.py ``publication_text``) masks every kind of personal data
people type into free text, and leaves ordinary figures alone."""

from __future__ import annotations

import pytest

from models.privacy import publication_text


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("电话13912345678", "电话139****5678"),
        ("电话 139 1234 5678 或 +86 139-1234-5678", "电话 139****5678 或 139****5678"),
        ("座机0571-87654321", "座机0571-****4321"),
        ("座机(010)12345678、（0571）8765432", "座机010-****5678、0571-***5432"),
        ("身份证110101199003071234", "身份证110101********1234"),
        ("身份证11010119900307123x", "身份证110101********123x"),
        ("卡号6222021234567890", "卡号************7890"),
        ("卡号 6222 0212 3456 7890 123", "卡号 ***************0123"),
        ("邮箱wang.xm@example.com", "邮箱w***@example.com"),
        ("拖欠1250000元，2026年3月2日，合同2026-15号", "拖欠1250000元，2026年3月2日，合同2026-15号"),
    ],
)
def test_each_kind_of_personal_data_is_masked(text: str, shown: str) -> None:
    assert publication_text(text) == shown
    assert publication_text(shown) == shown  # filtering twice changes nothing


def test_known_names_are_masked_longest_first() -> None:
    text = "欧阳小明和王五反映"
    assert publication_text(text, names=["王五", "欧阳小明", None, "欧"]) == "欧**明和王*反映"
    assert publication_text(None) is None
