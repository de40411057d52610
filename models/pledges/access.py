"""The pledge access code (办理码): what lets a pledgor act on its own pledge without an account.

The pledge number and the credit code are public (the register, the credit profile, licences), so they
cannot prove who is asking. At registration the pledgor gets a random 12-character code (shown as
``ABCD-EFGH-JKMN``, read out at a window or over the phone, so no 0/O, 1/I/L) in the registration notice;
uploading evidence, objecting to a published record and requesting credit repair require it.

The code is system-generated with ~59 bits of entropy and guessing is rate-limited (models/ratelimit.py),
so a keyed fast hash is the right store, as for API tokens: HMAC-SHA256 under the server secret. A slow
password hash (argon2, ~20 ms) would add half an hour of CPU to a 100,000-pledge import for no gain.
Changing ``SHOUXIN_SECRET_KEY`` invalidates every code; staff then re-issue codes (``reissue_access_code``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import unicodedata
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from models.breach import PublishedBreach
from models.calendar import WorkCalendar
from models.clock import utcnow
from models.errors import Conflict, NotFound, NotPermitted, ValidationFailed
from models.lifecycle import Role
from models.org import Department
from models.outbox import SECRET_TEMPLATES, Notification, NotificationStatus, leave_queue
from models.pledge import Pledge
from models.pledges.mail import enqueue_for_pledgor
from models.ratelimit import check_tracking_allowed, clear_case_failures, record_tracking_failure
from models.settings import get_settings
from models.workflow import Actor, apply_event, event_exists

# The complaint tracking password's alphabet: 31 symbols, so 12 of them carry 12·log2(31) ≈ 59.4 bits.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LENGTH = 12
GROUP = 4
# Bytes below 248 (= 8·31) map onto the alphabet without bias; the rest are drawn again.
_UNBIASED = 256 - 256 % len(ALPHABET)
# Domain separation: the same secret keys other HMACs (client addresses in models/ratelimit.py).
_PURPOSE = b"shouxin-pledge-access-code:"

WHERE_TO_FIND = (
    "办理码见承诺登记时审批部门出具的《信用承诺登记告知》（邮件或书面告知书），形如 ABCD-EFGH-JKMN；"
    "遗失的，请联系审批部门重新发放（原办理码随即作废）"
)


def secret_key() -> bytes:
    """The key of the access codes' digests (the import's validating worker is handed it)."""
    return get_settings().secret_key.encode()


def normalise(code: str) -> str:
    """Upper case without dashes or spaces; full-width input from a Chinese IME counts as half-width."""
    text = unicodedata.normalize("NFKC", code).upper()
    return "".join(ch for ch in text if ch not in "-_ \t\r\n\u2014\u2013")


def display(code: str) -> str:
    """``ABCDEFGHJKMN`` → ``ABCD-EFGH-JKMN``."""
    plain = normalise(code)
    return "-".join(plain[i : i + GROUP] for i in range(0, len(plain), GROUP))


def digest(code: str) -> str:
    """The stored form: hex HMAC-SHA256 of the normalised code under the server secret."""
    return _digest(secret_key(), normalise(code))


def _digest(key: bytes, plain: str) -> str:
    return hmac.digest(key, _PURPOSE + plain.encode(), hashlib.sha256).hex()


def verify(code: str, stored: str | None) -> bool:
    """True when ``code`` is the one ``stored`` was made from; a pledge without a code matches nothing."""
    if not stored:
        return False
    plain = normalise(code)
    if len(plain) != LENGTH:
        return False
    return hmac.compare_digest(digest(plain), stored)


# Byte b < 248 becomes ALPHABET[b % 31]; the others are deleted (rejection sampling, done in C).
_TO_SYMBOL = bytes(ord(ALPHABET[b % len(ALPHABET)]) if b < _UNBIASED else 0 for b in range(256))
_REJECTED = bytes(range(_UNBIASED, 256))


def _random_codes(n: int) -> list[str]:
    need = n * LENGTH
    text = b""
    while len(text) < need:
        # One urandom call per batch instead of 12 secrets.choice calls per code; ~3% of bytes rejected.
        chunk = secrets.token_bytes(need - len(text) + need // 16 + 16)
        text += chunk.translate(_TO_SYMBOL, _REJECTED)
    symbols = text[:need].decode("ascii")
    return [symbols[i : i + LENGTH] for i in range(0, need, LENGTH)]


def _grouped(plain: str) -> str:
    return f"{plain[0:4]}-{plain[4:8]}-{plain[8:12]}"


def new_access_codes(n: int, key: bytes | None = None) -> list[tuple[str, str]]:
    """``n`` fresh (code shown as ABCD-EFGH-JKMN, digest) pairs; a few µs each, for bulk import. ``key``
    is this process's ``secret_key`` (the import's validating worker is handed it, so its digests are
    the ones this process verifies)."""
    # The HMAC state after the key and the purpose is computed once; each code copies it and adds its
    # own text: the digests of ``digest`` without setting the key up again per code.
    keyed = hmac.new(secret_key() if key is None else key, _PURPOSE, hashlib.sha256)
    out = []
    for plain in _random_codes(n):
        mac = keyed.copy()
        mac.update(plain.encode())
        out.append((_grouped(plain), mac.hexdigest()))
    return out


def new_access_code() -> tuple[str, str]:
    """One fresh (code, digest) pair."""
    return new_access_codes(1)[0]


# ---------------------------------------------------------------------------------------------------
# Checking a code the public gives, and re-issuing one
# ---------------------------------------------------------------------------------------------------


def check_access_code(
    *,
    session: Session,
    pledge: Pledge | None,
    code: str | None,
    address: str | None,
    now: dt.datetime,
    counted_as: str | None = None,
) -> None:
    """Refuse (403) unless ``code`` is the pledge's access code; wrong codes count towards the tracking
    rate limit per pledge number (``counted_as``: per the number the caller typed instead, where saying
    which pledge it is would tell too much; with no ``pledge``, a number naming none, any code is wrong)
    and per client address, so guessing stops after a few tries (429)."""
    number = counted_as or (pledge.number if pledge is not None else "")
    check_tracking_allowed(session=session, number=number, address=address, now=now, secret_label="办理码")
    if pledge is not None and verify(code or "", pledge.access_code_digest):
        return
    record_tracking_failure(session=session, number=number, address=address, now=now)
    # The one exception to "services flush, callers commit": the refusal below rolls the request back,
    # and the rate limit must still count this wrong code.
    session.commit()
    if pledge is None:
        raise NotPermitted(f"办理码不正确。{WHERE_TO_FIND} (wrong access code)")
    if pledge.access_code_digest is None:
        raise NotPermitted(
            f"承诺 {pledge.number} 尚未发放办理码（系统启用办理码之前登记）；"
            "请联系审批部门发放办理码后再办理 "
            "(this pledge has no access code yet: ask the authority to issue one)"
        )
    if not (code or "").strip():
        raise NotPermitted(f"请填写办理码。{WHERE_TO_FIND} (access code is required)")
    raise NotPermitted(f"办理码不正确。{WHERE_TO_FIND} (wrong access code)")


def check_pledgor(
    *, session: Session, number: str, code: str | None, address: str | None, now: dt.datetime
) -> Pledge:
    """The pledge with ``number`` when ``code`` is its access code (unknown numbers count as failures)."""
    plain_number = _plain_number(number)
    pledge = session.exec(select(Pledge).where(Pledge.number == plain_number)).first()
    if pledge is not None:
        check_access_code(session=session, pledge=pledge, code=code, address=address, now=now)
        return pledge
    try:  # an unknown number's try counts as a wrong code does
        check_access_code(
            session=session, pledge=None, code=code, address=address, now=now, counted_as=plain_number
        )
    except NotPermitted:
        raise NotFound(f"承诺编号 {plain_number} 不存在；请核对告知书上的承诺编号 (no such pledge)") from None
    raise AssertionError("check_access_code refuses every code for a number that names no pledge")


def _plain_number(number: str) -> str:
    return number.strip().upper()


def pledge_id_by_number(*, session: Session, number: str, actor: Actor) -> int:
    """The id of the pledge numbered ``number`` as staff type it (any case, spaces around), for the
    re-issue form, which names the pledge by the number on the pledgor's notice. Another department's
    pledge is answered like a number that does not exist, as everywhere else (404, same words)."""
    plain = _plain_number(number)
    if not plain:
        raise ValidationFailed("请填写承诺编号（CN-…，见告知书）(pledge number is required)")
    found = session.exec(select(Pledge.id, Pledge.authority_id).where(Pledge.number == plain)).first()
    if found is None or not _sees(actor, found[1]):
        raise NotFound(f"承诺编号“{plain}”不存在；请核对告知书上的承诺编号后重试 (no such pledge)")
    assert found[0] is not None
    return found[0]


def _sees(actor: Actor, authority_id: int) -> bool:
    # A handler acts for its own department only; intake and supervisors for every authority.
    return actor.role != Role.HANDLER or actor.department_id == authority_id


# A new code can be issued while the pledgor may still need one: to upload evidence (open states) or
# to object to / request repair of the record its pledge became (published). Declared in models/lifecycle.
REISSUE_EVENT = "reissue_access_code"


def reissue_access_code(
    *,
    session: Session,
    pledge_id: int,
    actor: Actor,
    today: dt.date,
    calendar: WorkCalendar,
    reason: str | None = None,
    expected_version: int | None = None,
    idempotency_key: str | None = None,
) -> tuple[Pledge, str]:
    """Issue a new access code (the old one stops working), audited as an event and mailed to the
    pledgor; returns the code once so staff can hand it over when there is no e-mail address.

    A repeated request must not issue and mail another code (a double-click issued four). With
    ``expected_version`` a repeat finds the version moved and is refused (Conflict). With
    ``idempotency_key`` (the client's, fresh per intended re-issue) a repeat by the same account answers
    the same pledge and the same code, without a new event or mail: the code is derived from the server
    secret, the pledge and the key (``_keyed_code``), so it is found again without being stored.
    Flushed, not committed: the caller commits before handing the code out."""
    pledge = session.get(Pledge, pledge_id)
    if pledge is None or not _sees(actor, pledge.authority_id):
        raise NotFound(f"承诺 #{pledge_id} 不存在；请核对编号 (no pledge {pledge_id})")
    if actor.role == Role.PUBLIC:
        raise NotPermitted("办理码只能由审批部门工作人员发放 (staff only)")
    note = (reason or "").strip() or None
    if note is not None and len(note) > 500:
        raise ValidationFailed(f"理由过长（{len(note)} 字）；请精简至 500 字以内后重新提交 (reason too long)")
    if idempotency_key is None:
        code, stored = new_access_code()
        event_key = None
    else:
        code = _keyed_code(pledge_id, actor, idempotency_key)
        stored = digest(code)
        event_key = _event_key(pledge_id, actor, idempotency_key)
        if event_exists(session=session, idempotency_key=event_key):
            return _repeated(pledge, code)
    try:
        # In a savepoint: a lost race undoes this re-issue only, not the caller's transaction.
        with session.begin_nested():
            _issue(session, pledge, actor, today, calendar, note, expected_version, event_key, code, stored)
    except (Conflict, IntegrityError):
        # A concurrent twin with the same key may have won the compare-and-set (Conflict) or the unique
        # event key (IntegrityError): then this request is its repeat.
        if event_key is None or not event_exists(session=session, idempotency_key=event_key):
            raise
        pledge = session.get(Pledge, pledge_id, populate_existing=True)
        assert pledge is not None
        return _repeated(pledge, code)
    session.refresh(pledge)  # the state column back as its enum, as on a fresh read
    return pledge, code


def _issue(
    session: Session,
    pledge: Pledge,
    actor: Actor,
    today: dt.date,
    calendar: WorkCalendar,
    note: str | None,
    expected_version: int | None,
    event_key: str | None,
    code: str,
    stored: str,
) -> None:
    apply_event(
        session=session,
        case=pledge,
        event=REISSUE_EVENT,
        actor=actor,
        today=today,
        calendar=calendar,
        note=note,
        # Never the code or its digest: the audit trail is read by many; only the fact is recorded.
        data={"had_code": pledge.access_code_digest is not None},
        expected_version=expected_version,
        idempotency_key=event_key,
    )
    pledge.access_code_digest = stored
    pledge.updated_at = utcnow()
    session.add(pledge)
    # The lock-out message sends the pledgor here for a new code; the old code's wrong guesses must not
    # refuse it (undone with the re-issue if it is).
    clear_case_failures(session=session, number=pledge.number)
    # Its records' forms count wrong codes under the record's number (models/register/requests.py
    # ``subject_record``): the new code must not meet their lock either.
    for record_number in session.exec(
        select(PublishedBreach.number).where(PublishedBreach.pledge_id == pledge.id)
    ):
        clear_case_failures(session=session, number=record_number)
    _end_void_code_notices(session, pledge)
    authority = session.get(Department, pledge.authority_id)
    enqueue_for_pledgor(
        session=session,
        pledge=pledge,
        template="pledge_access_code",
        key=f"pledge:{pledge.id}:{pledge.version}:{REISSUE_EVENT}",
        context=access_code_context(pledge, authority, code),
        flow_run_id=actor.flow_run_id,
    )
    session.flush()


# Why a notice queued with the previous code is never sent, shown on the admin notifications page.
SUPERSEDED = (
    "办理码已重新发放，本通知所载原办理码已作废，不再发送；新办理码以重新发放通知另行送达"
    " (superseded by a re-issued access code: not sent)"
)


def _end_void_code_notices(session: Session, pledge: Pledge) -> None:
    """The pledge's notices still waiting to go out with its previous code (the registration notice, an
    earlier re-issue's, retrying after a temporary failure) leave the queue: sent later, they would hand
    the pledgor a code that no longer works, after or instead of the new one. Sent rows are history."""
    rows = session.exec(
        select(Notification)
        .where(Notification.case_kind == "pledge", Notification.case_id == pledge.id)
        .where(col(Notification.template).in_(sorted(SECRET_TEMPLATES)))
        .where(Notification.status == NotificationStatus.PENDING)
        .order_by(col(Notification.id))
        # PostgreSQL: waits for a delivery worker recording this row's outcome, then skips it if it was
        # sent meanwhile (the row no longer matches it).
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    for row in rows:
        # Undeliverable rather than dead: nothing failed, and a dead row with its code removed tells the
        # admin to re-issue the code, which would void the new one too.
        leave_queue(row, NotificationStatus.UNDELIVERABLE)
        row.last_error = SUPERSEDED
        session.add(row)


def _repeated(pledge: Pledge, code: str) -> tuple[Pledge, str]:
    """The answer to a repeat of an applied re-issue: its code, while it is still the pledge's code."""
    if not verify(code, pledge.access_code_digest):
        raise Conflict(
            f"承诺 {pledge.number} 的这次重新发放已办理，其办理码已被之后的重新发放作废；"
            "如需再次发放，请刷新页面后重新提交 (this re-issue was superseded by a later one)",
            current_version=pledge.version,
        )
    return pledge, code  # nothing of this request is written


# Separate purposes under the one secret: the code a key derives, and the key as the event stores it
# (not the client's key itself, from which the code could be derived by whoever holds the secret).
_KEYED_CODE = b"shouxin-reissue-code:"
_EVENT_KEY = b"shouxin-reissue-key:"


def _keyed_material(purpose: bytes, pledge_id: int, actor: Actor, key: str) -> bytes:
    text = f"{pledge_id}\x1f{actor.id}\x1f{actor.name}\x1f{key}".encode()
    return hmac.digest(secret_key(), purpose + text, hashlib.sha256)


def _keyed_code(pledge_id: int, actor: Actor, key: str) -> str:
    """A code as random as ``new_access_code``'s to anyone without the secret, the same for the same
    (pledge, account, key): HMAC bytes below 248 mapped onto the alphabet, as the random ones are."""
    material = _keyed_material(_KEYED_CODE, pledge_id, actor, key)
    symbols = b""
    block = 0
    while len(symbols) < LENGTH:  # 32 bytes give ~31 symbols; a second block is all but never needed
        chunk = hmac.digest(material, block.to_bytes(4, "big"), hashlib.sha256)
        symbols += chunk.translate(_TO_SYMBOL, _REJECTED)
        block += 1
    return _grouped(symbols[:LENGTH].decode("ascii"))


def _event_key(pledge_id: int, actor: Actor, key: str) -> str:
    return f"pledge:{pledge_id}:{REISSUE_EVENT}:{_keyed_material(_EVENT_KEY, pledge_id, actor, key).hex()}"


def access_code_context(pledge: Pledge, authority: Department | None, code: str) -> dict[str, Any]:
    return {
        "pledge_number": pledge.number,
        "pledgor_name": pledge.pledgor_name,
        "matter": pledge.matter,
        "authority_name": authority.name if authority else "",
        "access_code": code,
    }
