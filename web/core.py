"""What every page shares: the template environment, staff sign-in cookies, CSRF and security headers.

The sign-in cookie is signed (HMAC-SHA256 with ``secret_key``) and carries its expiry and the user's
session generation: signing out, a new password, deactivation or a role change bump the generation
(models/accounts.py), which ends every session of the user on every device at its next request. The
signature also covers the user's current token and password hashes, so rotating either does the same.
CSRF is a signed double-submit cookie: a random part and an HMAC over it and the browser's sign-in cookie
(empty before signing in), which every POST form repeats in a hidden field. Someone who can plant a cookie
for the site (a sibling subdomain, plain HTTP) cannot mint a token for another's session without the key,
and signing in (or any new sign-in cookie) issues a fresh token. Both cookies are ``Secure`` when the
request came over HTTPS (as uvicorn reports it: behind a proxy, only a trusted one's X-Forwarded-Proto
counts). Every page that needs a sign-in, and the sign-in page, is ``no-store``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Coroutine
from html import escape
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from pydantic import ValidationError
from sqlalchemy.exc import DataError
from sqlalchemy.orm import object_session
from sqlmodel import Session
from starlette.exceptions import HTTPException

from api.body_limit import api_path
from api.deps import actor_of
from api.errors import FIELD_MESSAGES as API_FIELD_MESSAGES
from api.errors import (
    OUT_OF_RANGE,
    field_message,
    http_answer,
    internal_answer,
    status_for,
    validation_answer,
)
from models.clock import chinese_date
from models.errors import DomainError, NotPermitted
from models.lifecycle import ROLE_LABELS, STAFF_ROLES, Role
from models.org import User
from models.settings import get_settings
from models.workflow import Actor

SESSION_COOKIE = "sx_session"
CSRF_COOKIE = "sx_csrf"
CSRF_FIELD = "csrf_token"
SESSION_HOURS = 8

# No inline script or style anywhere, so the policy can forbid both; charts are separate SVG images.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

# Staff roles by value with their labels: the user form's choices and the pages' role names.
STAFF_ROLE_CHOICES = {str(role): ROLE_LABELS[role] for role in STAFF_ROLES}

# The services end their messages with an English gloss in ASCII parentheses for API clients and logs;
# people read Chinese only, on every page, staff's as the public's.
_ENGLISH_GLOSS = re.compile(r"\s*\([\x20-\x7e]*\)\s*$")


def public_message(message: str) -> str:
    """``message`` as a page shows it: without its trailing English gloss, e.g. "办理码不正确。… (wrong
    access code)". Templates that show a service's text have it as the ``chinese`` filter."""
    return _ENGLISH_GLOSS.sub("", message)


env = Environment(
    loader=PackageLoader("web", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
env.globals["role_labels"] = STAFF_ROLE_CHOICES
env.filters["chinese"] = public_message


def cn_date(value: dt.date | None) -> str:
    """The ``cn_date`` filter: a day as a Chinese sentence writes it (2026年4月8日), the form the domain's
    messages and the notices use too (models/clock.py ``chinese_date``, which takes a datetime to its day
    in the product's zone and refuses a naive one rather than guess its zone). None is "—", as the pages
    show an absent value. Machine-readable places (a ``<time datetime>`` attribute, exports, the API)
    keep ISO."""
    if value is None:
        return "—"
    return chinese_date(value)


env.filters["cn_date"] = cn_date


class LoginRequired(Exception):
    """Raised by a page that needs a signed-in user; answered with a redirect to the sign-in page."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class CsrfFailed(Exception):
    """A POST form whose CSRF field does not match the browser's cookie."""


def _signature(payload: str) -> str:
    key = get_settings().secret_key.encode()
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def _fingerprint(user: User) -> str:
    return hashlib.sha256(f"{user.token_hash}|{user.password_hash or ''}".encode()).hexdigest()[:16]


def session_value(user: User, now: dt.datetime) -> str:
    expires = int((now + dt.timedelta(hours=SESSION_HOURS)).timestamp())
    payload = f"{user.id}.{user.session_generation}.{expires}"
    return f"{payload}.{_signature(f'{payload}.{_fingerprint(user)}')}"


def user_from_cookie(value: str | None, session: Session, now: dt.datetime) -> User | None:
    """The user a sign-in cookie names, if its signature holds, it has not expired, and it was issued
    under the user's current session generation (an ended session is refused like a forged one)."""
    if not value or value.count(".") != 3:
        return None
    user_id, generation, expires, signature = value.split(".")
    if not (user_id.isdigit() and generation.isdigit() and expires.isdigit()):
        return None
    if int(expires) < now.timestamp():
        return None
    user = session.get(User, int(user_id))
    if user is None or not user.active or int(generation) != user.session_generation:
        return None
    expected = _signature(f"{user_id}.{generation}.{expires}.{_fingerprint(user)}")
    return user if hmac.compare_digest(expected, signature) else None


def over_https(request: Request) -> bool:
    """Whether the browser reached us over HTTPS: its cookies then never travel over plain HTTP."""
    return request.url.scheme == "https" or get_settings().public_base_url.startswith("https://")


def start_session(request: Request, user: User, now: dt.datetime) -> None:
    """Mint the sign-in cookie this response will set (``set_session_cookie``) and a CSRF token bound to
    it, before a page is drawn: the page's forms then carry the token that will be valid (an admin who
    set their own password gets a new session on the page that says so)."""
    value = session_value(user, now)
    request.state.new_session = value
    request.state.new_csrf = new_csrf_token(value)


def set_session_cookie(request: Request, response: Response, user: User, now: dt.datetime) -> None:
    """The sign-in cookie, with a fresh CSRF token bound to it: a token planted or seen before signing in
    is worthless after. Minted here unless ``start_session`` did it for this request already."""
    if getattr(request.state, "new_session", None) is None:
        start_session(request, user, now)
    value = str(request.state.new_session)
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=SESSION_HOURS * 3600,
        httponly=True,
        samesite="lax",
        secure=over_https(request),
        path="/",
    )
    _set_csrf_cookie(request, response, str(request.state.new_csrf))


def no_store(request: Request) -> None:
    """Mark the answer as one no browser or proxy may keep (PageRoute sets ``Cache-Control: no-store``):
    a signed-in page shows personal data, and the back button after signing out must not show it again."""
    request.state.no_store = True


def current_user(request: Request, session: Session, *roles: Role) -> User:
    """The signed-in user (else a redirect to sign in); refuses roles not listed when any are given."""
    no_store(request)
    user = user_from_cookie(request.cookies.get(SESSION_COOKIE), session, dt.datetime.now(dt.UTC))
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    request.state.user = user
    if roles and user.role not in roles:
        names = "、".join(ROLE_LABELS.get(r, str(r)) for r in roles)
        raise NotPermitted(f"当前账号无权访问此页面；仅限：{names}。如需办理，请联系管理员调整角色")
    return user


def current_actor(request: Request, session: Session, *roles: Role) -> tuple[User, Actor]:
    user = current_user(request, session, *roles)
    return user, actor_of(user)


def _csrf_mac(session_cookie: str, nonce: str) -> str:
    # The sign-in cookie is hashed to a fixed length so the payload splits one way only; the "csrf|"
    # prefix keeps these MACs apart from the session cookie's own signatures under the same key.
    bound = hashlib.sha256(session_cookie.encode()).hexdigest()
    return _signature(f"csrf|{bound}|{nonce}")


def new_csrf_token(session_cookie: str) -> str:
    """A fresh token bound to ``session_cookie`` (the sign-in cookie's value, "" when signed out)."""
    nonce = secrets.token_urlsafe(24)
    return f"{nonce}.{_csrf_mac(session_cookie, nonce)}"


def csrf_token_valid(token: str, session_cookie: str) -> bool:
    nonce, _, mac = token.partition(".")
    return bool(nonce and mac) and hmac.compare_digest(
        mac.encode(), _csrf_mac(session_cookie, nonce).encode()
    )


def _session_of(request: Request) -> str:
    # The cookie as the browser sent it, not the signed-in user: a public page visited while signed in
    # must keep the staff token, or it would overwrite the cookie that the staff tabs' forms repeat. A
    # session started by this request (``start_session``) is the one its page's forms will be sent with.
    return getattr(request.state, "new_session", None) or request.cookies.get(SESSION_COOKIE) or ""


def csrf_token(request: Request) -> str:
    """The browser's token while it is valid for its sign-in cookie (so several tabs share it), else a
    fresh one that ``render`` sets as the cookie."""
    token = request.cookies.get(CSRF_COOKIE) or ""
    if token and csrf_token_valid(token, _session_of(request)):
        return token
    pending = getattr(request.state, "new_csrf", None)
    if not pending:
        pending = new_csrf_token(_session_of(request))
        request.state.new_csrf = pending
    return str(pending)


def _set_csrf_cookie(request: Request, response: Response, token: str) -> None:
    # One Set-Cookie per response for the token, the last one issued: two would leave it to the browser.
    prefix = f"{CSRF_COOKIE}=".encode()
    response.raw_headers[:] = [
        (k, v) for k, v in response.raw_headers if not (k == b"set-cookie" and v.startswith(prefix))
    ]
    response.set_cookie(
        CSRF_COOKIE, token, httponly=True, samesite="lax", secure=over_https(request), path="/"
    )


async def form_data(request: Request) -> dict[str, str]:
    """The POSTed form as plain strings, after checking its CSRF field against the cookie and the cookie's
    MAC against the browser's sign-in cookie."""
    form = await request.form()
    sent = str(form.get(CSRF_FIELD) or "")
    cookie = request.cookies.get(CSRF_COOKIE) or ""
    if not cookie or not hmac.compare_digest(sent.encode(), cookie.encode()):
        raise CsrfFailed
    if not csrf_token_valid(cookie, _session_of(request)):
        raise CsrfFailed
    return {k: str(v).strip() for k, v in form.items() if k != CSRF_FIELD and isinstance(v, str)}


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    user = getattr(request.state, "user", None)
    token = csrf_token(request)
    html = env.get_template(template).render(
        request_path=request.url.path, user=user, csrf_token=token, csrf_field=CSRF_FIELD, **context
    )
    response = HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)
    if getattr(request.state, "new_csrf", None):
        _set_csrf_cookie(request, response, token)
    return response


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)


def login_redirect(path: str) -> RedirectResponse:
    return redirect(f"/login?next={quote(path, safe='')}")


FIELD_MESSAGES = {
    **API_FIELD_MESSAGES,
    # A form's choices are a list to pick from.
    "enum": "不在可选范围内，请从列表中选择",
    "literal_error": "不在可选范围内，请从列表中选择",
}


def field_errors(exc: ValidationError) -> dict[str, str]:
    """Field name → what is wrong and how to fix it, in Chinese: a validator's own message without its
    English gloss (``public_message``), else pydantic's error in words (``field_message``); never
    pydantic's English, which no one at a form reads (staff and public pages alike)."""
    result: dict[str, str] = {}
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if not isinstance(p, int)]
        field = loc[0] if loc else "__all__"
        message = str(err.get("msg", "")).removeprefix("Value error, ")
        if any("\u4e00" <= ch <= "\u9fff" for ch in message):
            result.setdefault(field, public_message(message))
        else:
            result.setdefault(field, field_message(err, FIELD_MESSAGES))
    return result


def refused(session: Session, exc: DomainError) -> tuple[str, int]:
    """A refused form leaves nothing behind (its work is rolled back, so the page drawn next reads what is
    stored); the page says why in Chinese (``public_message``), with the service's status code (a wrong
    access code 403, too many 429)."""
    session.rollback()
    return public_message(exc.message), status_for(exc)


def form_refused(
    session: Session, exc: ValidationError | DomainError, *, at_field: bool = False
) -> tuple[dict[str, str], int]:
    """``refused`` for a page that shows errors by field: a validation error's message per field with 422;
    a domain error's under ``__all__`` (under the field it names, when ``at_field``). Chinese only, on
    every page."""
    if isinstance(exc, ValidationError):
        session.rollback()
        return field_errors(exc), 422
    message, status = refused(session, exc)
    field = str(exc.details.get("field", "__all__")) if at_field else "__all__"
    return {field: message}, status


class PageRoute(APIRoute):
    """A page route: sign-in, CSRF and domain errors become pages, never the API's JSON answers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            response = await answer(request)
            if getattr(request.state, "no_store", False):
                response.headers["Cache-Control"] = "no-store"
            return response

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired as exc:
                return login_redirect(exc.path)
            except CsrfFailed:
                return render(
                    request,
                    "error.html",
                    status_code=403,
                    title="表单已过期",
                    message="表单校验失败（可能已过期或来自其他网站）。请返回上一页，刷新后重新提交。",
                )
            except DomainError as exc:
                title = "无权访问" if isinstance(exc, NotPermitted) else "无法完成请求"
                message = public_message(exc.message)
                return render(
                    request, "error.html", status_code=status_for(exc), title=title, message=message
                )
            except (OverflowError, DataError):
                # The net api/errors.py has for the API, as a page: a value the database cannot store.
                # PostgreSQL has aborted the request's transaction; the page names the signed-in user,
                # who may need reloading (a refused form rolled back before), so it starts a fresh one.
                user = getattr(request.state, "user", None)
                user_session = object_session(user) if user is not None else None
                if user_session is not None:
                    user_session.rollback()
                message = public_message(OUT_OF_RANGE)
                return render(request, "error.html", status_code=422, title="无法完成请求", message=message)

        return page_handler


def page_router(prefix: str = "") -> APIRouter:
    return APIRouter(prefix=prefix, route_class=PageRoute, include_in_schema=False)


# What a page says for an answer that came from no page route: an unknown path or a wrong method.
_NO_ROUTE = {
    404: ("页面不存在", "您访问的页面不存在，请检查网址，或从首页重新进入。"),
    405: ("无法完成请求", "此页面不支持该请求方式，请从页面上的链接或按钮进入。"),
}


def install_page_errors(app: FastAPI) -> None:
    """Answers that come before any page route (an unknown path, a wrong method, a path or query value of
    the wrong type) as the error page in Chinese for the site, and as the API's JSON under /api/. Installed
    after api.errors.install, whose answers decide the status code and are kept as they are for the API
    (api/errors.py cannot draw pages: web imports it)."""

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        answer = await http_answer(request, exc)
        if _api_path(request) or not isinstance(answer, JSONResponse):
            return answer
        return _error_page(request, answer)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        answer = validation_answer(exc)
        return answer if _api_path(request) else _error_page(request, answer)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> Response:
        answer = internal_answer(request, exc)
        if _api_path(request):
            return answer
        try:
            return _error_page(request, answer)
        except Exception:  # noqa: BLE001 - the page itself may be what fails (a database gone): say it plainly
            message = json.loads(bytes(answer.body))["message"]
            return HTMLResponse(
                f"<!doctype html><meta charset=utf-8><p>{escape(message)}</p>", status_code=500
            )


def _api_path(request: Request) -> bool:
    return api_path(request.url.path)


def _error_page(request: Request, answer: JSONResponse) -> Response:
    """The error page for the API's ``answer``, with its status code: its Chinese message (a malformed
    request's fields named with the pages' words), or the page's own for FastAPI's bare {"detail"}."""
    body = json.loads(bytes(answer.body))
    status = answer.status_code
    if status in _NO_ROUTE and "message" not in body:
        title, message = _NO_ROUTE[status]
    else:
        title = "无法完成请求"
        fields = body.get("fields") or []
        if fields:
            named = "；".join(
                f"{f['field'] or '请求'}：{FIELD_MESSAGES.get(str(f['type']), '取值无效，请核对后重新填写')}"
                for f in fields[:5]
            )
            message = f"网址或表单中的内容有误，请检查后重试：{named}"
        else:
            message = public_message(str(body.get("message") or "请求有误，请返回上一页检查后重试。"))
    response = render(request, "error.html", status_code=status, title=title, message=message)
    for name in ("Allow", "Retry-After"):  # a 405's methods, a rate limit's wait
        if name in answer.headers:
            response.headers[name] = answer.headers[name]
    return response
