"""The one place where domain errors become HTTP status codes."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from models.errors import (
    Conflict,
    DomainError,
    NotFound,
    NotPermitted,
    OutOfCalendarCoverage,
    RateLimited,
    SchemaOutOfDate,
    TooLarge,
    TransitionNotAllowed,
    Unauthenticated,
    ValidationFailed,
)

log = logging.getLogger(__name__)

STATUS: list[tuple[type[DomainError], int]] = [
    (Unauthenticated, 401),
    (NotFound, 404),
    (NotPermitted, 403),
    (TransitionNotAllowed, 409),
    (Conflict, 409),
    (OutOfCalendarCoverage, 422),
    (TooLarge, 413),
    (ValidationFailed, 422),
    (RateLimited, 429),
    (SchemaOutOfDate, 503),
]

OUT_OF_RANGE = (
    "请求中的编号、数值或文字超出允许范围，或含有控制字符；请核对后重试 "
    "(a value out of range or holding control characters)"
)

# Each kind of malformed field in words that say what is wrong and how to put it right, for people who
# never read pydantic's English (pydantic's error types); ``field_message`` adds the limits a field's
# error carries, and the pages say a few of them their own way (web/core.py).
FIELD_MESSAGES = {
    "missing": "必填项未填写，请填写后重新提交",
    "string_too_short": "内容过短，请补充",
    "string_too_long": "内容过长，请删减",
    "too_short": "项目过少，请补充",
    "too_long": "项目过多，请删减",
    "string_pattern_mismatch": "格式不正确，请按说明填写",
    "enum": "取值不在允许范围内",
    "literal_error": "取值不在允许范围内",
    "value_error": "取值无效，请核对后重新填写",
    "date_from_datetime_parsing": "日期格式应为 YYYY-MM-DD，例如 2026-03-01",
    "date_from_datetime_inexact": "日期格式应为 YYYY-MM-DD，只填日期、不带时间，例如 2026-03-01",
    "date_parsing": "日期格式应为 YYYY-MM-DD，例如 2026-03-01",
    "date_type": "日期格式应为 YYYY-MM-DD，例如 2026-03-01",
    "int_parsing": "应为整数，请只填阿拉伯数字，例如 15",
    "int_from_float": "应为整数，请只填阿拉伯数字，例如 15",
    "int_type": "应为整数，请只填阿拉伯数字，例如 15",
    "bool_parsing": "应为“是”或“否”，请重新选择",
    # The only decimals anywhere are amounts of money in yuan (a complaint's 涉及金额): what people type
    # there is "38万" or "380,000", so the message shows the form that is taken.
    "decimal_parsing": "金额应为数字，单位元，例如 380000.00",
    "decimal_type": "金额应为数字，单位元，例如 380000.00",
    "decimal_max_places": "金额最多保留 2 位小数，例如 380000.00",
    "decimal_max_digits": "金额过大，单位元，例如 380000.00",
    "decimal_whole_digits": "金额过大，单位元，例如 380000.00",
    "greater_than_equal": "数值过小",
    "greater_than": "数值过小",
    "less_than_equal": "数值过大",
    "less_than": "数值过大",
    "extra_forbidden": "不认识的字段，请删除",
}

# pydantic's own e-mail check (EmailStr) reports a plain value_error; this is how its message begins.
_EMAIL_ERROR = "value is not a valid email address"
EMAIL_MESSAGE = "电子邮箱格式不正确：请填写完整的地址，例如 name@example.com；没有邮箱请留空"


class ErrorBody(BaseModel):
    """Every error answer: the error class, a message for people, and details (e.g. ``fields``)."""

    model_config = ConfigDict(extra="allow")
    error: str
    message: str


# Documented on every operation, so clients (and the schema tests) know every answer they can get.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (401, "未登录或令牌无效"),
        (403, "当前角色无权执行"),
        (404, "不存在或无权查看"),
        (409, "状态不允许或已被他人更新"),
        (413, "文件或请求内容超过大小上限"),
        (422, "请求内容有误"),
        (429, "尝试次数过多，请稍后再试"),
        (503, "数据库暂时不可用"),
    )
}


def status_for(exc: DomainError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 400


def error_body(error: str, message: str, /, **details: Any) -> dict[str, Any]:
    # Positional-only: details may carry their own "code" (e.g. InvalidCreditCode's credit code).
    return {"error": error, "message": message, **details}


def domain_answer(exc: DomainError) -> JSONResponse:
    body = error_body(type(exc).__name__, exc.message, **exc.details)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    return JSONResponse(body, status_code=status_for(exc), headers=headers)


# A bound's key in pydantic's error context, and how the message names it.
_BOUNDS = {
    "greater_than_equal": ("ge", "不能小于"),
    "greater_than": ("gt", "应大于"),
    "less_than_equal": ("le", "不能大于"),
    "less_than": ("lt", "应小于"),
}


def field_message(err: Mapping[str, Any], messages: Mapping[str, str] = FIELD_MESSAGES) -> str:
    """What is wrong with one field (pydantic's ``err``) in Chinese, with the limit it broke when the error
    carries one: a text over its limit says the limit and its length, whichever check found it (a
    string's, or a cleaned value's ``too_long``, whose own wording speaks of items)."""
    kind, value, ctx = str(err.get("type")), err.get("input"), err.get("ctx") or {}
    if kind == "value_error" and str(err.get("msg", "")).startswith(_EMAIL_ERROR):
        return EMAIL_MESSAGE
    if kind in ("string_too_long", "too_long") and isinstance(value, str) and "max_length" in ctx:
        # The length checked (of the cleaned text, when a cleaner ran first), else the text's own.
        length = ctx.get("actual_length", len(value))
        return f"内容过长：最多 {ctx['max_length']} 个字，现为 {length} 个字，请删减"
    if kind == "string_too_short" and isinstance(value, str) and "min_length" in ctx:
        return f"内容过短：至少 {ctx['min_length']} 个字，现为 {len(value)} 个字，请补充"
    if kind == "too_long" and "max_length" in ctx and "actual_length" in ctx:
        return f"项目过多：最多 {ctx['max_length']} 项，现为 {ctx['actual_length']} 项，请删减"
    if kind == "decimal_max_digits" and "max_digits" in ctx:
        return f"金额过大：最多 {ctx['max_digits']} 位数字，单位元，例如 380000.00"
    bound = _BOUNDS.get(kind)
    if bound is not None and bound[0] in ctx:
        return f"{messages.get(kind, '取值无效')}：{bound[1]} {ctx[bound[0]]}"
    return messages.get(kind, "取值无效，请核对后重新填写")


def validation_answer(exc: RequestValidationError) -> JSONResponse:
    """The API's answer to a malformed request: 422 with a Chinese message for each field (``fields``).
    The pages (web/core.py) draw their error page from it, with its status code."""
    fields = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            # Its location is a character offset into the body, not a field: say where, as a sentence.
            at = next((p for p in err.get("loc", ()) if isinstance(p, int)), None)
            where = f"（第 {at} 个字符附近）" if at is not None else ""
            message = f"请求体不是有效的 JSON{where}；请检查引号、逗号和括号 (invalid JSON)"
            fields.append({"field": "", "message": message, "type": "json_invalid"})
            continue
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        zh = field_message(err)
        fields.append({"field": ".".join(loc), "message": f"{zh}：{err.get('msg')}", "type": err.get("type")})
    summary = "；".join(f"{f['field'] or '请求'}: {f['message']}" for f in fields[:5])
    return JSONResponse(
        error_body("ValidationError", f"请求内容有误，请按提示修改后重试：{summary}", fields=fields),
        status_code=422,
    )


async def http_answer(request: Request, exc: HTTPException) -> Response:
    """The API's answer to an HTTPException: FastAPI's own (an unknown path's 404, a 405), except for an
    error raised while FastAPI read the body (below). The pages draw their error page from it."""
    # A JSON body nested deeper than the interpreter's recursion limit (~1,000 levels) makes the standard
    # library's parser raise RecursionError; FastAPI wraps any error while reading the body in a bare
    # 400 {"detail"}, undocumented and in neither language. It is malformed input like invalid JSON (422),
    # answered before any authentication or service call, so nothing was read or written.
    # A body over its cap (api/body_limit.py) is the domain's TooLarge, answered as such (413).
    if isinstance(exc.__cause__, DomainError):
        return domain_answer(exc.__cause__)
    # Starlette refuses a form past its limits (parts, a field's size) or malformed with a bare English
    # 400, raised while handling its MultiPartException: answered as the domain's refusal instead.
    if isinstance(exc.__context__, MultiPartException):
        return domain_answer(multipart_refusal(exc.__context__.message))
    if isinstance(exc.__cause__, RecursionError):
        return JSONResponse(
            error_body(
                "ValidationError",
                "请求内容嵌套层数过深，无法解析；请检查请求体的 JSON 结构后重试 "
                "(request body nested too deeply to parse)",
            ),
            status_code=422,
        )
    # Bytes that are not text in any encoding JSON allows (b'{"a":"\xff"}'): the same bare 400 otherwise.
    if isinstance(exc.__cause__, UnicodeDecodeError):
        return JSONResponse(
            error_body(
                "ValidationError",
                "请求体不是有效的 UTF-8 编码 JSON，无法解析；请以 UTF-8 编码发送 JSON 后重试 "
                "(request body must be UTF-8 encoded JSON)",
            ),
            status_code=422,
        )
    return await http_exception_handler(request, exc)


_MULTIPART_LIMIT = re.compile(r"^Too many (files|fields)\. Maximum number of \w+ is (\d+)\.$")


def multipart_refusal(message: str) -> DomainError:
    """Starlette's multipart error ``message`` as the domain's refusal: 413 for a form past a limit of
    the parser (naming the limit), 422 for one it cannot read."""
    limit = _MULTIPART_LIMIT.match(message)
    if limit:
        kind = "文件" if limit[1] == "files" else "表单字段"
        return TooLarge(
            f"一次提交的{kind}过多：上限 {limit[2]} 个；请分批提交 (too many {limit[1]}: at most {limit[2]})",
            max_parts=int(limit[2]),
        )
    if message.startswith(("Field exceeded", "Part exceeded")):
        size = message.rsplit(" ", 1)[-1].rstrip(".")
        return TooLarge(f"表单中的某一项内容过大：上限 {size}；请缩短后重试 (a form field over {size})")
    return ValidationFailed(
        "无法解析提交的表单（multipart 格式错误）；请从页面重新提交，或检查客户端的请求格式 "
        "(malformed multipart form)"
    )


def internal_answer(request: Request, exc: Exception) -> JSONResponse:
    """A bug's answer: 500 with a reference the user can quote, logged with the request (the message never
    carries the error: it may hold personal data or the server's internals). No traceback here: Starlette
    re-raises the exception after this answer and the ASGI server logs it in full right after this line."""
    reference = secrets.token_hex(4)
    log.error(
        "未处理的错误，已答复 500 (unhandled error, answered 500) [%s] %s %s: %s",
        reference,
        request.method,
        request.url.path,
        type(exc).__name__,
    )
    return JSONResponse(
        error_body(
            "InternalError",
            f"服务器内部错误，操作可能未完成；请稍后刷新核对后重试，如仍出错请联系管理员并提供错误编号 "
            f"{reference} (internal error, reference {reference})",
        ),
        status_code=500,
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return domain_answer(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_answer(exc)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        return await http_answer(request, exc)

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

    # A value the database cannot store or compare (an id beyond 64 bits on SQLite, 32 on a PostgreSQL
    # INTEGER; a NUL, which PostgreSQL refuses in any text): the input is wrong, not the server. Inputs are
    # checked before their queries; this is the net for one that was not. Pages answer it with their error
    # page (web/core.py PageRoute), never with this JSON.
    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def _out_of_range(_: Request, __: Exception) -> JSONResponse:
        return JSONResponse(error_body("ValidationError", OUT_OF_RANGE), status_code=422)

    # Logged, one line without the statement or its parameters (they may carry personal data): a database
    # that went away (a missing SQLite file, a PostgreSQL restart) must show in the log, not only in 503s.
    # Starlette's ServerErrorMiddleware runs this for any exception no other handler took.
    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        return internal_answer(request, exc)

    @app.exception_handler(OperationalError)
    async def _db_down(request: Request, exc: OperationalError) -> JSONResponse:
        log.error(
            "数据库不可用，已答复 503 (database unavailable, answered 503): %s %s: %s",
            request.method,
            request.url.path,
            str(exc.orig).split("\n", 1)[0],
        )
        return JSONResponse(
            error_body(
                "ServiceUnavailable",
                "数据库暂时不可用，请稍后重试；本次操作未保存 "
                "(database unavailable, nothing was saved; retry shortly)",
            ),
            status_code=503,
            headers={"Retry-After": "5"},
        )
