"""The table the local SMTP sink (notifications/sink.py) stores messages in, and the query that lists them.

Kept apart from the sink's SMTP server so that the migrations, which must know every table, and the
admin pages import the table without aiosmtpd.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, Session, SQLModel, col, select

from models.clock import utcnow
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


def list_sink_messages(*, session: Session, limit: int = 50) -> list[SinkMessage]:
    """The most recent messages first."""
    query = select(SinkMessage).order_by(col(SinkMessage.id).desc()).limit(limit)
    return list(session.exec(query))
