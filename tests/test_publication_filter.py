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


@pytest.mark.parametrize(
    "text",
    [
        "承诺期限20260101-20261231",
        "承诺期限2026-01-01-2026-12-31",
        "统一社会信用代码911100001234500051的企业",  # all digits, its check character valid
    ],
)
def test_a_period_of_two_dates_and_an_all_digit_credit_code_are_shown_as_written(text: str) -> None:
    # A card is 16 to 19 digits and an ID number 18: these are neither, and a reader of the register needs
    # them (the credit code is a public column of the record anyway).
    assert publication_text(text) == text


def test_digits_that_only_look_like_a_credit_code_or_a_period_are_still_masked() -> None:
    # One check character off, the 18 digits may be a card; an ID number's birth date reads as a date.
    assert publication_text("卡号911100001234500052") == "卡号**************0052"
    # A valid check character alone is no proof (a card meets it once in 31): the code's label is.
    assert publication_text("卡号911100001234500051") == "卡号**************0051"
    assert publication_text("身份证110101200001011234") == "身份证110101********1234"
    assert publication_text("卡号2026010120261399") == "卡号************1399"  # no 13th month
