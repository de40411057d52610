"""The cap on a complaint's attachments: references (file names, links, archive numbers) given at
registration and with each rectification report, kept on the case as text. The files themselves, uploaded
with a rectification report, are stored and capped by ``models.files`` (``case_file``).

Each body allows 20 at a time, but reports add to the case without end, and nothing bounded their text:
20 attachments of 500 KB each were accepted and stored on one case. The cap is per case, over everything
it holds: ``complaint_max_attachments`` of them (422) and ``complaint_attachments_max_bytes`` of text in
UTF-8 altogether (413).
"""

from __future__ import annotations

from collections.abc import Sequence

from models.errors import TooLarge, ValidationFailed
from models.settings import get_settings


def check_attachments(*, existing: Sequence[str], added: Sequence[str]) -> None:
    """Refuse ``added`` when the case would then hold more attachments, or more of their text, than the
    settings allow; ``existing`` is what the case holds already."""
    if not added:
        return
    settings = get_settings()
    count = len(existing) + len(added)
    if count > settings.complaint_max_attachments:
        raise ValidationFailed(
            f"附件过多：每件投诉最多 {settings.complaint_max_attachments} 个附件，已有 {len(existing)} 个，"
            f"本次 {len(added)} 个；请合并后重新提交 (too many attachments on this case)",
            field="attachments",
            max_attachments=settings.complaint_max_attachments,
        )
    size = sum(len(a.encode("utf-8", "surrogatepass")) for a in (*existing, *added))
    if size > settings.complaint_attachments_max_bytes:
        raise TooLarge(
            f"附件内容过长：每件投诉的附件合计不超过 {settings.complaint_attachments_max_bytes} 字节"
            f"（现为 {size} 字节）；附件栏只填文件名、链接或档案号，材料原件另行上传或归档 "
            "(attachments too large for this case)",
            field="attachments",
            limit_bytes=settings.complaint_attachments_max_bytes,
        )
