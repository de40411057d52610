"""统一社会信用代码 (GB 32100-2015): validation with a reason, and the check character."""

from __future__ import annotations

import operator
import string
import unicodedata

from models.errors import InvalidCreditCode

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUES = {char: value for value, char in enumerate(CHARSET)}
_LEGAL = frozenset(CHARSET)
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# Letters GB 32100 leaves out because they are easily read as digits (I/1, O/0, S/5, V/U, Z/2).
_EXCLUDED_LETTERS = "IOSVZ"

REGISTERING_AUTHORITIES: dict[str, str] = {
    "1": "机构编制",
    "2": "外交",
    "3": "司法行政",
    "4": "文化",
    "5": "民政",
    "6": "旅游",
    "7": "宗教",
    "8": "工会",
    "9": "市场监管（工商）",
    "A": "中央军委改革和编制办公室",
    "N": "农业",
    "Y": "其他",
}

# GB 11714-1997 organisation code (positions 9–17): weights on its first 8 characters.
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_CHARS = frozenset(string.digits + string.ascii_uppercase)


def _fail(reason: str, english: str, code: str) -> InvalidCreditCode:
    return InvalidCreditCode(f"统一社会信用代码“{code}”无效：{reason} ({english})", code=code, rule=english)


def check_character(body17: str) -> str:
    """The 18th character for a 17-character body already made of legal characters."""
    if len(body17) != len(_WEIGHTS):
        raise ValueError(f"the body has {len(body17)} characters, not {len(_WEIGHTS)}")
    # map() keeps the loop in C: this runs for every row of a bulk import.
    total = sum(map(operator.mul, map(_VALUES.__getitem__, body17), _WEIGHTS))
    return CHARSET[(31 - total % 31) % 31]


def normalise_credit_code(code: str) -> str:
    """A typed credit code as it is checked and stored: full-width folded, trimmed, upper-case."""
    # NFKC turns full-width ９１４４… (common when pasted from Word or a PDF) into ASCII; ASCII is
    # already in NFKC, so the common case skips it.
    text = code if code.isascii() else unicodedata.normalize("NFKC", code)
    return text.strip().upper()


def _check_characters(code: str, original: str) -> None:
    if _LEGAL.issuperset(code):
        return
    for position, char in enumerate(code, start=1):
        if char in _VALUES:
            continue
        if char in _EXCLUDED_LETTERS:
            hint = "字母 I、O、S、V、Z 不用于信用代码，请核对是否为 1、0、5、U、2"
        else:
            hint = "只能使用数字和除 I、O、S、V、Z 以外的大写字母"
        raise _fail(
            f"第 {position} 位“{char}”是非法字符；{hint}",
            f"illegal character {char!r} at position {position}",
            original,
        )


def _check_structure(code: str, original: str) -> None:
    if code[0] not in REGISTERING_AUTHORITIES:
        known = "、".join(f"{key} {name}" for key, name in REGISTERING_AUTHORITIES.items())
        raise _fail(
            f"第 1 位登记管理部门代码“{code[0]}”不存在（应为 {known}）；请核对第 1 位",
            f"unknown registering authority {code[0]!r} at position 1",
            original,
        )
    region = code[2:8]
    if not region.isdigit():
        raise _fail(
            f"第 3–8 位登记管理机关行政区划码“{region}”必须全是数字；请核对这 6 位",
            f"region code {region!r} at positions 3-8 must be digits",
            original,
        )


def validate_credit_code(code: str) -> str:
    """The normalised code (full-width folded, stripped, upper-case) or ``InvalidCreditCode`` saying why."""
    normalised = normalise_credit_code(code)
    if len(normalised) != 18:
        raise _fail(
            f"长度为 {len(normalised)} 位，应为 18 位；请核对是否漏输或多输",
            f"length is {len(normalised)}, must be 18",
            code.strip(),
        )
    _check_characters(normalised, code.strip())
    _check_structure(normalised, code.strip())
    expected = check_character(normalised[:17])
    if normalised[17] != expected:
        raise _fail(
            f"第 18 位校验码应为“{expected}”，实为“{normalised[17]}”；代码中可能有输错的字符，请逐位核对",
            f"check character should be {expected!r}, got {normalised[17]!r}",
            code.strip(),
        )
    return normalised


def is_valid_credit_code(code: str) -> bool:
    try:
        validate_credit_code(code)
    except InvalidCreditCode:
        return False
    return True


def make_credit_code(body17: str) -> str:
    """``body17`` plus its check character, validated as a whole (for tests and demo data)."""
    body = normalise_credit_code(body17)
    if len(body) != 17:
        raise _fail(
            f"主体部分长度为 {len(body)} 位，应为 17 位", f"body length is {len(body)}, must be 17", body17
        )
    _check_characters(body, body17)
    return validate_credit_code(body + check_character(body))


def organisation_code_check_ok(code: str) -> bool:
    """Whether positions 9–17 carry a valid GB 11714 check digit.

    Informational only, never part of ``validate_credit_code``: not every issued code is known to follow
    GB 11714 in positions 9–17 (e.g. codes assigned to 个体工商户), and refusing a real subject is worse
    than the typo it might catch, which the mod-31 check already does for any single substitution.
    """
    org = normalise_credit_code(code)[8:17]
    if len(org) != 9 or not all(char in _ORG_CHARS for char in org[:8]):
        return False
    # GB 11714 values: digits as themselves, letters A=10 … Z=35.
    total = sum(int(char, 36) * weight for char, weight in zip(org[:8], _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    expected = "X" if check == 10 else "0" if check == 11 else str(check)
    return org[8] == expected
