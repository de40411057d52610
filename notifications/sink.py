"""A local SMTP sink for ``make run``: every message the platform sends lands in a table to look at.

It lets a demo or a drill show exactly what a complainant or a department would have received, without a
real mail server and without any message leaving the machine.
"""

from __future__ import annotations

import datetime as dt
from email import message_from_bytes
from email.policy import default as default_policy
from typing import Any, cast

from aiosmtpd.controller import Controller
from sqlalchemy import JSON, Column, Text
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, col, select

from models.clock import utcnow
from models.settings import get_settings
from models.types import UTCDateTime


# One message as the sink received it; ``raw`` is the whole message for "view source".
class SinkMessage(SQLModel, table=True):
    __tablename__ = "sink_message"
    id: int | None = Field(default=None, primary_key=True)
    received_at: dt.datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False, index=True)
    )
    mail_from: str = Field(max_length=254)
    rcpt_tos: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    subject: str = Field(default="", max_length=1000)
    message_id: str | None = Field(default=None, max_length=300, index=True)
    raw: str = Field(sa_column=Column(Text, nullable=False))


class SinkHandler:
    """aiosmtpd handler that stores each accepted message in ``sink_message``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode("utf-8")
        parsed = message_from_bytes(raw, policy=default_policy)
        row = SinkMessage(
            mail_from=str(envelope.mail_from or ""),
            rcpt_tos=[str(rcpt) for rcpt in envelope.rcpt_tos],
            subject=str(parsed.get("Subject", ""))[:1000],
            message_id=(str(parsed.get("Message-ID", "")).strip() or None),
            raw=raw.decode("utf-8", errors="replace"),
        )
        # A short synchronous write: the sink serves one developer's demo, not production traffic.
        with Session(self.engine) as db:
            db.add(row)
            db.commit()
        return "250 Message accepted for delivery"


def start_sink(engine: Engine, *, host: str | None = None, port: int | None = None) -> Controller:
    """Start the sink on ``smtp_host:smtp_port`` (from settings unless given); call ``.stop()`` to end it."""
    settings = get_settings()
    SQLModel.metadata.create_all(engine, tables=[cast(Any, SinkMessage).__table__])
    controller = Controller(
        SinkHandler(engine),
        hostname=host or settings.smtp_host,
        port=port or settings.smtp_port,
        enable_SMTPUTF8=True,
    )
    controller.start()
    return controller


def list_sink_messages(*, session: Session, limit: int = 50) -> list[SinkMessage]:
    """The most recent messages first."""
    query = select(SinkMessage).order_by(col(SinkMessage.id).desc()).limit(limit)
    return list(session.exec(query))
