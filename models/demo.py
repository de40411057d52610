"""Demo data for `make run`: departments of a fictional city, one user per role, some cases.

Demo users get fixed, well-known tokens (``sx_demo_<role>``) so the README's curl examples work; they
exist only in databases where someone ran `shouxin demo` in demo mode (SHOUXIN_DEMO_MODE=true), and
`shouxin serve` refuses such a database outside demo mode until `shouxin demo --remove` revokes them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlmodel import Session, col, select

from models.accounts import hash_token, import_departments, new_token
from models.breach import PublishedBreach
from models.calendar import WorkCalendar
from models.complaint import Category, Channel, Complaint, ComplaintCreate
from models.complaints import ActionBody, DispatchBody, OrderRectificationBody, act, register_complaint
from models.lifecycle import Role
from models.org import Department, DepartmentCreate, DepartmentLevel, User
from models.pledge import Pledge, PledgeCreate, PledgorKind
from models.pledges import register_pledge_with_code
from models.publication import mark_overdue, publish_due
from models.uscc import make_credit_code
from models.workflow import Actor

C, K, Z = DepartmentLevel.CITY, DepartmentLevel.COUNTY, DepartmentLevel.ZONE

DEMO_DEPARTMENTS = [
    DepartmentCreate(code="FGW", name="示范市发展和改革委员会", level=C, email="fgw@demo.gov.cn"),
    DepartmentCreate(
        code="XYB",
        name="示范市社会信用体系建设领导小组办公室",
        level=C,
        email="xyb@demo.gov.cn",
        competent_code="FGW",
    ),
    DepartmentCreate(
        code="ZJJ", name="示范市住房和城乡建设局", level=C, email="zjj@demo.gov.cn", competent_code="FGW"
    ),
    DepartmentCreate(code="CZJ", name="示范市财政局", level=C, email="czj@demo.gov.cn", competent_code="FGW"),
    DepartmentCreate(code="SWJ", name="示范市商务局", level=C, email="swj@demo.gov.cn", competent_code="FGW"),
    DepartmentCreate(
        code="GXJ", name="示范市工业和信息化局", level=C, email="gxj@demo.gov.cn", competent_code="FGW"
    ),
    DepartmentCreate(
        code="RSJ", name="示范市人力资源和社会保障局", level=C, email="rsj@demo.gov.cn", competent_code="FGW"
    ),
    DepartmentCreate(
        code="SPJ", name="示范市行政审批局", level=C, email="spj@demo.gov.cn", competent_code="FGW"
    ),
    DepartmentCreate(
        code="XCQ", name="示范市新城区人民政府", level=K, email="xcq@demo.gov.cn", competent_code="FGW"
    ),
    DepartmentCreate(code="XCQ-ZJ", name="新城区住房和城乡建设局", level=K, email=None, competent_code="XCQ"),
    DepartmentCreate(
        code="KFQ",
        name="示范市经济技术开发区管理委员会",
        level=Z,
        email="kfq@demo.gov.cn",
        competent_code="FGW",
    ),
]

# (role, name, department code, email)
DEMO_USERS = [
    (Role.INTAKE, "12345热线受理员", None, "intake@demo.gov.cn"),
    (Role.HANDLER, "住建局经办人", "ZJJ", "handler.zjj@demo.gov.cn"),
    (Role.HANDLER, "财政局经办人", "CZJ", "handler.czj@demo.gov.cn"),
    (Role.HANDLER, "行政审批局经办人", "SPJ", "handler.spj@demo.gov.cn"),
    (Role.HANDLER, "发改委经办人", "FGW", "handler.fgw@demo.gov.cn"),
    (Role.SUPERVISOR, "信用办督办员", "XYB", "supervisor@demo.gov.cn"),
    (Role.ADMIN, "系统管理员", None, "admin@demo.gov.cn"),
]


def demo_token(role: Role, department: str | None) -> str:
    return f"sx_demo_{role}" + (f"_{department.lower()}" if department else "")


def demo_accounts(*, session: Session) -> list[User]:
    """Accounts that still carry a demo token: anyone who read the README can use them, so they must not
    exist where real users are served (``shouxin serve`` refuses outside demo mode)."""
    hashes = [hash_token(demo_token(role, dept)) for role, _, dept, _ in DEMO_USERS]
    return list(
        session.exec(select(User).where(col(User.token_hash).in_(hashes)).order_by(col(User.id))).all()
    )


def remove_demo_accounts(*, session: Session) -> list[User]:
    """Deactivate the demo accounts and give each an unknown token; returns them. The rows stay: their
    names are in the audit trail of the demo cases. Flushed."""
    accounts = demo_accounts(session=session)
    for user in accounts:
        user.token_hash = hash_token(new_token())  # nobody holds it: the public token no longer matches
        user.active = False
        session.add(user)
    session.flush()
    return accounts


def seed_demo(*, session: Session) -> list[tuple[str, str, str]]:
    """Create (or keep) the demo departments and users; returns (role, name, token) rows to print."""
    import_departments(session=session, items=DEMO_DEPARTMENTS)
    depts = {d.code: d for d in session.exec(select(Department)).all()}
    printed = []
    for role, name, dept, email in DEMO_USERS:
        token = demo_token(role, dept)
        user = session.exec(select(User).where(User.token_hash == hash_token(token))).first()
        if user is None:
            user = User(
                name=name,
                role=role,
                email=email,
                token_hash=hash_token(token),
                department_id=depts[dept].id if dept else None,
            )
            session.add(user)
        printed.append((str(role), name, token))
    session.flush()
    return printed


def seed_demo_cases(*, session: Session, today: dt.date, calendar: WorkCalendar) -> list[str]:
    """A few complaints and pledges in different states, once (skipped when any case exists); returns
    their numbers, each pledge's with its access code.

    Dates are relative to ``today`` so the sweep and the supervision flow have something to do.
    """
    if session.exec(select(Complaint.id)).first() or session.exec(select(Pledge.id)).first():
        return []
    users = {u.name: u for u in session.exec(select(User)).all()}

    def actor(name: str) -> Actor:
        u = users[name]
        return Actor(name=u.name, role=u.role, id=u.id, department_id=u.department_id)

    intake, zjj = actor("12345热线受理员"), actor("住建局经办人")
    created: list[str] = []
    for data, steps in _demo_complaints():
        complaint, _password = register_complaint(
            session=session, data=data, actor=intake, today=today, calendar=calendar
        )
        for who, action, body in steps:
            assert complaint.id is not None
            act(
                session=session,
                complaint_id=complaint.id,
                action=action,
                body=body,
                actor=actor(who) if who != "intake" else intake,
                today=today,
                calendar=calendar,
            )
        created.append(complaint.number)
    for kind, name, body17, matter, obligation, days in _DEMO_PLEDGES:
        pledge, access_code = register_pledge_with_code(
            session=session,
            data=PledgeCreate(
                pledgor_kind=kind,
                pledgor_name=name,
                pledgor_credit_code=make_credit_code(body17) if body17 else None,
                pledgor_email="contact@demo-enterprise.cn",
                matter=matter,
                obligation=obligation,
                deadline=today + dt.timedelta(days=days),
                authority_code="ZJJ",
                legal_basis="《国务院办公厅关于全面推行证明事项和涉企经营许可事项告知承诺制的指导意见》（国办发〔2020〕42号）",
            ),
            actor=zjj,
            today=today,
            calendar=calendar,
        )
        # The code is printed so the public objection and evidence forms can be tried with the demo.
        created.append(f"{pledge.number}（承诺人办理码 {access_code}）")
    published = _published_demo_record(session=session, today=today, calendar=calendar, authority=zjj)
    if published:
        created.append(published)
    session.flush()
    return created


def _published_demo_record(
    *, session: Session, today: dt.date, calendar: WorkCalendar, authority: Actor
) -> str | None:
    """One pledge left unfulfilled months ago and published by the sweep's own steps, run as the nightly
    sweep ran them (overdue the day after its deadline, published on its publication day), so that an
    objection and a credit repair (past the general class's 3-month minimum) can be tried at once.

    Returns the printed line (record number, pledge number, access code), or None when the calendar does
    not cover those months (the rest of the demo is created all the same)."""
    registered_on = today - dt.timedelta(days=PUBLISHED_DEMO_AGE_DAYS)
    deadline = registered_on + dt.timedelta(days=10)
    if not calendar.covers(registered_on.year):
        return None
    pledge, access_code = register_pledge_with_code(
        session=session,
        data=PledgeCreate(
            pledgor_kind=PledgorKind.ENTERPRISE,
            pledgor_name="示范园林绿化工程有限公司",
            pledgor_credit_code=make_credit_code("91110000MA01NPQR4"),
            pledgor_email="contact@demo-enterprise.cn",
            matter="城市园林绿化工程施工许可",
            obligation="安全生产许可证",
            deadline=deadline,
            authority_code="ZJJ",
            legal_basis="《国务院办公厅关于全面推行证明事项和涉企经营许可事项告知承诺制的指导意见》（国办发〔2020〕42号）",
        ),
        actor=authority,
        today=registered_on,
        calendar=calendar,
    )
    day = pledge.publication_day
    if pledge.id is None or day is None or day > today:
        return None
    sweep = Actor.system()
    mark_overdue(session=session, ids=[pledge.id], today=deadline + dt.timedelta(days=1), actor=sweep,
                 calendar=calendar)  # fmt: skip
    publish_due(session=session, ids=[pledge.id], today=day, actor=sweep, calendar=calendar)
    record = session.exec(select(PublishedBreach).where(PublishedBreach.pledge_id == pledge.id)).first()
    if record is None:
        return None
    return f"公示记录 {record.number}（承诺 {pledge.number}，承诺人办理码 {access_code}，可试异议与信用修复）"


def _demo_complaints() -> list[tuple[ComplaintCreate, list[tuple[str, str, ActionBody]]]]:
    email = "demo-complainant@example.com"
    return [
        (
            ComplaintCreate(
                channel=Channel.HOTLINE,
                complainant_name="示范建工集团有限公司",
                complainant_phone="13800138000",
                category=Category.SME_ARREARS,
                respondent_department_code="ZJJ",
                amount=Decimal("1250000.00"),
                summary="市住建局拖欠保障房项目工程款",
                description="2024年竣工验收后，尾款至今未支付。",
                complainant_email=email,
            ),
            [],
        ),
        (
            ComplaintCreate(
                channel=Channel.WINDOW,
                complainant_name="示范软件科技有限公司",
                complainant_phone="13900139000",
                category=Category.PROCUREMENT,
                respondent_department_code="CZJ",
                summary="政府采购项目验收合格后未按合同付款",
                description="合同约定验收后30日内付款。",
                complainant_email=email,
            ),
            [
                ("intake", "accept", ActionBody()),
                (
                    "intake",
                    "dispatch",
                    DispatchBody(lead_department_code="CZJ", assisting_department_codes=["SPJ"]),
                ),
            ],
        ),
        (
            ComplaintCreate(
                channel=Channel.WEBSITE,
                complainant_name="示范新材料股份有限公司",
                complainant_phone="13700137000",
                category=Category.NEW_OFFICIAL_OLD_DEBT,
                respondent_department_code="ZJJ",
                summary="招商引资承诺的厂房配套补贴因领导调整未兑现",
                complainant_email=email,
            ),
            [
                ("intake", "accept", ActionBody()),
                ("intake", "dispatch", DispatchBody(lead_department_code="ZJJ")),
                ("住建局经办人", "sign_for", ActionBody()),
                ("发改委经办人", "verify_true", ActionBody()),  # the competent department verifies
                (
                    "发改委经办人",
                    "order_rectification",
                    OrderRectificationBody(requirements="按原协议兑现补贴"),
                ),
            ],
        ),
    ]


# How long before the demo's today the published pledge was registered: its record is then past the
# general class's 3-month minimum, so credit repair can be requested at once.
PUBLISHED_DEMO_AGE_DAYS = 150

# (kind, name, credit code body (17 chars) or None, matter, obligation, deadline relative to today in days)
_DEMO_PLEDGES = [
    (
        PledgorKind.ENTERPRISE,
        "示范建设工程有限公司",
        "91110000MA01ABCD1",
        "建筑工程施工许可证",
        "施工图审查合格书",
        30,
    ),
    (
        PledgorKind.ENTERPRISE,
        "示范置业发展有限公司",
        "91110000MA01EFGH2",
        "建筑工程施工许可证",
        "建设工程规划许可证",
        -14,
    ),
    (
        PledgorKind.ENTERPRISE,
        "示范物流有限公司",
        "91110000MA01JKLM3",
        "道路货物运输经营许可证",
        "车辆年审合格证明",
        -3,
    ),
]
