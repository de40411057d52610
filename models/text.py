"""Text that can be stored, exported and shown: one rule for every text a person types, and one check of
every text column before it is written.

Control characters broke exports for everyone (openpyxl refuses them), PostgreSQL refuses NUL outright
where SQLite stores it, and SQLite does not enforce a column's length at all, so a 100,000-character
``facts`` was stored. Input types (``Line``, ``Paragraph``) refuse such text with a message naming the
field; ``check_columns`` runs before every ORM flush and refuses what slipped past them, on both
databases alike, so the stored data never depends on which database holds it.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator
from sqlalchemy import Enum, String, event, inspect
from sqlalchemy.orm import Session, UOWTransaction
from sqlalchemy.types import TypeDecorator

from models.errors import ValidationFailed

# C0 controls but tab, LF and CR; DEL and the C1 controls; lone UTF-16 surrogates (not encodable).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# A line break or tab in a one-line field (a name, a number, a title).
_BREAK = re.compile("[\t\n\r\u2028\u2029]")
# The invisible characters (zero-width spaces and joiners, the byte-order mark) that make a text look
# filled in, or different from another, when it is not.
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
_BLANK = re.compile(f"[\\s{_INVISIBLE}\u3000]*")
_INVISIBLE_CHAR = re.compile(f"[{_INVISIBLE}]")
# The bidirectional embeddings, overrides and isolates (LRE RLE PDF LRO RLO, LRI RLI FSI PDI): invisible
# like the characters above, but not inert: they reorder the text after them, so a page shows a name, a
# reason or a file name other than the one typed (after a right-to-left override, "付款凭证\u202egpj.exe"
# reads "付款凭证exe.jpg"). Chinese and Latin text set their own direction and need none; pasted text
# brings them unseen (some apps wrap a copied phone number in LRE … PDF), so they are dropped, not
# refused: nobody could see what to delete. As with the zero-width characters, a text of nothing else
# is empty, and two texts differing only in them say the same (``visible_text``).
_BIDI_CONTROL = re.compile("[\u202a-\u202e\u2066-\u2069]")


def clean_text(value: str, *, multiline: bool) -> str:
    """``value`` if it may be stored as typed text, without its bidirectional controls; "" when it holds
    nothing visible (so a required field refuses it as empty). Raises ValueError, which pydantic reports
    under the field's name."""
    if _CONTROL.search(value):
        raise ValueError("含有控制字符或无效字符，请删除后重新输入 (control characters are not allowed)")
    value = _BIDI_CONTROL.sub("", value)
    if not multiline and _BREAK.search(value):
        raise ValueError("此项应为单行文字，请删除换行符和制表符 (line breaks are not allowed here)")
    if _BLANK.fullmatch(value):
        return ""
    return value


def checked_text(
    value: str, *, label: str, multiline: bool, max_length: int | None = None, **details: Any
) -> str:
    """``clean_text`` for a service that takes plain strings (a page's form, a query's term): the same rule
    as ``Line`` and ``Paragraph``, refused as ValidationFailed naming ``label`` (``details``, e.g.
    ``field``, go with it) before any query sees the text (PostgreSQL refuses a NUL with a database error)."""
    try:
        cleaned = clean_text(value, multiline=multiline)
    except ValueError as exc:
        raise ValidationFailed(f"{label}{exc}", **details) from None
    if max_length is not None and len(cleaned) > max_length:
        raise ValidationFailed(
            f"{label}超过 {max_length} 字（实际 {len(cleaned)} 字），请精简后重试 "
            f"(longer than {max_length} characters)",
            **details,
        )
    return cleaned


def visible_text(value: str | None) -> str:
    """What a reader sees of ``value``, to tell whether two texts say the same: invisible characters
    and bidirectional controls dropped (a text stored before ``clean_text`` dropped them), each run of
    whitespace one space, none at the ends."""
    return " ".join(_BIDI_CONTROL.sub("", _INVISIBLE_CHAR.sub("", value or "")).split())


def _line(value: Any) -> Any:
    return clean_text(value, multiline=False) if isinstance(value, str) else value


def _paragraph(value: Any) -> Any:
    return clean_text(value, multiline=True) if isinstance(value, str) else value


# A one-line text a person types (names, titles, numbers); a multi-line one (descriptions, reasons).
# Cleaned before the field's own constraints, so a blank text meets ``min_length`` as empty.
Line = Annotated[str, BeforeValidator(_line)]
Paragraph = Annotated[str, BeforeValidator(_paragraph)]


def check_row_text(table: str, values: dict[str, Any], lengths: dict[str, int | None]) -> None:
    """Refuse a row whose text would be cut, refused or stored differently by the database."""
    for name, limit in lengths.items():
        value = values.get(name)
        if not isinstance(value, str):
            continue
        if _CONTROL.search(value):
            raise ValidationFailed(
                f"{table}.{name} 含有控制字符或无效字符，未保存 (field '{name}' holds control characters)"
            )
        if limit is not None and len(value) > limit:
            raise ValidationFailed(
                f"{table}.{name} 超过 {limit} 字（实际 {len(value)} 字），未保存；请精简后重试 "
                f"(field '{name}' is longer than {limit} characters)"
            )


_LENGTHS: dict[Any, dict[str, int | None]] = {}


def _text_lengths(mapper: Any) -> dict[str, int | None]:
    lengths: dict[str, int | None] | None = _LENGTHS.get(mapper)
    if lengths is None:
        lengths = {}
        for prop in mapper.column_attrs:
            kind = prop.columns[0].type
            if isinstance(kind, TypeDecorator):  # SQLModel's AutoString wraps String
                kind = kind.impl_instance
            # Enums are checked by their own type (they store a member's name, not the text given).
            if isinstance(kind, String) and not isinstance(kind, Enum):
                lengths[prop.key] = kind.length
        _LENGTHS[mapper] = lengths
    return lengths


@event.listens_for(Session, "before_flush")
def check_columns(session: Session, _ctx: UOWTransaction, _instances: Any) -> None:
    """The text columns of every new row, and the changed ones of every updated row, before the ORM writes
    them (all sessions, all tables). Unchanged values are not looked at: a row stored before this check
    must not block the next change of the case."""
    for obj in session.new:
        lengths = _text_lengths(inspect(obj).mapper)
        if lengths:
            check_row_text(inspect(obj).mapper.local_table.name, obj.__dict__, lengths)
    for obj in session.dirty:
        state = inspect(obj)
        lengths = _text_lengths(state.mapper)
        changed = {k: v for k, v in lengths.items() if state.attrs[k].history.added}
        if changed:
            check_row_text(state.mapper.local_table.name, obj.__dict__, changed)
