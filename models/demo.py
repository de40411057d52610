"""Demo data for `make run`: departments of a fictional city, one user per role, some cases.

Demo users get fixed, well-known tokens (``sx_demo_<role>``) so the README's curl examples work; they
exist only in databases where someone ran `shouxin demo`, never in a production set-up.
"""

from __future__ import annotations

from sqlmodel import Session, select

from models.accounts import hash_token, import_departments
from models.lifecycle import Role
from models.org import Department, DepartmentCreate, DepartmentLevel, User

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
