"""Rate limit on wrong tracking passwords, shared through the database: per (client, case), per client,
and per case over all clients.

Counting per case alone let one client lock every case out in turn (case and pledge numbers are
sequential), so the owner's own, correct password was refused: the limit an owner meets is the one on
their own address for that case ("pair"). A client guessing across many cases meets the per-address
limit ("ip"), and guessing one case from many addresses meets the much higher per-case limit ("case").
A "pair" key starts with a keyed hash of the case alone, so a case's rows can be found without its
addresses: a re-issued pledge access code clears them (``clear_case_failures``), else the owner it was
re-issued for stays locked out until the window ends.

The tracking password (6 characters) is the only thing between the public and a case's progress, so
guessing must be slow. Failures are rows in ``auth_failure`` rather than counters in process memory:
several API processes (``shouxin serve --workers N``) and several hosts behind a load balancer then share
one count, and a restart does not reset it. The client address is stored only as a keyed hash (it is
personal data and is needed only for counting).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import math
from collections.abc import Iterable

from sqlalchemy import Column, delete, func
from sqlmodel import Field, Session, SQLModel, col, select

from models.errors import NotFound, RateLimited
from models.settings import get_settings
from models.types import UTCDateTime


# One failed attempt; ``scope`` is "pair" (key = keyed hash of client and case number), "ip" (keyed hash of
# the client) or "case" (the case number); a client is an address as ``client_network`` counts it. Other
# limits count under scopes of their own: failed sign-ins (models/signin_limit.py) and complaints submitted
# online ("submit", below), which are not failures but are counted the same way.
class AuthFailure(SQLModel, table=True):
    __tablename__ = "auth_failure"
    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=8)
    key: str = Field(max_length=64, index=True)
    at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False, index=True))


def address_key(address: str) -> str:
    secret = get_settings().secret_key.encode()
    return hmac.new(secret, address.encode(), hashlib.sha256).hexdigest()[:32]


def client_network(address: str) -> str:
    """What an address limit counts for ``address``: an IPv4 address itself, an IPv6 address's /64.

    An IPv6 client is usually handed a whole /64 and its privacy addresses rotate within it, so counted
    per address one client would have 2**64 fresh counts. ``::ffff:a.b.c.d`` is the IPv4 client a.b.c.d
    (a dual-stack server reports IPv4 clients so). Anything else (a test client's "testclient") is
    counted as it is. The counts stored before this are keyed per IPv6 address: they no longer match and
    simply leave the window."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is None:
            # From the integer, so a zone ("fe80::1%eth0") is dropped too: it names the server's interface.
            return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))
        ip = ip.ipv4_mapped
    return str(ip)


def _limits() -> dict[str, int]:
    s = get_settings()
    return {
        "pair": s.tracking_max_failures_per_case,
        "ip": s.tracking_max_failures_per_ip,
        "case": s.tracking_max_failures_per_case_all_clients,
    }


def _case(number: str) -> str:
    return number.strip().upper()[:64]


def _pair_prefix(case: str) -> str:
    # 16 hex digits and a colon: no case number (upper case, stored plain when no address is known) has it.
    return f"{address_key(f'case:{case}')[:16]}:"


def _keys(number: str, address: str | None) -> list[tuple[str, str]]:
    case = _case(number)
    if not address:  # no address known (not behind HTTP): the case's own limit is all there is
        return [("pair", case), ("case", case)]
    client = client_network(address)
    pair = f"{_pair_prefix(case)}{address_key(f'{client}|{case}')}"  # 49 characters, within the column's 64
    return [("pair", pair), ("ip", address_key(client)), ("case", case)]


# What was guessed wrong, and where its owner gets it again: the complaint's tracking password, or the
# pledge's access code (models/pledges/access.py), which share this limit.
_FORGOTTEN = {
    "查询密码": ("该案件", "忘记查询密码请联系受理窗口或拨打 12345"),
    "办理码": ("该承诺", "遗失办理码请联系审批部门重新发放"),
}


def failure_window() -> dt.timedelta:
    """How far back failures count (``tracking_failure_window_minutes``, for sign-ins too)."""
    return dt.timedelta(minutes=get_settings().tracking_failure_window_minutes)


def seconds_blocked(
    *,
    session: Session,
    scope: str,
    key: str,
    limit: int,
    now: dt.datetime,
    window: dt.timedelta | None = None,
) -> int | None:
    """With ``limit`` or more failures under (``scope``, ``key``) in the window (``failure_window()``
    unless given): the seconds until the oldest of them leaves it (at least 1); None while under the limit.

    Attempts under one (``scope``, ``key``) take turns from here to the end of the caller's transaction
    (``_take_turn``), which commits the failure it records: the count is then never read while another
    attempt is between its own count and its failure's commit."""
    window = window or failure_window()
    _take_turn(session, scope, key, now, window)
    count, oldest = session.exec(
        select(func.count(), func.min(AuthFailure.at)).where(
            AuthFailure.scope == scope, AuthFailure.key == key, col(AuthFailure.at) > now - window
        )
    ).one()
    if count < limit or oldest is None:
        return None
    return max(1, math.ceil((oldest + window - now).total_seconds()))


def _take_turn(session: Session, scope: str, key: str, now: dt.datetime, window: dt.timedelta) -> None:
    """Wait for the other attempts under (``scope``, ``key``) until the end of their transactions.

    Counted unserialised, wrong codes sent at once from one address were counted before any of them was
    recorded, and many more than the limit were compared (a right code among them would have got
    through). PostgreSQL: a transaction-level advisory lock on the key's 64-bit hash
    (stable across processes and hosts, unlike ``hash()``). SQLite: the purge of the key's expired rows
    comes first; a write begins the transaction and takes the database's one write lock, so the count
    after it sees every committed failure and no other attempt commits before this one ends. A right
    code keeps its turn to the end of its request too: compared against a count that missed failures in
    flight, it would be let through beyond the limit."""
    if session.get_bind().dialect.name == "postgresql":
        digest = hashlib.blake2b(f"{scope}|{key}".encode(), digest_size=8).digest()
        session.execute(select(func.pg_advisory_xact_lock(int.from_bytes(digest, "big", signed=True))))
    else:
        _purge(session, scope, key, now, window)


def _purge(session: Session, scope: str, key: str, now: dt.datetime, window: dt.timedelta) -> None:
    session.execute(
        delete(AuthFailure).where(
            col(AuthFailure.scope) == scope,
            col(AuthFailure.key) == key,
            col(AuthFailure.at) <= now - window,
        )
    )


def record_failures(
    *,
    session: Session,
    keys: Iterable[tuple[str, str]],
    now: dt.datetime,
    window: dt.timedelta | None = None,
) -> None:
    """Count one failure under each (scope, key) (the caller commits); rows older than the window
    (``failure_window()`` unless given) are dropped on the way."""
    for scope, key in keys:
        _purge(session, scope, key, now, window or failure_window())
        session.add(AuthFailure(scope=scope, key=key, at=now))


def check_tracking_allowed(
    *, session: Session, number: str, address: str | None, now: dt.datetime, secret_label: str = "查询密码"
) -> None:
    """Raise RateLimited when the case or the address has too many recent failures."""
    limits = _limits()
    for scope, key in _keys(number, address):
        retry = seconds_blocked(session=session, scope=scope, key=key, limit=limits[scope], now=now)
        if retry is not None:
            case_word, hint = _FORGOTTEN[secret_label]
            who = "您的网络地址" if scope == "ip" else case_word
            raise RateLimited(
                f"{who}{secret_label}错误次数过多，请在 {math.ceil(retry / 60)} 分钟后再试；"
                f"{hint} (too many wrong passwords; retry later)",
                retry_after=retry,
            )


def record_tracking_failure(*, session: Session, number: str, address: str | None, now: dt.datetime) -> None:
    """Count one failure (the caller commits); rows older than the window are dropped on the way."""
    record_failures(session=session, keys=_keys(number, address), now=now)


def clear_case_failures(*, session: Session, number: str) -> None:
    """Forget the wrong codes counted against case ``number`` from every address ("pair") and over all
    ("case"), in the caller's transaction: the owner's new secret must not meet the lock the old one's
    guesses set. An address's own count ("ip") stays: it spans other cases too."""
    case = _case(number)
    prefix = _pair_prefix(case)
    pair = col(AuthFailure.key) == case
    # substr, not LIKE: SQLite's LIKE ignores case, and the prefix must match exactly.
    pair = pair | (func.substr(col(AuthFailure.key), 1, len(prefix)) == prefix)
    session.execute(delete(AuthFailure).where(col(AuthFailure.scope) == "pair", pair))
    session.execute(delete(AuthFailure).where(col(AuthFailure.scope) == "case", col(AuthFailure.key) == case))


# Complaints submitted online (the credit website column), per client address. Not failures, but the same
# table and turn-taking serve: several processes count together, and submissions sent at once from one
# address are counted one after the other, so none passes the limit unseen.
SUBMISSION_SCOPE = "submit"
SUBMISSION_WINDOW = dt.timedelta(hours=1)
ONLINE_COMPLAINTS_CLOSED = (
    "信用网站政府违约失信投诉专栏暂停在线受理。请拨打 12345 政务服务便民热线（政务失信举报专席，7×24 小时），"
    "或到政务服务大厅的诚信建设投诉窗口提出投诉 (online complaints are closed; call 12345)"
)


def _submission_key(address: str | None) -> str:
    # Without an address (not behind HTTP) every such submission shares one count.
    return address_key(f"submit:{client_network(address) if address else '-'}")


def check_submission_allowed(*, session: Session, address: str | None, now: dt.datetime) -> None:
    """Raise NotFound when the online column is closed (``public_complaints_per_hour`` 0), RateLimited when
    ``address`` has submitted that many complaints in the last hour. Call it in the transaction that
    registers the complaint and records it (``record_submission``): the address's turn lasts until then."""
    limit = get_settings().public_complaints_per_hour
    if limit == 0:
        raise NotFound(ONLINE_COMPLAINTS_CLOSED)
    key = _submission_key(address)
    retry = seconds_blocked(
        session=session, scope=SUBMISSION_SCOPE, key=key, limit=limit, now=now, window=SUBMISSION_WINDOW
    )
    if retry is not None:
        raise RateLimited(
            f"同一网络地址每小时最多在线提交 {limit} 件投诉，请在 {math.ceil(retry / 60)} 分钟后再试；"
            "情况紧急的请拨打 12345 (too many complaints submitted from this address; retry later)",
            retry_after=retry,
        )


def record_submission(*, session: Session, address: str | None, now: dt.datetime) -> None:
    """Count one complaint accepted online from ``address`` (the caller commits it with the complaint)."""
    keys = [(SUBMISSION_SCOPE, _submission_key(address))]
    record_failures(session=session, keys=keys, now=now, window=SUBMISSION_WINDOW)
