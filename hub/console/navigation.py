"""Each role's menu: (message key, path) pairs, the first being the role's start page."""

from __future__ import annotations

from hub.console.staff import StaffRole

NAV: dict[StaffRole, tuple[tuple[str, str], ...]] = {
    StaffRole.practitioner: (
        ("nav.doctor.referrals", "/console/doctor/referrals"),
        ("nav.doctor.consultations", "/console/doctor/consultations"),
    ),
    StaffRole.referral_desk: (("nav.desk", "/console/desk"),),
    StaffRole.data_steward: (("nav.steward", "/console/steward"),),
    StaffRole.auditor: (("nav.auditor", "/console/auditor"),),
    StaffRole.operator: (("nav.operator", "/console/operator"),),
}


def home_page(role: StaffRole) -> str:
    return NAV[role][0][1]
