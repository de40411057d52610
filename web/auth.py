"""Staff sign-in and sign-out pages, and the site stylesheet."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi import Request
from fastapi.responses import FileResponse, Response

from api.deps import SessionDep
from api.errors import status_for
from models.accounts import authenticate, authenticate_password, end_sessions
from models.errors import RateLimited
from models.lifecycle import Role
from models.signin_limit import check_sign_in_allowed, record_sign_in_failure
from web.core import (
    SESSION_COOKIE,
    form_data,
    no_store,
    page_router,
    public_message,
    redirect,
    render,
    set_session_cookie,
    user_from_cookie,
)

router = page_router()
STATIC = Path(__file__).parent / "static"

HOME = {Role.SUPERVISOR: "/staff/dashboard", Role.ADMIN: "/staff/admin/users"}


def _safe_next(target: str | None) -> str | None:
    # Only same-site paths: "//host" or "http://..." would make the sign-in page an open redirect.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return None


@router.get("/static/site.css")
def stylesheet() -> Response:
    return FileResponse(
        STATIC / "site.css",
        media_type="text/css",
        headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/")
def home() -> Response:
    return redirect("/register")


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    no_store(request)
    return render(
        request, "login.html", title="工作人员登录", next=_safe_next(next) or "", error=None, name=""
    )


def _login_failed(request: Request, form: dict[str, str], message: str, status_code: int) -> Response:
    return render(
        request,
        "login.html",
        title="工作人员登录",
        status_code=status_code,
        next=_safe_next(form.get("next")) or "",
        name=form.get("name", ""),
        error=message,
    )


@router.post("/login")
async def login(request: Request, session: SessionDep) -> Response:
    no_store(request)
    form = await form_data(request)
    name = form.get("name", "")
    address = request.client.host if request.client else None
    now = dt.datetime.now(dt.UTC)
    try:
        check_sign_in_allowed(session=session, name=name, address=address, now=now)
    except RateLimited as exc:
        return _login_failed(request, form, public_message(exc.message), status_for(exc))
    user = None
    if form.get("token"):
        user = authenticate(session=session, token=form["token"])
    elif name and form.get("password"):
        user = authenticate_password(session=session, name=name, password=form["password"])
    if user is None:
        record_sign_in_failure(session=session, name=name, address=address, now=now)
        session.commit()
        return _login_failed(
            request, form, "登录失败：姓名与密码不匹配，或访问令牌无效、账号已停用。请核对后重试。", 401
        )
    target = _safe_next(form.get("next")) or HOME.get(user.role, "/staff")
    response = redirect(target)
    set_session_cookie(request, response, user, now)
    return response


@router.post("/logout")
async def logout(request: Request, session: SessionDep) -> Response:
    """Sign out: the user's sessions end on the server, on this device and every other, so a copy of
    the cookie (another browser, a stolen one) is refused from now on, not only when it expires."""
    no_store(request)
    await form_data(request)
    user = user_from_cookie(request.cookies.get(SESSION_COOKIE), session, dt.datetime.now(dt.UTC))
    if user is not None:
        end_sessions(session=session, user=user)
        session.commit()
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
