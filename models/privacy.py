"""Personal data kept out of places it does not belong: masking for public answers and exports (one
publication filter, ``publication_text``, for everything shown to the public or sent outside), formula
neutralisation for spreadsheets, and a logging hook that scrubs phone numbers, ID numbers and e-mail
addresses from every log record (logs are read by operators and shipped to other systems)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any
from urllib.parse import quote_plus, unquote, unquote_plus

from models.uscc import is_valid_credit_code

# The one set of patterns for personal data in free text, used by the publication filter and the log
# scrubber alike. Written for text people type: digits may be grouped by spaces, dashes or dots, and are
# matched after ``_FOLD`` (a Chinese input method types full-width digits, １３８, and 　 as a space). A
# number inside a hex token (a run id, a trace id: digits running into a-f letters up to a non-letter) is
# no phone or card, but one beside a word is (Tel13812345678, 87654321Fax, a credit code's last letter).
# Before a number: not the end of a hex token (two hex characters ending in a letter, as in 9a1b or
# abcdef). After it: not a run of hex letters and digits that ends where letters end (possessive, so a
# word such as Fax or ext, hex-like only at its start, does not count).
_NOT_IN_HEX = r"(?<![0-9A-Fa-f][A-Fa-f])"
_HEX_AFTER = r"(?![A-Fa-f][0-9A-Fa-f]*+(?![G-Zg-z]))"
EMAIL = re.compile(r"([A-Za-z0-9])[A-Za-z0-9._%+-]*(@[A-Za-z0-9.-]+\.[A-Za-z]{2,})")
_FOLD = str.maketrans(
    {
        **{chr(0xFF10 + i): str(i) for i in range(10)},
        **{"\u3000": " ", "－": "-", "．": ".", "＋": "+", "＠": "@"},
    }
)
_FOLDABLE = re.compile("[\uff10-\uff19\u3000－．＋＠]")
# A mobile, possibly grouped (138 1234 5678, 138-1234-5678, 138.1234.5678) and with +86 / 0086.
_PUBLIC_MOBILE = re.compile(
    rf"(?<![\d+]){_NOT_IN_HEX}(?:(?:\+|00)86[ -]?)?1[3-9]\d[ .-]?\d{{4}}[ .-]?\d{{4}}(?!\d){_HEX_AFTER}"
)
# A landline with its area code: 0571-87654321, 010 12345678, (010)12345678, （0571）8765432.
_PUBLIC_LANDLINE = re.compile(
    rf"(?<!\d){_NOT_IN_HEX}(?:[(（]0\d{{2,3}}[)）]|0\d{{2,3}})[ -]?\d{{3,4}}[ -]?\d{{4}}(?!\d){_HEX_AFTER}"
)
# A bank card: 16 to 19 digits, possibly in groups of four (6222 0212 3456 7890 123).
# Not before a letter: 17 digits and a letter are a credit code (91440300708461136T), not a card.
_PUBLIC_CARD = re.compile(rf"(?<!\d){_NOT_IN_HEX}\d{{4}}(?:[ -]?\d){{12,15}}(?![0-9A-Za-z])")
# A date written as eight digits (YYYYMMDD, years 1900–2099): the birth date inside an ID number (GB 11643).
_DATE8 = r"(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
# An ID number, also with a lower-case x or with a space or dash after the region and the birth date. The
# birth date must read as one: 18 digits that do not (an all-digit credit code) are no ID number.
_PUBLIC_ID = re.compile(rf"(?<![0-9A-Za-z])\d{{6}}[ -]?{_DATE8}[ -]?\d{{3}}[\dXx](?![0-9A-Za-z])")
_TWO_DATES = re.compile(_DATE8 * 2)


# What a credit code is introduced by (统一社会信用代码：…, 信用代码 …), just before it.
_CODE_LABEL = re.compile(r"信用代码\s*(?:为|是)?\s*[：:（(]?\s*$")


def _no_card(text: str, match: re.Match[str]) -> bool:
    """Digits the card pattern finds that are something public instead: a period written as two dates
    (20260101-20261231, 2026-01-01-2026-12-31), or an all-digit unified social credit code written after
    its label (a code is public in the register anyway). The label is required: 18 digits of a card meet
    the code's check character by chance once in 31."""
    digits = _digits(match)
    if _TWO_DATES.fullmatch(digits):
        return True
    before = text[max(0, match.start() - 16) : match.start()]
    return len(digits) == 18 and is_valid_credit_code(digits) and bool(_CODE_LABEL.search(before))


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


def _digits(match: re.Match[str]) -> str:
    return re.sub(r"[ .-]", "", match[0])


def _mask_digits(match: re.Match[str], keep_head: int = 0) -> str:
    digits = _digits(match)
    return digits[:keep_head] + "*" * (len(digits) - keep_head - 4) + digits[-4:]


def _mask_contacts(text: str, *, cards: bool) -> str:
    """``text`` with its ID numbers, mobiles, landlines, e-mail addresses (and bank cards) masked, the rest
    as it was: the patterns match the folded text (``_FOLD`` maps each character to one, so positions
    agree) and only the matches are replaced, so full-width text with no personal data is not rewritten."""
    # str.translate walks the text in Python-level steps on non-ASCII text: most texts hold nothing to fold.
    folded = text.translate(_FOLD) if _FOLDABLE.search(text) else text
    taken: list[tuple[int, int, str]] = []

    def take(
        pattern: re.Pattern[str],
        mask: Callable[[re.Match[str]], str],
        unless: Callable[[str, re.Match[str]], bool] | None = None,
    ) -> None:
        for m in pattern.finditer(folded):
            start, end = m.span()
            if unless is not None and unless(folded, m):
                continue
            if not any(start < e and s < end for s, e, _ in taken):
                taken.append((start, end, mask(m)))

    # An e-mail address whole first (its local part may be a phone number); then the longest numbers, so
    # that an ID number is not read as a card or a phone number plus digits.
    take(EMAIL, lambda m: f"{m[1]}***{m[2]}")
    take(_PUBLIC_ID, lambda m: _mask_digits(m, keep_head=6))
    if cards:
        take(_PUBLIC_CARD, _mask_digits, unless=_no_card)
    take(_PUBLIC_MOBILE, lambda m: mask_phone(m[0]) or "")
    take(_PUBLIC_LANDLINE, lambda m: mask_phone(m[0]) or "")
    if not taken:
        return text
    parts, at = [], 0
    for start, end, mask in sorted(taken):
        parts += [text[at:start], mask]
        at = end
    return "".join([*parts, text[at:]])


# A run of URL text holding a percent-escape or a '+' (a space in a query string), up to the delimiters
# of a query: the staff search is a GET form, so what a person typed reaches the access log encoded
# (zhang.san%40example.com, 139+1234+5678), where the patterns above do not see it.
_URL_ENCODED = re.compile(r"[^\s?&=#\"'<>]*(?:%[0-9A-Fa-f]{2}|\+)[^\s?&=#\"'<>]*")


def _scrub_encoded(match: re.Match[str]) -> str:
    raw = match[0]
    decoded = unquote_plus(raw)
    # Encoded twice (%2540) is still an address a reader decodes: peel until nothing changes (bounded).
    for _ in range(3):
        again = unquote(decoded)  # a '+' decoded once is a plus sign now, not a space
        if again == decoded:
            break
        decoded = again
    cleaned = _mask_contacts(decoded, cards=False)
    # Encoded again, so that an access-log line keeps its shape (a space would split the request line);
    # a run with nothing to mask stays byte for byte as it was.
    return raw if cleaned == decoded else quote_plus(cleaned, safe="*@()/")


# A non-ASCII character as a JSON log line escapes it (手机号： is \u624b\u673a\u53f7\uff1a): decoded before
# matching, as a reader would; ASCII escapes (a quote, a backslash) stay, so the line stays valid JSON.
_JSON_ESCAPE = re.compile(r"\\u(?!00[0-7])([0-9A-Fa-f]{4})")


def _unescaped(match: re.Match[str]) -> str:
    point = int(match[1], 16)
    return match[0] if 0xD800 <= point <= 0xDFFF else chr(point)


def scrub(text: str) -> str:
    """Mask every phone number (mobile or landline, grouped or not), ID number and e-mail address inside
    free text, also where a URL carries it percent-encoded or JSON escapes the text around it. Bank cards
    are left to the publication filter: in a log, 16 to 19 digits are as often a timestamp or a trace id."""
    if "\\u" in text:
        text = _JSON_ESCAPE.sub(_unescaped, text)
    text = _mask_contacts(text, cards=False)
    if "%" in text or "+" in text:
        text = _URL_ENCODED.sub(_scrub_encoded, text)
    return text


def publication_text(text: str | None, *, names: Iterable[str | None] = ()) -> str | None:
    """THE publication filter: text as it may be shown to the public or sent outside (register pages, the
    public API, exports, credit-platform documents, mails to third parties).

    Masks ID numbers (110101********1234), bank card numbers (************7890), mobile numbers
    (138****5678), landlines (0571-****4321), e-mail addresses (w***@example.com) and every name in
    ``names`` (张三 → 张*: the complainant's or an individual subject's name, where it is known).
    Idempotent: filtered text passes through unchanged. ``None`` and ``""`` come back unchanged."""
    if not text:
        return text
    if not names:  # No names to mask (the platform's documents): nothing to collect or sort.
        return _filtered(text, ())
    wanted = tuple(sorted({n.strip() for n in names if n and len(n.strip()) > 1}, key=len, reverse=True))
    return _filtered(text, wanted)


# Cached: a sweep batch publishes thousands of records whose matter and basis repeat (and each record is
# filtered twice, for the public and for the platform document); the regular expressions dominated.
@lru_cache(maxsize=4096)
def _filtered(text: str, names: tuple[str, ...]) -> str:
    text = _mask_contacts(text, cards=True)
    # Longest names first (``names`` is sorted so): 欧阳小明 is masked whole before 欧阳 would be.
    for name in names:
        text = text.replace(name, mask_name(name))
    return text


# Spreadsheet programs run a cell as a formula when its text, after any leading blanks or line breaks,
# starts with one of these (the full-width forms too: Excel and WPS read ＝ as =). A leading tab, CR or LF
# is neutralised on its own: some importers drop it and then read what follows.
_FORMULA_CHARS = frozenset("=+-@＝＋－＠")
_LEADING_BLANKS = " \t\r\n\u3000\u00a0"
# Characters no spreadsheet cell may hold (openpyxl refuses them, which answered 500 to every export):
# C0 controls but tab, LF and CR; DEL and the C1 controls; lone UTF-16 surrogates.
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def neutralise(value: Any) -> Any:
    """A cell value that no spreadsheet will evaluate and every spreadsheet can store: control characters
    already stored are dropped, and text that would start a formula gets a leading '."""
    if not isinstance(value, str) or not value:
        return value
    value = _UNSTORABLE.sub("", value)
    if value[:1] in ("\t", "\r", "\n") or value.lstrip(_LEADING_BLANKS)[:1] in _FORMULA_CHARS:
        return "'" + value
    return value


_installed: list[Callable[..., logging.LogRecord]] = []


def _scrubbed(value: Any) -> Any:
    """``value`` with personal data masked; a non-text value only when its text carries some (uvicorn's
    access formatter needs the status code as a number), then as its scrubbed text."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    text = str(value)
    cleaned = scrub(text)
    return value if cleaned == text else cleaned


def scrub_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask personal data in a record's message, each of its arguments, its traceback and stack.

    The arguments are scrubbed one by one, keeping their shape: formatters such as uvicorn's access log
    read them by position, and replacing them with the formatted message broke every access-log line
    whose URL held a phone number. The traceback is formatted here (into ``exc_text``, which every
    ``logging.Formatter`` uses instead of formatting ``exc_info`` again), since a handler would otherwise
    write it unscrubbed."""
    if isinstance(record.msg, str):
        record.msg = scrub(record.msg)
    if isinstance(record.args, tuple):
        record.args = tuple(_scrubbed(a) for a in record.args)
    elif isinstance(record.args, dict):
        record.args = {k: _scrubbed(v) for k, v in record.args.items()}
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = scrub(record.stack_info)
    return record


def install_log_scrubber() -> None:
    """Scrub personal data from every log record of the process (idempotent).

    A record factory rather than a ``logging.Filter``: filters attach to one logger or handler and are
    skipped by records of child loggers and of handlers added later (uvicorn's, Prefect's); the factory
    sees every record once."""
    if _installed:
        return
    base = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return scrub_record(base(*args, **kwargs))

    logging.setLogRecordFactory(factory)
    _installed.append(base)
