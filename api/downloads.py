"""How a stored file is answered, the same for every kind (a pledge's evidence, a complaint's rectification
files, an objection's or repair request's files), on the API and the staff pages."""

from __future__ import annotations

import os
import re
from urllib.parse import quote

from fastapi import Response

from models.files import PREVIEWABLE, typed_name


def attachment_header(filename: str) -> str:
    """``attachment`` with an ASCII fallback and the UTF-8 name (RFC 6266, RFC 5987); no quote or CR/LF
    gets in. The fallback keeps the extension ("付款凭证.pdf" falls back to "file.pdf", not "pdf")."""
    stem, extension = os.path.splitext(filename)
    ascii_stem = re.sub(r"[^A-Za-z0-9._-]", "_", stem).strip("._-") or "file"
    ascii_name = ascii_stem + re.sub(r"[^A-Za-z0-9.]", "", extension)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def file_response(*, filename: str, content_type: str, content: bytes, inline: bool = False) -> Response:
    """The file, downloaded; with ``inline`` (PDF and images only) shown in a page of our own origin. Its
    type is the one recognised from its content at upload, and nothing in it may run or frame others."""
    shown = inline and content_type in PREVIEWABLE
    # A file stored before names were made to match their type gets its type's extension here too.
    disposition = attachment_header(typed_name(filename, content_type))
    headers = {
        "Content-Disposition": disposition.replace("attachment", "inline", 1) if shown else disposition,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; img-src 'self'; frame-ancestors 'self'",
        "X-Frame-Options": "SAMEORIGIN",
        "Cache-Control": "private, no-store",
    }
    return Response(content=content, media_type=content_type, headers=headers)
