"""A cap on every request body, enforced while the body arrives.

Starlette parses a multipart form (an evidence upload, an import file) into temporary files before any
route code runs, so a check on the file's size in the route comes after the whole body was received and
spooled: a 30 MB anonymous upload cost 30 MB of reading and disk before its refusal. This ASGI middleware
refuses a body over the cap before reading it when ``Content-Length`` says so, and otherwise counts the
bytes as they arrive and stops at the cap, whatever the client declared (or chunked transfer).

The cap is the route's file limit (``import_max_bytes`` for the bulk import, ``upload_max_bytes`` for
everything else) plus room for the form's other fields and multipart headers; the routes still check the
file itself, so a file a little over its limit gets the same message, from them.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import domain_answer
from models.errors import TooLarge
from models.settings import get_settings

# Multipart boundaries, part headers and the small fields beside the file (an access code, a reason).
FORM_ALLOWANCE = 64 * 1024
IMPORT_PATHS = frozenset({"/api/v1/pledges/import", "/staff/pledges/import"})  # the API and the page


def body_cap(path: str) -> tuple[int, int]:
    """(the file limit the message names, the cap on the whole body) for a request to ``path``."""
    settings = get_settings()
    limit = settings.import_max_bytes if path in IMPORT_PATHS else settings.upload_max_bytes
    return limit, limit + FORM_ALLOWANCE


def too_large(limit: int) -> TooLarge:
    return TooLarge(f"文件过大：上限 {limit} 字节；请压缩或拆分后上传 (file too large)", limit_bytes=limit)


class BodyLimit:
    """Refuse (413) a request whose body exceeds ``body_cap`` of its path, reading no more than the cap."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, cap = body_cap(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > cap:
            # Answered before a byte of the body is read; the server discards or closes the rest.
            await domain_answer(too_large(limit))(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    # Raised into whoever reads the body: FastAPI's body parsing (answered 413 by
                    # api/errors.py) or a page's own request.form() (a DomainError like any other).
                    raise too_large(limit)
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length itself
    return None
