"""The per-address limits count an IPv6 client per /64 network, an IPv4 client (mapped or not) per address.

An IPv6 client usually holds a whole /64 and its privacy addresses rotate within it: counted per address,
one client would get 2**64 fresh counts for tracking passwords, online complaints and sign-ins.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session

from models.errors import RateLimited
from models.ratelimit import (
    check_submission_allowed,
    check_tracking_allowed,
    client_network,
    record_submission,
    record_tracking_failure,
)
from models.signin_limit import check_sign_in_allowed, record_sign_in_failure

NOW = dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC)
LIMIT = 3


@pytest.fixture(autouse=True)
def _small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    from models.settings import get_settings

    monkeypatch.setenv("SHOUXIN_TRACKING_MAX_FAILURES_PER_IP", str(LIMIT))
    monkeypatch.setenv("SHOUXIN_PUBLIC_COMPLAINTS_PER_HOUR", str(LIMIT))
    get_settings.cache_clear()


def _guess_across_cases(session: Session, addresses: list[str]) -> None:
    # A different case each time, so only the address's own count ("ip") can stop it.
    for i, address in enumerate(addresses):
        number = f"TS2026{i:05d}"
        check_tracking_allowed(session=session, number=number, address=address, now=NOW)
        record_tracking_failure(session=session, number=number, address=address, now=NOW)
    session.flush()


def test_rotating_privacy_addresses_in_one_ipv6_64_share_the_tracking_limit(session: Session) -> None:
    _guess_across_cases(session, [f"2001:db8:1:2::{i:x}" for i in range(1, LIMIT + 1)])

    with pytest.raises(RateLimited):
        check_tracking_allowed(session=session, number="TS202699999", address="2001:db8:1:2:ffff::9", now=NOW)
    # Another /64 is another client.
    check_tracking_allowed(session=session, number="TS202699999", address="2001:db8:1:3::1", now=NOW)


def test_an_ipv4_client_is_still_counted_per_address_and_its_mapped_form_is_the_same_client(
    session: Session,
) -> None:
    _guess_across_cases(session, ["::ffff:203.0.113.9", "203.0.113.9", "::FFFF:203.0.113.9"])

    with pytest.raises(RateLimited):
        check_tracking_allowed(session=session, number="TS202699999", address="203.0.113.9", now=NOW)
    check_tracking_allowed(session=session, number="TS202699999", address="203.0.113.10", now=NOW)


def test_online_complaints_from_one_ipv6_64_share_the_hourly_limit(session: Session) -> None:
    for i in range(1, LIMIT + 1):
        address = f"2001:db8:aa:bb:{i:x}::1"
        check_submission_allowed(session=session, address=address, now=NOW)
        record_submission(session=session, address=address, now=NOW)
    session.flush()

    with pytest.raises(RateLimited):
        check_submission_allowed(session=session, address="2001:db8:aa:bb:dead:beef:0:1", now=NOW)
    check_submission_allowed(session=session, address="2001:db8:aa:bc::1", now=NOW)


def test_failed_sign_ins_from_one_ipv6_64_share_the_address_limit(session: Session) -> None:
    # A different name each time, so only the address's count can stop it.
    for i in range(1, LIMIT + 1):
        address = f"2001:db8:5:6::{i:x}"
        check_sign_in_allowed(session=session, name=f"经办人{i}", address=address, now=NOW)
        record_sign_in_failure(session=session, name=f"经办人{i}", address=address, now=NOW)

    with pytest.raises(RateLimited):
        check_sign_in_allowed(session=session, name="另一人", address="2001:db8:5:6:1:2:3:4", now=NOW)
    check_sign_in_allowed(session=session, name="另一人", address="2001:db8:5:7::1", now=NOW)


@pytest.mark.parametrize(
    ("address", "counted_as"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::7", "2001:db8:1:2::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("testclient", "testclient"),
        ("", ""),
    ],
)
def test_a_client_counts_as_its_ipv4_address_its_ipv6_64_or_else_as_given(
    address: str, counted_as: str
) -> None:
    assert client_network(address) == counted_as
