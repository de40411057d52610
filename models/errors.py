"""Domain errors. ``api/errors.py`` maps each class to one HTTP status; messages are for people."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base class: ``message`` says what was wrong and what to do about it."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(DomainError):
    """The thing does not exist, or the caller may not know that it exists."""


class Unauthenticated(DomainError):
    """No credentials, or credentials that do not match an active account."""


class NotPermitted(DomainError):
    """The caller's role may not do this."""


class TransitionNotAllowed(DomainError):
    """The event is not allowed in the case's current state."""


class Conflict(DomainError):
    """Someone else changed the case first, or a uniqueness rule refuses the write."""


class ValidationFailed(DomainError):
    """Input that passed the schema but breaks a business rule."""


class TooLarge(ValidationFailed):
    """An upload or a request body over its size limit (413); a ValidationFailed for callers that catch
    those."""


class OutOfCalendarCoverage(DomainError):
    """A date falls in a year whose holiday notice is not loaded."""

    def __init__(self, year: int) -> None:
        super().__init__(
            f"{year}年的节假日安排尚未载入，无法计算工作日；请管理员用 `shouxin calendar load FILE` 载入"
            f"{year}年国务院办公厅放假通知 (calendar for {year} is not loaded)",
            year=year,
        )
        self.year = year


class InvalidCreditCode(ValidationFailed):
    """A 统一社会信用代码 that fails GB 32100-2015."""


class RateLimited(DomainError):
    """Too many failed attempts; ``retry_after`` (seconds) says when to try again."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after


class SchemaOutOfDate(DomainError):
    """The database schema is behind the code."""
