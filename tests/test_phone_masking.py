"""One phone-masking rule (models/privacy.py) for public answers, exports and the templates' filter."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jinja2 import Environment, StrictUndefined, UndefinedError

from models.privacy import mask_phone
from notifications import render


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("138 1234 5678", "138****5678"),
        ("138-1234-5678", "138****5678"),
        ("+86 138 1234 5678", "138****5678"),
        ("+8613812345678", "138****5678"),
        ("0086 13812345678", "138****5678"),
        ("0571-87654321", "0571-****4321"),
        ("057187654321", "0571-****4321"),
        ("(010)12345678", "010-****5678"),
        ("021 6543 2109", "021-****2109"),
        ("0571-8765432", "0571-***5432"),  # a 7-digit subscriber number
        ("87654321", "****4321"),  # no area code
        ("0044 20 1234 5678", "**********5678"),  # abroad: last four only
        ("12345678901", "*******8901"),  # 11 digits, but not a mobile prefix
        ("955880", "******"),  # short: nothing shown
        ("12345", "*****"),
        ("5678", "****"),
        ("", ""),
        (None, None),
    ],
)
def test_mask_phone(phone: str | None, masked: str | None) -> None:
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(
    "phone", ["13812345678", "+86 138 1234 5678", "0571-87654321", "87654321", "955880", "5678"]
)
def test_template_filter_masks_as_the_domain_does(phone: str) -> None:
    assert render.mask_phone(phone) == mask_phone(phone)


@given(st.text(alphabet="0123456789 -+()", max_size=20))
def test_never_more_than_the_last_four_of_the_subscriber(phone: str) -> None:
    shown = mask_phone(phone)
    assert shown is not None
    digits = "".join(c for c in phone if c.isdigit())
    if len(digits) < 7:
        assert shown == "*" * len(digits)
        return
    # What precedes the stars is a mobile's carrier prefix (1xx) or an area code (0xx- / 0xxx-), at most.
    prefix, _, rest = shown.partition("*")
    assert re.fullmatch(r"(1[3-9]\d|0\d{2,3}-)?", prefix)
    assert sum(c.isdigit() for c in rest) == 4
    assert shown.endswith(digits[-4:])


def test_template_filter_in_a_template() -> None:
    env = Environment(undefined=StrictUndefined, autoescape=True)
    env.filters["mask_phone"] = render.mask_phone
    template = env.from_string("联系电话：{{ phone | mask_phone }}")
    assert template.render(phone="0571-87654321") == "联系电话：0571-****4321"
    assert template.render(phone="") == "联系电话："
    with pytest.raises(UndefinedError):
        template.render()
