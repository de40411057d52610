"""The one place where domain errors become HTTP status codes."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError, OperationalError

from models.errors import (
    Conflict,
    DomainError,
    NotFound,
    NotPermitted,
    OutOfCalendarCoverage,
    RateLimited,
    SchemaOutOfDate,
    TransitionNotAllowed,
    Unauthenticated,
    ValidationFailed,
)

STATUS: list[tuple[type[DomainError], int]] = [
    (Unauthenticated, 401),
    (NotFound, 404),
    (NotPermitted, 403),
    (TransitionNotAllowed, 409),
    (Conflict, 409),
    (OutOfCalendarCoverage, 422),
    (ValidationFailed, 422),
    (RateLimited, 429),
    (SchemaOutOfDate, 503),
]

_FIELD_MESSAGES = {
    "missing": "必填项未填写",
    "string_too_short": "内容过短",
    "string_too_long": "内容过长",
    "enum": "取值不在允许范围内",
    "value_error": "取值无效",
    "date_from_datetime_parsing": "日期格式应为 YYYY-MM-DD",
    "date_parsing": "日期格式应为 YYYY-MM-DD",
    "int_parsing": "应为整数",
    "decimal_parsing": "应为数字",
    "greater_than_equal": "数值过小",
    "less_than_equal": "数值过大",
    "extra_forbidden": "不认识的字段",
}


def status_for(exc: DomainError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 400


def error_body(error: str, message: str, /, **details: Any) -> dict[str, Any]:
    # Positional-only: details may carry their own "code" (e.g. InvalidCreditCode's credit code).
    return {"error": error, "message": message, **details}


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        body = error_body(type(exc).__name__, exc.message, **exc.details)
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
        return JSONResponse(body, status_code=status_for(exc), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
            zh = _FIELD_MESSAGES.get(str(err.get("type")), "取值无效")
            fields.append(
                {"field": ".".join(loc), "message": f"{zh}：{err.get('msg')}", "type": err.get("type")}
            )
        summary = "；".join(f"{f['field'] or '请求'}: {f['message']}" for f in fields[:5])
        return JSONResponse(
            error_body("ValidationError", f"请求内容有误，请按提示修改后重试：{summary}", fields=fields),
            status_code=422,
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, __: IntegrityError) -> JSONResponse:
        return JSONResponse(
            error_body(
                "Conflict",
                "数据与已有记录冲突（可能是重复提交或并发操作），请刷新后重试 "
                "(conflicts with an existing record)",
            ),
            status_code=409,
        )

    @app.exception_handler(OperationalError)
    async def _db_down(_: Request, __: OperationalError) -> JSONResponse:
        return JSONResponse(
            error_body(
                "ServiceUnavailable",
                "数据库暂时不可用，请稍后重试；本次操作未保存 "
                "(database unavailable, nothing was saved; retry shortly)",
            ),
            status_code=503,
            headers={"Retry-After": "5"},
        )
