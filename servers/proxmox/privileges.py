"""What a token may do on Proxmox, compared with what the broker needs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# What the broker needs (list/status, power, consoles) and what it may harmlessly have (node stats, others' tasks).
REQUIRED_PRIVILEGES = ("VM.Audit", "VM.PowerMgmt", "VM.Console")
TOLERATED_PRIVILEGES = frozenset({"Sys.Audit"})
# Privileges that let a leaked token take over a cluster rather than just operate guests.
HIGH_RISK_PRIVILEGES = frozenset(
    {
        "Permissions.Modify",
        "Sys.Modify",
        "Sys.PowerMgmt",
        "Sys.Console",
        "User.Modify",
        "Realm.Allocate",
        "Realm.AllocateUser",
        "Group.Allocate",
        "VM.Allocate",
        "Datastore.Allocate",
        "Mapping.Modify",
    }
)


# How many privileges a summary names; `excessive` lists them all.
SUMMARY_NAMES = 5


@dataclass(frozen=True)
class PrivilegeReport:
    """What a token may do, compared to what the broker needs."""

    missing: tuple[str, ...]  # required privileges granted on no path at all
    excessive: tuple[str, ...]  # privileges beyond what the broker needs
    granted: Mapping[str, tuple[str, ...]]  # privilege -> paths it is granted on

    @property
    def ok(self) -> bool:
        return not self.missing and not self.excessive

    @property
    def far_more_than_needed(self) -> bool:
        return bool(HIGH_RISK_PRIVILEGES.intersection(self.excessive)) or len(self.excessive) >= 5

    @property
    def summary(self) -> str:
        parts = []
        if self.missing:
            parts.append(f"Missing privileges the broker needs: {', '.join(self.missing)}.")
        if self.far_more_than_needed:
            risky = sorted(HIGH_RISK_PRIVILEGES.intersection(self.excessive))
            named = ", ".join(risky[:SUMMARY_NAMES] or self.excessive[:SUMMARY_NAMES])
            more = len(self.excessive) - min(len(risky) or len(self.excessive), SUMMARY_NAMES)
            among = f"{named} and {more} more" if more else named
            parts.append(
                f"The token has far more privileges than needed ({len(self.excessive)}, among them {among}); a leaked "
                "secret would expose the whole cluster. Give it only the PVEVMUser role, or VM.Audit, VM.PowerMgmt "
                "and VM.Console."
            )
        elif self.excessive:
            parts.append(f"The token has privileges the broker does not need: {', '.join(self.excessive)}.")
        return " ".join(parts) or "The token has exactly the privileges the broker needs."


def privilege_report(permissions: Mapping[str, Mapping[str, Any]]) -> PrivilegeReport:
    """Compare an /access/permissions answer ({path: {privilege: propagate}}) with what the broker needs."""
    granted: dict[str, list[str]] = {}
    for path, privileges in permissions.items():
        for privilege in privileges if isinstance(privileges, Mapping) else ():
            granted.setdefault(privilege, []).append(path)
    missing = tuple(p for p in REQUIRED_PRIVILEGES if p not in granted)
    allowed = TOLERATED_PRIVILEGES.union(REQUIRED_PRIVILEGES)
    excessive = tuple(sorted(p for p in granted if p not in allowed))
    return PrivilegeReport(missing, excessive, {p: tuple(sorted(paths)) for p, paths in sorted(granted.items())})
