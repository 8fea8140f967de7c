"""Demo data for a first look: a small jurisdiction tree, one user per role, a few cases."""

from __future__ import annotations

from jiesu.accounts.schemas import JurisdictionCreate, UserCreate
from jiesu.accounts.security import Principal
from jiesu.accounts.service import AccountService
from jiesu.accounts.tables import User
from jiesu.cases.schemas import CaseCreate, Contact
from jiesu.cases.service import CaseService

DEMO_PASSWORD = "demo-pass-2026"

JURISDICTIONS = [
    ("DC", "东城区 Dongcheng District", "district", None),
    ("JS", "景山街道 Jingshan Street", "street", "DC"),
    ("JS-JX", "吉祥社区 Jixiang Community", "community", "JS"),
    ("JS-HHM", "黄化门社区 Huanghuamen Community", "community", "JS"),
    ("JS-JX-G1", "吉祥社区第一网格 Jixiang Grid 1", "grid", "JS-JX"),
    ("ADM", "安定门街道 Andingmen Street", "street", "DC"),
    ("ADM-FX", "分司厅社区 Fensiting Community", "community", "ADM"),
]

USERS = [
    ("admin", "admin", "系统管理员 Admin", None, []),
    ("dispatcher", "dispatcher", "调度员 Dispatcher Li", "DC", []),
    ("supervisor", "supervisor", "督办员 Supervisor Wang", "DC", []),
    ("worker1", "worker", "社区工作者 Zhang (Jixiang)", "JS-JX", ["neighbour_noise", "parking"]),
    ("worker2", "worker", "社区工作者 Chen (Huanghuamen)", "JS-HHM", ["property_management"]),
    ("worker3", "worker", "调解员 Zhao (Jingshan street)", "JS", ["wage_arrears"]),
    ("resident", "resident", "居民 Liu", None, []),
]

DEMO_CASES = [
    ("complaint", "neighbour_noise", "Loud music after midnight", "JS-JX"),
    ("dispute", "property_management", "Lift broken for two weeks, fees still charged", "JS-HHM"),
    ("complaint", "sanitation", "Rubbish not collected at building 3", None),
]


async def load_demo_data(accounts: AccountService, cases: CaseService) -> bool:
    """Load once; returns False when the demo users exist already."""
    if await User.exists().where(User.username == "dispatcher"):
        return False
    for code, name, level, parent in JURISDICTIONS:
        await accounts.create_jurisdiction(
            JurisdictionCreate(code=code, name=name, level=level, parent_code=parent)
        )
    for username, role, display_name, jurisdiction, categories in USERS:
        if role == "admin" and await User.exists().where(User.role == "admin"):
            continue
        await accounts.create_user(
            UserCreate(
                username=username,
                password=DEMO_PASSWORD,
                role=role,
                display_name=display_name,
                phone="13800138000" if role == "resident" else None,
                jurisdiction_code=jurisdiction,
                categories=categories,
            ),
            reserved_ok=role == "admin",  # the demo's admin is jiesu's own, as ensure_admin's is
        )
    resident = Principal(username="resident", role="resident")
    for kind, category, title, jurisdiction in DEMO_CASES:
        await cases.file_case(
            resident,
            CaseCreate(
                kind=kind,
                category=category,
                title=title,
                description=f"{title}. Filed as demo data.",
                address="景山前街 4 号",
                jurisdiction_code=jurisdiction,
                contact=Contact(name="刘女士", phone="13800138000"),
            ),
        )
    return True
