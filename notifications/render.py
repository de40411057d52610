"""Rendering of outbox messages: one Jinja2 environment, three files per message (subject, text, HTML).

Every message a service can queue is listed in ``notifications.catalogue.TEMPLATES`` with the context
keys it needs and a sample context, so tests and the admin preview can render each one without
guessing. Context values are plain JSON (strings, numbers, ISO dates) because they sit in the outbox
row; the filters here turn them into the forms an official notice uses (2026年3月2日).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Undefined, select_autoescape

from models import privacy
from models.clock import chinese_date
from models.complaint import tracking_path
from models.lifecycle import WITHDRAWAL_ROUTE
from models.settings import get_settings, is_placeholder_name

TEMPLATE_DIR = Path(__file__).parent / "templates"

PLATFORM_NAME = "守信平台"
# Marks of a name nobody filled in ("XX市…办公室", "××局", "某某单位"): never printed as a 落款.

# Labels for the coded values services put in the context; unknown codes fail loudly under
# StrictUndefined rather than printing an empty word into an official notice.
STEP_LABELS = {"remind": "催办", "supervise": "督办", "escalate": "提级办理"}
LEVEL_LABELS = {"yellow": "黄牌预警", "red": "红牌预警"}
OUTCOME_LABELS = {"withdrawn": "撤销", "corrected": "更正", "rejected": "驳回"}


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class TemplateSpec:
    """One message kind: who receives it, what it is for, the keys it needs and a sample to preview."""

    name: str
    audience: str  # complainant, department, supervisor, pledgor
    description: str
    required: tuple[str, ...]
    sample: dict[str, Any] = field(default_factory=dict)


def _require(value: Any) -> None:
    """Filters receive a missing key as an Undefined object instead of failing first; fail here."""
    if isinstance(value, Undefined):
        str(value)  # a StrictUndefined raises UndefinedError naming the missing key
        raise TypeError("missing value")


def _as_date(value: Any) -> dt.date:
    """A date or an aware datetime from a context value: a date, a datetime or an ISO string. A moment
    stored without its zone is taken as written (a queued row is rendered, not refused)."""
    _require(value)
    if isinstance(value, str):
        has_time = "T" in value or " " in value
        value = dt.datetime.fromisoformat(value) if has_time else dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.date()
    if isinstance(value, dt.date):
        return value
    raise TypeError(f"not a date: {value!r}")


def cn_date(value: Any) -> str:
    """``2026-03-02`` → ``2026年3月2日``, by the domain's one formatter (an aware datetime is its day in
    the configured zone)."""
    return chinese_date(_as_date(value))


def cn_datetime(value: Any) -> str:
    """An aware datetime (or ISO string) → ``2026年3月2日 14:05`` in the configured zone."""
    _require(value)
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if not isinstance(value, dt.datetime):
        raise TypeError(f"not a datetime: {value!r}")
    if value.tzinfo is not None:
        value = value.astimezone(ZoneInfo(get_settings().timezone))
    return f"{cn_date(value.date())} {value:%H:%M}"


def mask_phone(value: Any) -> str:
    """The ``mask_phone`` filter: the same rule as public answers and exports (models/privacy.py)."""
    _require(value)
    return privacy.mask_phone(str(value)) or ""


def public_url(path: str) -> str:
    """The address of a public page (``SHOUXIN_PUBLIC_BASE_URL`` + ``path``), read when the mail is
    rendered, so a notice queued before the address changed points to where the page is now."""
    return get_settings().public_base_url.rstrip("/") + path


def _make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        # Only the HTML part is escaped: the subject goes into a header and the text part is plain text.
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(cn_date=cn_date, cn_datetime=cn_datetime, mask_phone=mask_phone)
    env.globals.update(
        platform_name=PLATFORM_NAME,
        step_labels=STEP_LABELS,
        level_labels=LEVEL_LABELS,
        outcome_labels=OUTCOME_LABELS,
        withdrawal_route=WITHDRAWAL_ROUTE,
        public_url=public_url,
        tracking_path=tracking_path,
    )
    return env


ENV = _make_environment()


def sender_organisation() -> str:
    """The 落款 of every message: SHOUXIN_SENDER_ORGANISATION, else SHOUXIN_ISSUER_NAME, else the platform.

    A placeholder such as the shipped "XX市社会信用体系建设领导小组办公室" is skipped: a notice signed by
    "XX市" tells the reader nothing, the platform's own name at least says who sent it.
    """
    settings = get_settings()
    for name in (settings.sender_organisation, settings.issuer_name):
        if not is_placeholder_name(name):
            return name.strip()
    return PLATFORM_NAME


def render(template: str, context: dict[str, Any]) -> RenderedMessage:
    """Render the three parts of ``template``; a missing context key raises ``jinja2.UndefinedError``."""
    # A context may name its own issuer (one office signing for the deployment), never a placeholder.
    own = context.get("issuer_name")
    issuer = own if isinstance(own, str) and not is_placeholder_name(own) else sender_organisation()
    values = {**context, "issuer_name": issuer}
    subject = ENV.get_template(f"{template}.subject.j2").render(values)
    return RenderedMessage(
        # A newline in a header would let a context value inject headers; one line, trimmed.
        subject=" ".join(subject.split()),
        text=ENV.get_template(f"{template}.txt.j2").render(values),
        html=ENV.get_template(f"{template}.html.j2").render(values),
    )
