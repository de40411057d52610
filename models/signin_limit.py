"""Rate limit on failed staff sign-ins to the pages, per account name and per client address
(an IPv6 client per /64, ``client_network``).

Staff passwords are chosen by people, so guessing must be slow. The failures share the ``auth_failure``
table of the tracking limit (models/ratelimit.py), under their own scopes, so every process and host counts
them together; names and addresses are stored only as keyed hashes. The window and the per-address limit
are the tracking ones; an account name gets as few tries as a case number.
"""

from __future__ import annotations

import datetime as dt
import math

from sqlmodel import Session

from models.errors import RateLimited
from models.ratelimit import address_key, client_network, record_failures, seconds_blocked
from models.settings import get_settings

NAME_SCOPE, ADDRESS_SCOPE = "login", "login-ip"


def _keys(name: str, address: str | None) -> list[tuple[str, str, int]]:
    s = get_settings()
    keys = []
    if name.strip():
        keys.append((NAME_SCOPE, address_key(f"name:{name.strip()}"), s.tracking_max_failures_per_case))
    if address:
        keys.append((ADDRESS_SCOPE, address_key(client_network(address)), s.tracking_max_failures_per_ip))
    return keys


def check_sign_in_allowed(*, session: Session, name: str, address: str | None, now: dt.datetime) -> None:
    """Raise RateLimited when the name or the address has too many recent failed sign-ins."""
    for scope, key, limit in _keys(name, address):
        retry = seconds_blocked(session=session, scope=scope, key=key, limit=limit, now=now)
        if retry is not None:
            raise RateLimited(
                f"登录失败次数过多，请在 {math.ceil(retry / 60)} 分钟后再试；忘记密码请联系系统管理员 "
                "(too many failed sign-ins; retry later)",
                retry_after=retry,
            )


def record_sign_in_failure(*, session: Session, name: str, address: str | None, now: dt.datetime) -> None:
    """Count one failure (the caller commits); rows older than the window are dropped on the way."""
    record_failures(session=session, keys=[(scope, key) for scope, key, _ in _keys(name, address)], now=now)
    session.flush()
