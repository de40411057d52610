"""`shouxin platform list / retry / push / alarms` on the credit-platform documents: the documents by state
with the reason of the last failure, a failed document sent again, the alarm for documents without a
receipt past the configured working days, and the alarm (and non-zero exit) when pushing with no platform
configured outside demo mode. The platform is the local server of tests/test_platform_receipts.py."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from cli.main import app as shouxin
from cli.platform_cmd import app
from models.breach import PublishedBreach
from models.platform import DocumentStatus
from models.settings import get_settings
from notifications.platform_push import push_due
from tests.cli_support import cli_engine, listed_at_80_columns, table_rows  # noqa: F401
from tests.conftest import Staff
from tests.test_platform_receipts import _Platform, _written_on, documents, platform  # noqa: F401
from tests.test_publication import CODE
from tests.test_register import publish

runner = CliRunner()


def published(engine: Engine, session: Session, name: str, code: str | None = None) -> PublishedBreach:
    """One more record published (by the sweep, which writes its publish document)."""
    records = publish(engine, session, (name, code))
    return records[-1]


def refused_document(engine: Engine, session: Session, platform: type[_Platform]) -> str:  # noqa: F811
    """The id of an enterprise's publish document the platform refused: failed (dead), to be retried."""
    refused = f"{published(engine, session, '示范建设有限公司', CODE).number}:publish"
    platform.mode = "refuse"
    assert push_due(engine=engine).dead == 1
    return refused


def rows(output: str, *document_ids: str) -> list[str]:
    """The table's lines naming one of ``document_ids``, in the order printed."""
    return [line for line in output.splitlines() if any(d in line for d in document_ids)]


def setenv(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    get_settings.cache_clear()


def test_documents_are_listed_by_state_with_the_reason_of_the_last_failure_and_a_failed_one_is_retried(
    engine: Engine,
    session: Session,
    staff: Staff,
    platform: type[_Platform],  # noqa: F811
) -> None:
    refused = refused_document(engine, session, platform)
    taken = f"{published(engine, session, '张小三').number}:publish"
    platform.mode = "up"
    assert push_due(engine=engine).acknowledged == 1
    waiting = f"{published(engine, session, '李四').number}:publish"

    everything = runner.invoke(shouxin, ["platform", "list"])
    assert everything.exit_code == 0, everything.output
    assert "待推送 1　已推送待回执 0　已回执 1　失败 1" in everything.stdout
    assert len(rows(everything.stdout, refused, taken, waiting)) == 3

    failed = runner.invoke(shouxin, ["platform", "list", "--status", "dead"])
    assert failed.exit_code == 0, failed.output
    [row] = rows(failed.stdout, refused, taken, waiting)
    assert refused in row
    assert "失败" in row
    assert 'HTTP 400: {"error": "XDR_SHXYM 校验位错误"}' in row  # the platform's own reason
    [row] = rows(
        runner.invoke(shouxin, ["platform", "list", "--status", "acknowledged"]).stdout,
        refused,
        taken,
        waiting,
    )
    assert taken in row
    assert f"R-{taken}" in row  # the receipt
    [row] = rows(
        runner.invoke(shouxin, ["platform", "list", "--status", "pending"]).stdout, refused, taken, waiting
    )
    assert waiting in row

    retried = runner.invoke(shouxin, ["platform", "retry", refused])
    assert retried.exit_code == 0, retried.output
    assert f"文档 {refused} 已重新排队" in retried.stdout
    by_id = {d.document_id: d for d in documents(session)}
    assert by_id[refused].status == DocumentStatus.PENDING
    assert "校验位错误" in (by_id[refused].last_error or "")  # still shown until the next answer

    pushed = runner.invoke(shouxin, ["platform", "push"])
    assert pushed.exit_code == 0, pushed.output
    assert "已推送 2（已回执 2）" in pushed.stdout
    assert {d.status for d in documents(session)} == {DocumentStatus.ACKNOWLEDGED}
    assert set(platform.stored) == {refused, taken, waiting}


@pytest.mark.parametrize(
    ("document_id", "message"),
    [
        ("SX-2099-999999:publish", "没有编号为 SX-2099-999999:publish 的推送文档"),
        (None, "只能重推失败的文档"),
    ],
)
def test_a_retry_of_an_unknown_or_unfailed_document_exits_non_zero_with_one_line(
    engine: Engine, session: Session, staff: Staff, document_id: str | None, message: str
) -> None:
    pending = f"{published(engine, session, '示范建设有限公司', CODE).number}:publish"
    answer = runner.invoke(shouxin, ["platform", "retry", document_id or pending])
    assert answer.exit_code == 1
    assert answer.stdout == ""
    [line] = answer.stderr.strip().splitlines()
    assert message in line
    assert [d.status for d in documents(session)] == [DocumentStatus.PENDING]


def test_documents_without_a_receipt_past_the_configured_working_days_are_an_alarm(
    engine: Engine,
    session: Session,
    staff: Staff,
    monkeypatch: pytest.MonkeyPatch,
    platform: type[_Platform],  # noqa: F811
) -> None:
    acknowledged = f"{published(engine, session, '示范建设有限公司', CODE).number}:publish"
    assert push_due(engine=engine).acknowledged == 1
    platform.mode = "later"  # taken, but no receipt yet
    unanswered = f"{published(engine, session, '张小三').number}:publish"
    report = push_due(engine=engine)
    assert (report.sent, report.acknowledged) == (1, 0)
    _written_on(session, dt.date(2026, 3, 2))  # both written on Monday 2026-03-02

    # By default 7 working days: overdue from Thursday 03-12.
    setenv(monkeypatch, "SHOUXIN_TODAY", "2026-03-11")
    calm = runner.invoke(shouxin, ["platform", "alarms"])
    assert (calm.exit_code, calm.stdout.strip()) == (0, "无告警（回执期限 7 个工作日）")
    setenv(monkeypatch, "SHOUXIN_TODAY", "2026-03-12")
    late = runner.invoke(shouxin, ["platform", "alarms"])
    assert late.exit_code == 1
    assert rows(late.stdout, acknowledged, unanswered) == [f"超期未回执：{unanswered}（已推送待回执）"]

    # Configured to 10 working days: not overdue until 03-17.
    setenv(monkeypatch, "SHOUXIN_CREDIT_PLATFORM_ACK_WORKING_DAYS", "10")
    calm = runner.invoke(shouxin, ["platform", "alarms"])
    assert (calm.exit_code, calm.stdout.strip()) == (0, "无告警（回执期限 10 个工作日）")
    setenv(monkeypatch, "SHOUXIN_TODAY", "2026-03-16")
    assert runner.invoke(shouxin, ["platform", "alarms"]).exit_code == 0
    setenv(monkeypatch, "SHOUXIN_TODAY", "2026-03-17")
    late = runner.invoke(shouxin, ["platform", "alarms"])
    assert late.exit_code == 1
    assert rows(late.stdout, acknowledged, unanswered) == [f"超期未回执：{unanswered}（已推送待回执）"]


def test_pushing_with_no_platform_configured_outside_demo_mode_is_an_alarm_and_exits_non_zero(
    engine: Engine, session: Session, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    published(engine, session, "示范建设有限公司", CODE)
    setenv(monkeypatch, "SHOUXIN_TODAY", "2026-03-02")
    pushed = runner.invoke(shouxin, ["platform", "push"])
    assert pushed.exit_code == 1
    assert pushed.stderr.strip().splitlines() == [
        "错误: 未配置信用平台地址 SHOUXIN_CREDIT_PLATFORM_URL，文档滞留待推送"
    ]
    assert [d.status for d in documents(session)] == [DocumentStatus.PENDING]
    alarms = runner.invoke(shouxin, ["platform", "alarms"])
    assert alarms.exit_code == 1
    assert "未配置信用平台地址 SHOUXIN_CREDIT_PLATFORM_URL：文档滞留待推送" in alarms.stdout

    # A demo has no platform on purpose: nothing to alarm about, the documents wait quietly.
    setenv(monkeypatch, "SHOUXIN_DEMO_MODE", "true")
    pushed = runner.invoke(shouxin, ["platform", "push"])
    assert (pushed.exit_code, pushed.stderr) == (0, "")
    alarms = runner.invoke(shouxin, ["platform", "alarms"])
    assert alarms.exit_code == 0, alarms.output
    assert "未配置信用平台地址" not in alarms.stdout
    assert [d.status for d in documents(session)] == [DocumentStatus.PENDING]


def test_an_80_column_listing_prints_each_document_id_whole_to_be_copied_into_retry(
    engine: Engine,
    session: Session,
    staff: Staff,
    monkeypatch: pytest.MonkeyPatch,
    platform: type[_Platform],  # noqa: F811
) -> None:
    refused = refused_document(engine, session, platform)
    listed = listed_at_80_columns(app, monkeypatch, "--status", "dead")
    [row] = rows(listed.stdout, refused)
    assert "失败" in row
    assert runner.invoke(shouxin, ["platform", "retry", refused]).exit_code == 0


def test_an_80_column_listing_folds_the_receipt_and_the_reason_and_keeps_the_type_and_status_whole(
    engine: Engine,
    session: Session,
    staff: Staff,
    monkeypatch: pytest.MonkeyPatch,
    platform: type[_Platform],  # noqa: F811
) -> None:
    refused = refused_document(engine, session, platform)
    taken = f"{published(engine, session, '张小三').number}:publish"
    platform.mode = "up"
    assert push_due(engine=engine).acknowledged == 1
    waiting = f"{published(engine, session, '李四').number}:publish"
    platform.mode = "later"  # taken, no receipt yet: 已推送待回执
    assert push_due(engine=engine).sent == 1
    by_id = {d.document_id: d for d in documents(session)}
    assert "XDR_SHXYM" in (by_id[refused].last_error or "")  # the platform's own reason

    listed = listed_at_80_columns(app, monkeypatch)
    assert "…" not in listed.stdout
    shown = {ids[0]: cells for ids, *cells in table_rows(listed.stdout)}
    assert set(shown) == {refused, taken, waiting}  # each id whole on its row's first line
    for document_id, label in ((refused, "失败"), (taken, "已回执"), (waiting, "已推送待回执")):
        document = by_id[document_id]
        kinds, statuses, attempts, receipts, errors = shown[document_id]
        assert (kinds[0], statuses[0], attempts[0]) == ("publish", label, str(document.attempts))
        assert "".join(receipts) == (document.receipt_id or "")  # folded, not cut
        assert "".join(errors).replace(" ", "") == (document.last_error or "")[:60].replace(" ", "")
