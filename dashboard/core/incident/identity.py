"""Who is writing, established how, and what their role lets them do.

An `Identity` is what every write is attributed to: the name shown on the
timeline plus how it was established (a signed-in OIDC user's subject and
e-mail, an integration's bearer token, the operating-system user running the
CLI, or the system itself). It is stored on each event beside the name.

Roles, lowest first:
- viewer (executives): reads everything, writes nothing;
- responder: comms, notes, checklist, action items, status, severity, verification, roles other than commander;
- commander: also opens incidents and closes one on a passed soak;
- admin: also overrides a close and hands over command on any incident.
Overriding a close and handing over command are otherwise reserved to the
incident's own commander. `role=None` is single-user mode (no sign-in
configured, the app bound to localhost): nobody to tell apart, no checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dashboard.core.errors import WarroomError

ROLES: tuple[str, ...] = ("viewer", "responder", "commander", "admin")
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
SYSTEM_NAME = "system (soak monitor)"


class PermissionDenied(WarroomError):
    """The identity's role does not allow this change; nothing was written."""


@dataclass(frozen=True)
class Identity:
    name: str  # recorded as the event's actor and shown on the timeline
    via: str  # "oidc", "token", "cli", "local", "system"
    role: str | None = None  # None: single-user mode, no role checks
    subject: str | None = None  # the token's `sub` (stable id at the provider) or the integration's name
    email: str | None = None
    claims: dict[str, Any] = field(default_factory=dict)  # e.g. {"as": "Priya"} from the CLI's --as

    def __post_init__(self) -> None:
        if self.role is not None and self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}; known: {', '.join(ROLES)}")

    def __str__(self) -> str:
        return self.name

    def record(self) -> dict[str, Any]:
        """What is stored on each event (the name is stored as its actor)."""
        out: dict[str, Any] = {"via": self.via}
        for key in ("role", "subject", "email"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.claims:
            out["claims"] = dict(self.claims)
        return out

    def at_least(self, role: str) -> bool:
        return self.role is None or ROLE_RANK[self.role] >= ROLE_RANK[role]

    def is_admin(self) -> bool:
        return self.role is None or self.role == "admin"


SYSTEM = Identity(name=SYSTEM_NAME, via="system", role="admin", subject="warroom")


def as_identity(actor: str | Identity) -> Identity:
    """A plain name (tests, single-user callers) is a local identity without role checks."""
    if isinstance(actor, Identity):
        return actor
    return Identity(name=(actor or "").strip(), via="local")


def require(identity: Identity, role: str, what: str) -> None:
    if not identity.at_least(role):
        raise PermissionDenied(f"{identity.name} is {identity.role}: {what} needs the {role} role or higher "
                               "(nothing was written)")


def may_act_as_commander(identity: Identity, incident_commander: str | None) -> bool:
    """The incident's own commander, or an admin (or anyone in single-user mode)."""
    return identity.is_admin() or identity.name == incident_commander
