"""``hub demo``'s console accounts: one per staff role, with passwords printed for the demo.

Never in production (``run_demo`` does not call this there): the passwords are in this file.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from hub.console.accounts import add_user
from hub.console.models import StaffUserRow
from hub.console.staff import StaffRole


@dataclass(frozen=True)
class DemoAccount:
    username: str
    facility: str
    role: StaffRole
    display_name: str
    password: str


DEMO_ACCOUNTS = (
    DemoAccount("doctor.h001", "H001", StaffRole.practitioner, "张医生 (H001)", "demo-doctor-2026"),
    DemoAccount("desk.h001", "H001", StaffRole.referral_desk, "李护士 (H001)", "demo-desk-2026"),
    DemoAccount("steward", "HUB", StaffRole.data_steward, "王数据", "demo-steward-2026"),
    DemoAccount("auditor", "YB420500", StaffRole.auditor, "赵稽核", "demo-auditor-2026"),
    DemoAccount("operator", "HUB", StaffRole.operator, "刘运维", "demo-operator-2026"),
)


@dataclass(frozen=True)
class DemoSignIn:
    account: DemoAccount
    totp_secret: str | None


def ensure_demo_accounts(session: Session) -> list[DemoSignIn]:
    """Create the demo accounts that do not exist yet; all of them, with their TOTP secrets."""
    sign_ins = []
    for account in DEMO_ACCOUNTS:
        user = session.get(StaffUserRow, account.username)
        if user is None:
            user = add_user(
                session, username=account.username, password=account.password,
                facility=account.facility, role=account.role, display_name=account.display_name,
            )  # fmt: skip
        sign_ins.append(DemoSignIn(account, user.totp_secret))
    return sign_ins


def sign_in_text(base_url: str, sign_ins: list[DemoSignIn]) -> str:
    """What ``hub demo`` prints: the console's address and each account."""
    lines = [f"Web console: {base_url}/console  (demo accounts; user / password / role)"]
    for each in sign_ins:
        account = each.account
        line = f"  {account.username:<12} {account.password:<20} {account.role}"
        line += f" ({account.facility})"
        if each.totp_secret:
            line += f"  TOTP secret {each.totp_secret}"
        lines.append(line)
    lines.append(
        "  auditor and operator also type a TOTP code: add the secret to an authenticator app, "
        "or: python -c 'import pyotp,sys; print(pyotp.TOTP(sys.argv[1]).now())' SECRET"
    )
    return "\n".join(lines)
