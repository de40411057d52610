"""A cap on every request body, enforced while the body arrives.

Starlette parses a multipart form (an evidence upload, an import file) into temporary files before any
route code runs, so a check on the file's size in the route comes after the whole body was received and
spooled: a 30 MB anonymous upload cost 30 MB of reading and disk before its refusal. This ASGI middleware
refuses a body over the cap before reading it when ``Content-Length`` says so, and otherwise counts the
bytes as they arrive and stops at the cap, whatever the client declared (or chunked transfer).

The cap is the route's file limit (``import_max_bytes`` for the bulk import, ``upload_max_bytes`` for
everything else) plus room for the form's other fields and multipart headers; the routes still check the
file itself, so a file a little over its limit gets the same message, from them.

A declared length over the cap is answered at once on the API (its JSON 413). A page's form is refused
by the page instead (its error page in Chinese, as for a chunked body over the cap): the request goes on
with a body that refuses its first read, so no byte of it is read either way.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import domain_answer
from models.errors import TooLarge
from models.settings import get_settings

# Multipart boundaries, part headers and the small fields beside the file (an access code, a reason).
FORM_ALLOWANCE = 64 * 1024
IMPORT_PATHS = frozenset({"/api/v1/pledges/import", "/staff/pledges/import"})  # the API and the page


def api_path(path: str) -> bool:
    """Whether ``path`` is the API's (answered in JSON) rather than a page's (web/core.py draws those)."""
    return path == "/api" or path.startswith("/api/")


def megabytes(size: int) -> str:
    """A byte limit as people read it on a page or in a message, e.g. "10 MB"."""
    return f"{size / (1024 * 1024):.3g} MB"


def body_cap(path: str) -> tuple[int, int]:
    """(the file limit the message names, the cap on the whole body) for a request to ``path``."""
    settings = get_settings()
    limit = settings.import_max_bytes if path in IMPORT_PATHS else settings.upload_max_bytes
    return limit, limit + FORM_ALLOWANCE


def too_large(limit: int, *, with_files: bool = True) -> TooLarge:
    """The refusal of a body over ``limit``; one that carries no file (a JSON request) is said to be the
    request's body, not a file to compress."""
    if not with_files:
        return TooLarge(
            f"请求体过大：上限 {megabytes(limit)}；请检查内容后重新提交 (request body too large)",
            limit_bytes=limit,
        )
    return TooLarge(
        f"文件过大：上限 {megabytes(limit)}；请压缩或拆分后上传 (file too large)", limit_bytes=limit
    )


class BodyLimit:
    """Refuse (413) a request whose body exceeds ``body_cap`` of its path, reading no more than the cap."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, cap = body_cap(scope["path"])
        files = _carries_files(scope)
        declared = _content_length(scope)
        if declared is not None and declared > cap:
            # Answered before a byte of the body is read; the server discards or closes the rest.
            if api_path(scope["path"]):
                await domain_answer(too_large(limit, with_files=files))(scope, receive, send)
                return

            async def refused() -> Message:
                # What the browser sent (it always declares the length) is refused by the page it was
                # sent to, with the page's own words, when the page reads its form.
                raise too_large(limit, with_files=files)

            await self.app(scope, refused, send)
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
                    raise too_large(limit, with_files=files)
            return message

        await self.app(scope, counted, send)


def _carries_files(scope: Scope) -> bool:
    # Files come as multipart forms or as a raw upload; a JSON or url-encoded body holds none.
    for name, value in scope["headers"]:
        if name == b"content-type":
            kind = value.split(b";")[0].strip().lower()
            return kind not in (b"application/json", b"application/x-www-form-urlencoded")
    return True


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length itself
    return None
