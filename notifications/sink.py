"""A local SMTP sink for ``make run``: every message the platform sends lands in a table to look at.

It lets a demo or a drill show exactly what a complainant or a department would have received, without a
real mail server and without any message leaving the machine.
"""

from __future__ import annotations

from email import message_from_bytes
from email.policy import default as default_policy
from typing import Any, cast

from aiosmtpd.controller import Controller
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from models.settings import get_settings
from notifications.sink_store import SinkMessage, list_sink_messages

__all__ = ["SinkHandler", "SinkMessage", "list_sink_messages", "start_sink"]


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
