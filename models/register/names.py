"""How the register compares a subject's name with what someone typed: one fold on both sides, in Python
for the typed text and in SQL for the stored names (an indexed expression), so a search matches
中文（示范） typed with half-width brackets, ALPHA typed for Alpha, and 华 信 typed with a space.

The fold is a fixed table, not NFKC: neither backend has NFKC in SQL, and an expression index must be made
of functions the database computes itself (a Python function registered on SQLite's connection would
leave the file unusable to the sqlite3 shell and to backups). SQLite has no translate(), so the table is
a chain of replace() calls, and its parser takes about 30 nested calls: the table holds brackets,
full-width digits and spaces, and lower() folds Latin case. Full-width Latin letters, as a Chinese input
method types them, are folded on the typed side only (``typed_keys``): a stored name written with them is
still found when typed the same way. Traditional characters (華信) are not folded."""

from __future__ import annotations

import string
from typing import Any

from sqlalchemy import Index
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import String

from models.breach import PublishedBreach


def _full_width(chars: str) -> dict[str, str]:
    return {chr(ord(c) + 0xFEE0): c for c in chars}


_SPACES = " \u3000\u00a0"
# The stored side's fold, in both SQL dialects and in Python alike; then Latin letters in lower case.
_SQL_FOLD = _full_width(string.digits + "()")
_FOLD = str.maketrans({**_SQL_FOLD, **dict.fromkeys(_SPACES)})
_LETTERS = str.maketrans(_full_width(string.ascii_letters))


def name_key(text: str) -> str:
    """``text`` as the database folds a stored name (``name_key_sql``): full-width digits and brackets as
    ASCII, spaces removed, Latin letters in lower case."""
    return _ascii_lower(text.translate(_FOLD))


def typed_keys(text: str) -> set[str]:
    """The keys a typed name is looked up by: as typed, and with full-width letters read as ASCII."""
    return {name_key(text), name_key(text.translate(_LETTERS))} - {""}


def _ascii_lower(text: str) -> str:
    # Not str.lower(): SQLite's lower() folds only A-Z, and the two sides must agree.
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


class _NameKey(FunctionElement[str]):
    """``name_key`` of a column, computed by the database (and indexed: ``NAME_KEY_INDEX``)."""

    type = String()
    inherit_cache = True
    name = "name_key"


def _quoted(text: str) -> str:
    # Only the fold table's own characters, none of them a quote: safe to write inline, and inline it must
    # be, since an expression index is used only by a query that spells the same expression.
    return "'" + text.replace("'", "''") + "'"


@compiles(_NameKey)
def _name_key_sqlite(element: _NameKey, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite has no translate(): one replace() per variant, then lower(), which folds only ASCII letters.
    sql = compiler.process(element.clauses, **kw)
    for variant, canonical in _SQL_FOLD.items():
        sql = f"replace({sql}, {_quoted(variant)}, {_quoted(canonical)})"
    for space in _SPACES:
        sql = f"replace({sql}, {_quoted(space)}, '')"
    return f"lower({sql})"


@compiles(_NameKey, "postgresql")
def _name_key_postgresql(element: _NameKey, compiler: SQLCompiler, **kw: Any) -> str:
    # translate() drops the characters its third argument has no counterpart for: the spaces, listed last.
    # Not lower(): PostgreSQL's follows the database's locale beyond Latin letters, Python's fold does not.
    sql = compiler.process(element.clauses, **kw)
    variants = "".join(_SQL_FOLD) + string.ascii_uppercase + _SPACES
    canonical = "".join(_SQL_FOLD.values()) + string.ascii_lowercase
    return f"translate({sql}, {_quoted(variants)}, {_quoted(canonical)})"


def name_key_sql(column: Any) -> ColumnElement[str]:
    return _NameKey(column)


# Declared here, beside the expression it must spell exactly (migration 0028 creates it).
NAME_KEY_INDEX = Index(
    "ix_published_breach_name_key",
    name_key_sql(PublishedBreach.__table__.c.subject_name),  # type: ignore[attr-defined]
)
