"""Whether a setting's network address or port is one Shouxin can use: checked at start-up
(models/settings.py), so that an address httpx cannot speak or a port that is no number is refused with one
Chinese line instead of being retried for ever."""

from __future__ import annotations

from urllib.parse import urlsplit

_HTTP_URL_FORM = (
    "应为 http:// 或 https:// 开头、带主机名的地址，如 https://xinyong.example.gov.cn/api "
    "(expected an http(s) URL with a host)"
)
PORTS = range(1, 65536)


def port_problem(port: object) -> str | None:
    """Why ``port`` is no TCP port (None when it is one)."""
    try:
        number = int(str(port).strip())
    except ValueError:
        return f"端口 {str(port)!r} 不是整数，应为 1–65535 之间的整数 (port must be an integer 1..65535)"
    if number not in PORTS:
        return f"端口 {number} 不在 1–65535 之内 (port must be 1..65535)"
    return None


def http_url_problem(value: str) -> str | None:
    """Why ``value`` is no http(s) address with a host (None when it is one). The address itself is not
    echoed: it may carry a user and password."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        # urlsplit refuses a port that is no number or out of range, and a malformed IPv6 host.
        return f"地址无法解析（端口应为 1–65535 之间的整数），{_HTTP_URL_FORM}"
    if parts.scheme.lower() not in ("http", "https"):
        shown = f"协议 {parts.scheme}:// 不受支持" if parts.scheme else "缺少 http:// 或 https://"
        return f"{shown}，{_HTTP_URL_FORM}"
    if not parts.hostname:
        return f"缺少主机名，{_HTTP_URL_FORM}"
    if port is not None and port not in PORTS:
        return port_problem(port)
    return None
