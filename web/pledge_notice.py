"""The 告知承诺书 handed to a pledgor: its facts, built once, and the two ways it is drawn — the printable
HTML page (templates/pledge_notice.html) and a PDF made with ReportLab.

``notice_facts`` is the one source of what the notice says; the HTML template and ``notice_pdf`` only lay
those facts out, so the two cannot say different things. The PDF uses ReportLab's built-in CID font
STSong-Light (Adobe's Chinese font that every PDF reader supplies), so no font file is shipped and the
file stays small: the reader draws the characters.

The access code (办理码) is only stored as its hash, so a notice carries it only when the caller hands it
in — right after registration or a re-issue, when the page that shows the code once offers the notice
with it — and ``check_code`` has verified it is the pledge's current code.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy.orm import object_session
from sqlmodel import Session

from models.errors import ValidationFailed
from models.lifecycle import PLEDGE, PledgeState
from models.org import Department
from models.outbox import DELIVERY_CHANNEL_LABELS, queued_channels
from models.pledge import PLEDGE_TYPE_LABELS, PLEDGOR_KIND_LABELS, Pledge
from models.pledges.access import display, verify
from models.pledges.self_service import pledge_record, pledge_state_label
from models.register.states import RecordOutcome, record_outcome
from models.settings import get_settings
from web.core import cn_date

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))
CODE_FONT = "Courier-Bold"  # the code is ASCII: a fixed-width face keeps ABCD-EFGH-JKMN readable


@dataclass(frozen=True)
class Fact:
    label: str
    value: str
    long: bool = False  # a paragraph that keeps its line breaks (obligation, legal basis)


@dataclass(frozen=True)
class NoticeFacts:
    """Everything a 告知承诺书 states, in reading order."""

    title: str
    number: str
    addressee: str
    opening: str
    facts: tuple[Fact, ...]
    terms: tuple[str, ...]
    access_code: str | None
    authority_name: str
    pledgor_sign: str
    authority_sign: str
    pledge_id: int
    filename: str  # of the PDF download


def check_code(pledge: Pledge, code: str | None) -> str | None:
    """The code in its display form when it is ``pledge``'s current access code; None when none is given.
    A code that is not the pledge's is refused (422): a notice must never carry a wrong code."""
    if code is None or not code.strip():
        return None
    if not verify(code, pledge.access_code_digest):
        raise ValidationFailed(
            f"办理码与承诺 {pledge.number} 当前的办理码不符（可能已被重新发放作废）；请核对后重试，或重新发放"
            "办理码 (the access code is not the pledge's current code)",
            field="access_code",
        )
    return display(code)


def _code_term(base_url: str, code: str | None) -> str:
    where = f"提交地址：{base_url}/pledges/evidence。"
    if code is None:
        return (
            "在线提交材料、提出异议或申请信用修复时，请使用登记时告知你的办理码（形如 ABCD-EFGH-JKMN），"
            f"{where}办理码仅在登记或重新发放时告知一次，本告知书不载明；请妥善保管，勿告知他人。"
            "遗失的，请持有效证件到受理部门申请重新发放，原办理码随即作废。"
        )
    return (
        f"在线提交材料、提出异议或申请信用修复时，请使用本告知书载明的办理码 {code}，{where}"
        "办理码相当于你的密码，请妥善保管，勿告知他人。遗失或泄露的，请持有效证件到受理部门申请重新发放，"
        "原办理码随即作废。"
    )


# How a closed pledge ended, as its notice states it instead of the publication rule; a published one's
# by its record's outcome (``_published_term``).
_CLOSED = {
    PledgeState.FULFILLED: "本承诺已履行，材料经受理部门确认，承诺事项已闭合，不予公示。本告知书仅作存档。",
    PledgeState.FALSE_PLEDGE: (
        "本承诺已被认定为虚假承诺：终止告知承诺办理，责令整改，依法撤销据此作出的审批决定并记录在案；"
        "失信记录信用修复前不再适用告知承诺方式办理。本告知书仅作存档。"
    ),
    PledgeState.CANCELLED: "本承诺已撤销，不再办理，不予公示。本告知书仅作存档。",
}
_CLOSED_MARK = {
    PledgeState.FULFILLED: "已办结",
    PledgeState.PUBLISHED: "已办结",
    PledgeState.FALSE_PLEDGE: "已办结",
    PledgeState.CANCELLED: "已撤销",
}


def _published_term(outcome: RecordOutcome | None) -> str:
    """What became of a published pledge, as its record's outcome says (``record_outcome``): still
    published, withdrawn on an upheld objection (no breach), repaired, or past its publication period."""
    if outcome is None:
        return "本承诺逾期未履行，已依法公示为违约失信记录。本告知书仅作存档。"
    if not outcome.breach:
        return f"本承诺曾被公示为违约失信记录，{outcome.summary}。本告知书仅作存档。"
    return f"本承诺逾期未履行，{outcome.summary}。本告知书仅作存档。"


def _false_term(outcome: RecordOutcome) -> str:
    """What became of a pledge found false, as its record's outcome says: in force (the route barred until
    repaired), withdrawn on an upheld objection (no false pledge after all), repaired or expired."""
    if not outcome.breach:
        return f"本承诺曾被认定为虚假承诺，{outcome.summary}。本告知书仅作存档。"
    if outcome.shown:
        return _CLOSED[PledgeState.FALSE_PLEDGE]
    return f"本承诺曾被认定为虚假承诺并记入失信记录，{outcome.summary}。本告知书仅作存档。"


def _publication_term(pledge: Pledge) -> str:
    """The publication sentence, naming the rule that gave the pledge its day (models/publication_days.py
    ``publication_day_of``): counted again from a rejection, from a back-registration, or from the
    deadline."""
    settings = get_settings()
    n = settings.publication_working_days
    day = pledge.publication_day
    if day is None:
        return (
            f"期限届满后第 {n} 个工作日仍未履约的，将依法公示为违约失信记录（公示日所在年度的节假日安排"
            "尚未公布，确定后另行告知）。"
        )
    if pledge.publication_counted_from is not None:
        grace = settings.pledge_rejection_grace_working_days
        rule = (
            f"材料于{cn_date(pledge.publication_counted_from)}被退回，公示日顺延至退回之日后第 {grace} "
            "个工作日"
        )
    elif pledge.registered_on is not None and pledge.deadline < pledge.registered_on:
        # Back-registered: the deadline had passed, so the N days run from registration
        # (``registration_publication_day``, which then always gives the later day).
        registered = cn_date(pledge.registered_on)
        rule = f"本承诺登记时期限已届满，公示日为登记之日（{registered}）后第 {n} 个工作日"
    else:
        rule = f"公示日为期限届满后第 {n} 个工作日"
    return f"{rule}（{cn_date(day)}）；届时仍未履约的，将依法公示为违约失信记录。"


def notice_facts(
    *, pledge: Pledge, authority: Department | None, today: dt.date, access_code: str | None = None
) -> NoticeFacts:
    """The notice of ``pledge`` issued on ``today``; ``access_code`` (already checked) is printed on it."""
    settings = get_settings()
    base_url = settings.public_base_url.rstrip("/")
    kind = PLEDGOR_KIND_LABELS.get(pledge.pledgor_kind, str(pledge.pledgor_kind))
    code_part = f"，统一社会信用代码 {pledge.pledgor_credit_code}" if pledge.pledgor_credit_code else ""
    authority_name = authority.name if authority is not None else "—"
    facts = [
        Fact("承诺事项", pledge.matter),
        Fact("承诺补交材料", pledge.obligation, long=True),
        Fact("承诺期限", f"{cn_date(pledge.deadline)}前"),
    ]
    if pledge.pledge_type:
        facts.append(Fact("承诺类型", PLEDGE_TYPE_LABELS.get(pledge.pledge_type, str(pledge.pledge_type))))
    facts += [Fact("依据", pledge.legal_basis or "—", long=True), Fact("受理部门", authority_name)]
    if access_code is not None:
        facts.append(Fact("办理码", access_code))
    spec = PLEDGE.state(pledge.state)
    terms: tuple[str, ...]
    if spec.terminal:
        # A closed pledge's notice is a copy for the file: it says how the pledge ended, never that it will
        # be published; the access code still serves a published one (objection, repair, its status).
        outcome = _outcome(pledge, today)
        facts.append(Fact("办理状态", f"已办结（{pledge_state_label(pledge, outcome)}）"))
        if pledge.state == PledgeState.PUBLISHED:
            terms = (_published_term(outcome), _code_term(base_url, access_code))
        elif pledge.state == PledgeState.FALSE_PLEDGE and outcome is not None:
            terms = (_false_term(outcome), _code_term(base_url, access_code))
        else:
            terms = (_CLOSED[pledge.state],)
    else:
        terms = (
            f"请在承诺期限前向受理部门提交上述材料。{_publication_term(pledge)}",
            "按期提交的材料在受理部门审核期间不予公示；材料被退回的，请按退回理由补正。",
            _code_term(base_url, access_code),
            "作出虚假承诺的，将认定为虚假承诺并记入失信记录，信用修复前不再适用告知承诺方式办理。",
        )
    assert pledge.id is not None
    return NoticeFacts(
        title="告知承诺书" if not spec.terminal else f"告知承诺书（{_CLOSED_MARK[pledge.state]}）",
        number=pledge.number,
        addressee=f"{pledge.pledgor_name}（{kind}{code_part}）：",
        opening=f"你（单位）申请办理“{pledge.matter}”，已以告知承诺方式受理。现将承诺内容及有关事项告知如下：",
        facts=tuple(facts),
        terms=terms,
        access_code=access_code,
        authority_name=authority.name if authority is not None else "",
        pledgor_sign="承诺人（签字/盖章）：________________　　日期：____年__月__日",
        authority_sign=(
            f"受理部门（盖章）：{authority.name if authority is not None else ''}　　日期：{cn_date(today)}"
        ),
        pledge_id=pledge.id,
        filename=f"告知承诺书_{pledge.number}.pdf",
    )


def _outcome(pledge: Pledge, today: dt.date) -> RecordOutcome | None:
    """A published or found-false pledge's record outcome on ``today``, read through the session the pledge
    was loaded with (the notice's callers hand in the pledge, not the session); None for any other pledge
    (and for a pledge found false before findings were recorded: it has no record)."""
    session = object_session(pledge)
    recorded = (PledgeState.PUBLISHED, PledgeState.FALSE_PLEDGE)
    if pledge.state not in recorded or not isinstance(session, Session):
        return None
    record = pledge_record(session=session, pledge=pledge)
    return record_outcome(record, today) if record is not None else None


def _text(value: str) -> str:
    """Plain text for a ReportLab paragraph: its markup characters escaped, line breaks kept."""
    return escape(value).replace("\n", "<br/>")


_BODY = ParagraphStyle("body", fontName=FONT, fontSize=11.5, leading=19, wordWrap="CJK")
_TITLE = ParagraphStyle("title", parent=_BODY, fontSize=20, leading=28, alignment=TA_CENTER, spaceAfter=6)
_NUMBER = ParagraphStyle("number", parent=_BODY, fontSize=10.5, alignment=TA_RIGHT, textColor=colors.grey)
_LABEL = ParagraphStyle("label", parent=_BODY, textColor=colors.HexColor("#444444"))
_TERM = ParagraphStyle("term", parent=_BODY, leftIndent=7 * mm, firstLineIndent=-7 * mm, spaceAfter=4)


def notice_pdf(notice: NoticeFacts) -> bytes:
    """The notice as an A4 PDF."""
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
        title=f"{notice.title} {notice.number}",
        author=notice.authority_name,
        subject=notice.title,
        creator="守信 Shouxin",
    )
    rows = []
    for fact in notice.facts:
        value = _text(fact.value)
        if fact.label == "办理码":
            value = f'<font name="{CODE_FONT}" size="14">{value}</font>'
        rows.append([Paragraph(_text(fact.label), _LABEL), Paragraph(value, _BODY)])
    table = Table(rows, colWidths=[32 * mm, None])
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.4, colors.lightgrey),
                ("TOPPADDING", (0, 0), (-1, -1), 4),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ]
        )
    )
    story: list[Flowable] = [
        Paragraph(_text(notice.title), _TITLE),
        Paragraph(_text(f"编号：{notice.number}"), _NUMBER),
        Spacer(1, 4 * mm),
        Paragraph(_text(notice.addressee), _BODY),
        Paragraph(_text(notice.opening), _BODY),
        Spacer(1, 3 * mm),
        table,
        Spacer(1, 4 * mm),
    ]
    story += [Paragraph(_text(f"{i}. {term}"), _TERM) for i, term in enumerate(notice.terms, start=1)]
    story += [
        Spacer(1, 10 * mm),
        Paragraph(_text(notice.pledgor_sign), _BODY),
        Spacer(1, 4 * mm),
        Paragraph(_text(notice.authority_sign), _BODY),
    ]
    doc.build(story)
    return buffer.getvalue()


def sent_by(session: Session, pledge_id: int | None, template: str) -> str | None:
    """How the pledgor was told the code just shown ("邮件", "短信", "邮件和短信"), read off the notice's
    outbox rows; None when it went by no channel (no e-mail, no texted mobile): the printed notice is the
    only way."""
    assert pledge_id is not None
    channels = queued_channels(session=session, case_kind="pledge", case_id=pledge_id, template=template)
    return "和".join(DELIVERY_CHANNEL_LABELS[channel] for channel in channels) or None
