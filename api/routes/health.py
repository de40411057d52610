"""Liveness and readiness."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text
from sqlmodel import Session

from api.deps import CalendarDep, SessionDep, TodayDep
from models.calendar import WorkCalendar
from models.hotline_admin import dead_count, held_behind_dead
from models.pending_deadlines import calendar_warning
from models.platform_admin import platform_alarms
from models.settings import get_settings

router = APIRouter(tags=["系统"])


# The database answered; today's date, the working calendar in use with its last three years, and warnings.
class Health(BaseModel):
    status: str
    today: dt.date
    calendar_version: str
    calendar_years: list[int]
    # Things an administrator should act on while the service keeps working (the answer stays 200), e.g.
    # next year's holiday notice not loaded yet from ``calendar_warning_from`` on, or the credit platform's
    # alarms (no platform configured outside demo mode, documents without a receipt past the deadline).
    warnings: list[str] = []


@router.get("/health", response_model=Health, summary="健康检查")
def health(session: SessionDep, today: TodayDep, calendar: CalendarDep) -> Health:
    session.execute(text("SELECT 1"))
    return Health(
        status="ok",
        today=today,
        calendar_version=calendar.version,
        calendar_years=calendar.covered_years()[-3:],
        warnings=[
            w
            for w in [
                calendar_warning(calendar, today),
                _sms(),
                *_platform(session, today, calendar),
                *_hotline(session),
            ]
            if w
        ],
    )


def _sms() -> str | None:
    # A provider chosen without its keys is SMS off (``Settings.sms_configured``): mobile-only recipients
    # are marked undeliverable, which an administrator who meant to turn SMS on should hear of.
    settings = get_settings()
    missing = settings.sms_missing()
    if not missing:
        return None
    names = "、".join(missing)
    return (
        f"已选择短信服务 {settings.sms_provider}，但缺少 {names}："
        "短信不会发送，仅有手机号码的收件人记为无法送达"
        f" (SMS provider '{settings.sms_provider}' chosen but {', '.join(missing)} missing: SMS is off)"
    )


def _platform(session: Session, today: dt.date, calendar: WorkCalendar) -> list[str]:
    alarms = platform_alarms(session=session, today=today, calendar=calendar)
    warnings = []
    if alarms.unconfigured:
        warnings.append(
            "未配置信用平台推送地址，失信信息无法报送信用平台"
            " (SHOUXIN_CREDIT_PLATFORM_URL not set outside demo mode)"
        )
    if alarms.unsigned:
        warnings.append(
            "已配置信用平台推送地址但未配置 SHOUXIN_CREDIT_PLATFORM_SECRET：文档不推送，滞留待推送"
            " (platform URL set without a secret: documents stay pending)"
        )
    if alarms.overdue:
        n, days = len(alarms.overdue), alarms.working_days
        warnings.append(
            f"{n} 份信用平台推送文档超过 {days} 个工作日未收到回执"
            f" ({n} platform documents unacknowledged after {days} working days)"
        )
    return warnings


def _hotline(session: Session) -> list[str]:
    # What keeps 12345 results from going out until an administrator acts: a URL without its signing key
    # (nothing is sent), and dead messages, each holding back the later ones of its case.
    settings = get_settings()
    warnings = []
    if settings.hotline_unsigned:
        warnings.append(
            "已配置 12345 平台回传地址 SHOUXIN_HOTLINE_URL，但未配置签名密钥 SHOUXIN_HOTLINE_SECRET："
            "回传消息不发送，全部滞留待发送 (hotline URL set without a secret: no result is sent)"
        )
    dead = dead_count(session=session)
    if dead:
        held = len(held_behind_dead(session=session))
        warnings.append(
            f"{dead} 条 12345 回传消息发送失败，另有 {held} 条同一投诉的后续消息因此暂缓；"
            "请在“12345 工单回传”页面或用 shouxin hotline retry --all-dead 重新发送，或人工处理"
            f" ({dead} dead hotline messages, {held} held behind them)"
        )
    return warnings
