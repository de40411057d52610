"""Personal data kept out of places it does not belong: masking for public answers and exports, formula
neutralisation for spreadsheets, and a logging hook that scrubs phone numbers, ID numbers and e-mail
addresses from every log record (logs are read by operators and shipped to other systems)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

# Mainland mobile numbers, 18-character resident ID numbers, e-mail addresses.
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")
EMAIL = re.compile(r"([A-Za-z0-9])[A-Za-z0-9._%+-]*(@[A-Za-z0-9.-]+\.[A-Za-z]{2,})")


def mask_name(name: str) -> str:
    """张三 → 张*, 张小三 → 张*三, 欧阳小明 → 欧**明: enough to recognise, not to identify."""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


# A mainland mobile, with or without the country code (+86 / 0086).
_MOBILE = re.compile(r"(?:(?:00)?86)?(1[3-9]\d{9})")
# Mainland area codes: 010 and 02x have three digits, every other one (0xxx) four.
_SHORT_AREA = re.compile(r"0[12]")
# Fewer digits than this is a service number, an extension or a typo: the last four would be most of it.
_SHORTEST_REVEALED = 7


def mask_phone(phone: str | None) -> str | None:
    """A phone number that shows no more of the subscriber than its last four digits.

    - mobile ``13812345678`` (also ``+86 138 1234 5678``, ``0086…``) → ``138****5678``: the first three
      digits name the carrier, not the person (the usual way of writing a masked mobile in China);
    - landline ``0571-87654321`` (also ``057187654321``, ``(010)12345678``) → ``0571-****4321``: the area
      code is shown, since it names only the city and tells staff where the caller is;
    - any other number of 7 digits or more keeps its last four (``****4321``); a shorter one is masked
      entirely (``*****``: the last four of a 5-digit number would be nearly all of it);
    - only the digits are kept (spaces, dashes, brackets and ``+`` go); ``None`` and ``""`` come back
      unchanged.
    """
    if not phone:
        return phone
    digits = re.sub(r"\D", "", phone)
    mobile = _MOBILE.fullmatch(digits)
    if mobile:
        number = mobile[1]
        return f"{number[:3]}****{number[-4:]}"
    if digits.startswith("0") and 10 <= len(digits) <= 12:
        area = digits[:3] if _SHORT_AREA.match(digits) else digits[:4]
        return f"{area}-{'*' * (len(digits) - len(area) - 4)}{digits[-4:]}"
    if len(digits) < _SHORTEST_REVEALED:
        return "*" * len(digits)
    return "*" * (len(digits) - 4) + digits[-4:]


def mask_email(email: str | None) -> str | None:
    """wang.xiaoming@example.com → w***@example.com."""
    if not email or "@" not in email:
        return email
    local, domain = email.rsplit("@", 1)
    return f"{local[:1]}***@{domain}"


def mask_id_number(value: str | None) -> str | None:
    """110101199003071234 → 110101********1234."""
    if not value or len(value) < 10:
        return value
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def scrub(text: str) -> str:
    """Mask every phone number, ID number and e-mail address inside free text."""
    text = ID_NUMBER.sub(lambda m: f"{m[1]}********{m[2]}", text)
    text = PHONE.sub(lambda m: mask_phone(m[0]) or "", text)
    return EMAIL.sub(lambda m: f"{m[1]}***{m[2]}", text)


# Spreadsheet programs run a cell starting with one of these as a formula (CSV/formula injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """A cell value that no spreadsheet will evaluate: text starting with = + - @ TAB CR gets a leading '."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


_installed: list[Callable[..., logging.LogRecord]] = []


def install_log_scrubber() -> None:
    """Scrub personal data from every log record of the process (idempotent).

    A record factory rather than a ``logging.Filter``: filters attach to one logger or handler and are
    skipped by records of child loggers and of handlers added later (uvicorn's, Prefect's); the factory
    sees every record once."""
    if _installed:
        return
    base = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed format string: leave it to logging to report
            return record
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return record

    logging.setLogRecordFactory(factory)
    _installed.append(base)
