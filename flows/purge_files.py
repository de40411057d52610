"""Daily at 03:40 Asia/Shanghai: stored files that no row references and that are older than the grace
period (``upload_orphan_grace_hours``) are deleted from the upload directory (models/files.py
``purge_unreferenced``): files written by a transaction that then failed, or for a request refused after its
files were stored. Idempotent and safe beside a second run: a file already gone is skipped."""

from __future__ import annotations

from prefect import flow, get_run_logger, task

from models.db import session_scope
from models.files import purge_unreferenced


@task(name="purge-unreferenced-files")
def purge_files() -> dict[str, int]:
    with session_scope() as session:
        purged = purge_unreferenced(session=session)
    return {"files": purged.files, "bytes": purged.bytes}


@flow(name="purge_unreferenced_files")
def purge_unreferenced_files() -> dict[str, int]:
    """Delete the unreferenced files past the grace period; returns how many files and bytes."""
    purged = purge_files()
    get_run_logger().info("清理未引用的上传文件：删除 %s 个，共 %s 字节", purged["files"], purged["bytes"])
    return purged
