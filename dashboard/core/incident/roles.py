"""Who gets which role: a claim in the sign-in token, else the data folder's `roles.toml`.

    # roles.toml (in the data folder)
    claim = "warroom_roles"   # token claim holding a role or a list of roles (optional)
    default = "viewer"        # signed-in people not listed below

    [people]                  # by e-mail (or subject when the provider gives no e-mail)
    "priya@example.com" = "commander"
    "cto@example.com" = "viewer"

    [cli]                     # OS users running `warroom` on this machine (default: admin)
    "deploy" = "responder"

    [tokens.alertmanager]     # an integration writing over HTTP, one token each
    role = "responder"
    sha256 = "9f86d0..."      # sha256 of the bearer token: the token itself is never stored

Returns `Identity` values (identity.py) for a signed-in user, a CLI run and a
bearer token. A token claim wins over the file; several roles give the highest.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dashboard.core.errors import WarroomError
from dashboard.core.incident.identity import ROLE_RANK, ROLES, Identity

ROLES_FILE = "roles.toml"
DEFAULT_CLAIM = "warroom_roles"


class RolesError(WarroomError, ValueError):
    """The roles file cannot be used as written: one line naming the file and the entry."""


@dataclass(frozen=True)
class Integration:
    name: str
    role: str
    sha256: str


@dataclass(frozen=True)
class RolesConfig:
    claim: str = DEFAULT_CLAIM
    default: str = "viewer"
    people: dict[str, str] = field(default_factory=dict)  # lower-cased e-mail or subject -> role
    cli: dict[str, str] = field(default_factory=dict)  # OS user -> role
    tokens: tuple[Integration, ...] = ()
    source: str = "(no roles file)"

    def role_for(self, claims: Mapping[str, Any]) -> str:
        from_claim = _roles_in(claims.get(self.claim))
        if from_claim:
            return max(from_claim, key=ROLE_RANK.__getitem__)
        for key in (claims.get("email"), claims.get("sub")):
            if key and str(key).lower() in self.people:
                return self.people[str(key).lower()]
        return self.default


def _roles_in(value: Any) -> list[str]:
    values = value if isinstance(value, (list, tuple)) else [value] if isinstance(value, str) else []
    return [v for v in (str(x).strip().lower() for x in values) if v in ROLES]


def _role(value: Any, where: str) -> str:
    if value not in ROLES:
        raise RolesError(f"{where}: role {value!r} is not one of {', '.join(ROLES)}")
    return value


def load_roles(data_root: str | os.PathLike) -> RolesConfig:
    path = Path(data_root) / ROLES_FILE
    if not path.exists():
        return RolesConfig()
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RolesError(f"{path}: {exc}") from None
    people = {str(k).lower(): _role(v, f"{path} [people] {k}") for k, v in (raw.get("people") or {}).items()}
    cli = {str(k): _role(v, f"{path} [cli] {k}") for k, v in (raw.get("cli") or {}).items()}
    tokens = []
    for name, entry in (raw.get("tokens") or {}).items():
        digest = str((entry or {}).get("sha256") or "").strip().lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise RolesError(f"{path} [tokens.{name}]: sha256 must be the 64 hex digits of the token's SHA-256")
        tokens.append(Integration(str(name), _role((entry or {}).get("role"), f"{path} [tokens.{name}]"), digest))
    return RolesConfig(claim=str(raw.get("claim") or DEFAULT_CLAIM),
                       default=_role(raw.get("default", "viewer"), f"{path} default"),
                       people=people, cli=cli, tokens=tuple(tokens), source=str(path))


def signed_in(claims: Mapping[str, Any], roles: RolesConfig) -> Identity:
    """A user signed in through OIDC: named by e-mail (else name, else subject)."""
    sub = str(claims.get("sub") or "").strip()
    email = str(claims.get("email") or "").strip() or None
    name = email or str(claims.get("name") or "").strip() or sub
    if not name:
        raise RolesError("the sign-in token carries neither an e-mail nor a subject")
    return Identity(name=name, via="oidc", role=roles.role_for(claims), subject=sub or None, email=email)


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def cli_user(roles: RolesConfig, claimed_as: str | None) -> Identity:
    """The CLI's author is the OS user running it; `--as NAME` is kept as a claim beside it.

    Whoever can run the CLI on this machine can write the data folder itself,
    so the default role is admin; `[cli]` in roles.toml narrows it per user.
    """
    user = os_user()
    claims = {"as": claimed_as.strip()} if claimed_as and claimed_as.strip() else {}
    return Identity(name=f"{user} (cli)", via="cli", role=roles.cli.get(user, "admin"), subject=user, claims=claims)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def bearer(token: str, roles: RolesConfig) -> Identity | None:
    """The integration whose token this is, or None (compared in constant time)."""
    digest = token_hash(token.strip())
    for integration in roles.tokens:
        if hmac.compare_digest(digest, integration.sha256):
            return Identity(name=f"{integration.name} (token)", via="token", role=integration.role,
                            subject=integration.name)
    return None
