"""Personal data kept out of places it does not belong: masking for public answers and exports, formula
neutralisation for spreadsheets, and a logging hook that scrubs phone numbers, ID numbers and e-mail
addresses from every log record (logs are read by operators and shipped to other systems)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

# Mainland mobile numbers, 18-character resident ID numbers, e-mail addresses.
PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")
EMAIL = re.compile(r"([A-Za-z0-9])[A-Za-z0-9._%+-]*(@[A-Za-z0-9.-]+\.[A-Za-z]{2,})")


def mask_name(name: str) -> str:
    """张三 → 张*, 张小三 → 张*三, 欧阳小明 → 欧**明: enough to recognise, not to identify."""
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_phone(phone: str | None) -> str | None:
    """13812345678 → 138****5678; other numbers keep only their last four digits."""
    if not phone:
        return phone
    digits = re.sub(r"\D", "", phone)
    if len(digits) == 11:
        return f"{digits[:3]}****{digits[-4:]}"
    return "*" * max(0, len(digits) - 4) + digits[-4:]


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
    text = PHONE.sub(lambda m: f"{m[1]}****{m[2]}", text)
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
