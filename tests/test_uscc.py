"""统一社会信用代码: real codes, one failure per rule, and the properties of the mod-31 check."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.errors import InvalidCreditCode
from models.uscc import (
    CHARSET,
    REGISTERING_AUTHORITIES,
    is_valid_credit_code,
    make_credit_code,
    organisation_code_check_ok,
    validate_credit_code,
)

# Published codes of well-known companies; each also passes the independent GB 11714 check below,
# which a mis-remembered code would be very unlikely to do by chance.
REAL_CODES = [
    "91440300708461136T",
    "9144030071526726XG",  # 腾讯科技（深圳）有限公司
    "914403001922038216",  # 华为技术有限公司
    "91330100799655058B",  # 阿里巴巴（中国）有限公司
    "91110108551385082Q",  # 小米科技有限责任公司
    "91110000802100433B",  # 北京百度网讯科技有限公司
    "911100007109287788",  # 中国石油化工股份有限公司
]


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_codes_are_valid(code: str) -> None:
    assert validate_credit_code(code) == code
    assert is_valid_credit_code(code)
    assert organisation_code_check_ok(code)
    assert make_credit_code(code[:17]) == code


def test_normalises_case_whitespace_and_full_width() -> None:
    assert validate_credit_code("  9144030071526726xg\n") == "9144030071526726XG"
    assert validate_credit_code("９１４４０３００７０８４６１１３６Ｔ") == "91440300708461136T"


@pytest.mark.parametrize(
    ("code", "fragments"),
    [
        ("9144030070846113", ["长度为 16 位", "应为 18 位", "length is 16"]),
        ("91440300708461136TT", ["长度为 19 位"]),
        ("", ["长度为 0 位"]),
        ("91440300708461I36T", ["第 15 位", "“I”", "I、O、S、V、Z", "position 15"]),
        ("9144030070846113-T", ["第 17 位", "“-”", "非法字符"]),
        ("01440300708461136T", ["第 1 位", "登记管理部门", "9 市场监管", "registering authority"]),
        ("B1440300708461136T", ["第 1 位", "“B”"]),
        ("914A0300708461136T", ["第 3–8 位", "4A0300", "数字", "region code"]),
        ("91440300708461136A", ["第 18 位", "应为“T”", "实为“A”", "should be 'T'"]),
        ("91440300708461163T", ["应为“", "check character"]),
    ],
)
def test_each_rule_says_why(code: str, fragments: list[str]) -> None:
    with pytest.raises(InvalidCreditCode) as info:
        validate_credit_code(code)
    for fragment in fragments:
        assert fragment in info.value.message
    assert not is_valid_credit_code(code)


def test_make_credit_code_refuses_a_bad_body() -> None:
    with pytest.raises(InvalidCreditCode, match="17 位"):
        make_credit_code("9144030070846113")
    with pytest.raises(InvalidCreditCode, match="非法字符"):
        make_credit_code("9144030070846113O")
    with pytest.raises(InvalidCreditCode, match="登记管理部门"):
        make_credit_code("C1440300708461136")


def test_organisation_code_check_is_information_only() -> None:
    # Positions 9–17 with a wrong GB 11714 digit, but a correct mod-31 check: still a valid USCC.
    code = make_credit_code("91440300708461137")
    assert is_valid_credit_code(code)
    assert not organisation_code_check_ok(code)
    assert not organisation_code_check_ok("short")


_charset = st.sampled_from(CHARSET)
bodies = st.builds(
    lambda authority, kind, region, rest: authority + kind + region + rest,
    st.sampled_from(sorted(REGISTERING_AUTHORITIES)),
    _charset,
    st.text(alphabet="0123456789", min_size=6, max_size=6),
    st.text(alphabet=CHARSET, min_size=9, max_size=9),
)


@given(bodies)
def test_any_well_formed_body_gets_a_valid_code(body: str) -> None:
    code = make_credit_code(body)
    assert code[:17] == body
    assert validate_credit_code(code) == code


@given(bodies, st.integers(min_value=0, max_value=17), _charset)
def test_every_single_substitution_is_caught(body: str, position: int, replacement: str) -> None:
    code = make_credit_code(body)
    if code[position] == replacement:
        replacement = CHARSET[(CHARSET.index(replacement) + 1) % len(CHARSET)]
    altered = code[:position] + replacement + code[position + 1 :]
    assert not is_valid_credit_code(altered)
