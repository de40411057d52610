"""Every minute (Asia/Shanghai): import the pledge files uploaded through ``POST /pledges/import``.

Thin on purpose: the flow lists the imports waiting (queued, or left by a run that died) and hands each
id to one task, which calls ``models.pledges.import_jobs.run_import``. The service claims the import with a
compare-and-set on its status, so a second or concurrent run of this flow skips an import another run
holds, and commits the progress after each chunk of rows, so ``GET /pledges/imports/{id}`` shows it. One
import after another: on SQLite they would only queue on the one writer.
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from sqlmodel import Session

from flows._runtime import current_run_id
from models.clock import utcnow
from models.db import get_engine
from models.pledges.import_jobs import ImportStatus, importable_ids, run_import


@task(name="import-pledge-file")
def import_file(import_id: int, flow_run_id: str | None) -> str | None:
    """Import one stored upload; returns its final status, or None when another run holds it."""
    status = run_import(engine=get_engine(), import_id=import_id, flow_run_id=flow_run_id)
    return None if status is None else str(status)


@flow(name="import_pledges")
def import_pledges() -> dict[str, int]:
    """Work through every import waiting; returns how many ended in each status."""
    with Session(get_engine()) as session:
        ids = importable_ids(session=session, now=utcnow())
    run_id = current_run_id()
    counts = {str(s): 0 for s in (ImportStatus.DONE, ImportStatus.FAILED)}
    counts["skipped"] = 0
    crashed = []
    for import_id in ids:
        # One file's crash must not keep the next from being imported (the service marked it failed).
        state = import_file(import_id, run_id, return_state=True)
        if state.is_failed():
            crashed.append(import_id)
            counts[str(ImportStatus.FAILED)] += 1
            continue
        result = state.result()
        counts["skipped" if result is None else result] += 1
    get_run_logger().info("承诺批量导入：%s", counts)
    if crashed:
        raise RuntimeError(f"导入任务 {crashed} 因内部错误失败，详见任务日志")
    return counts
