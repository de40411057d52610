"""The one clock. "Today" is the Asia/Shanghai date, never the server's local date."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from models.errors import ValidationFailed
from models.settings import Settings, get_settings


@dataclass(frozen=True)
class Clock:
    """Answers "now" (UTC-aware) and "today" (local date); ``pinned_today`` honours SHOUXIN_TODAY."""

    tz: ZoneInfo
    pinned_today: dt.date | None = None

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Clock:
        settings = settings or get_settings()
        return cls(tz=ZoneInfo(settings.timezone), pinned_today=settings.today)

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def today(self) -> dt.date:
        if self.pinned_today is not None:
            return self.pinned_today
        return self.local_date(self.now())

    def local_date(self, moment: dt.datetime) -> dt.date:
        """The calendar date of ``moment`` in the configured zone; naive datetimes are refused."""
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValidationFailed(
                "时间缺少时区信息；请使用带时区的时间 (naive datetime refused: attach a timezone)"
            )
        return moment.astimezone(self.tz).date()


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso_date(day: dt.date | None) -> str | None:
    """``day`` as ``YYYY-MM-DD`` for event data and mail context, None for no day (dates in JSON are text)."""
    return day.isoformat() if day else None


def chinese_date(day: dt.date) -> str:
    """``day`` as a Chinese sentence writes it (2026年4月8日): the one form for every page, notice and
    domain message a reader sees; machine fields keep ``iso_date``. A datetime is its day in the
    configured zone (``Clock.local_date``: 16:30 UTC is already the next day in Beijing), a naive one
    refused rather than guessed."""
    if isinstance(day, dt.datetime):
        day = Clock.from_settings().local_date(day)
    return f"{day.year}年{day.month}月{day.day}日"
