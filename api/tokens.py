"""Bearer tokens: HMAC-signed, carrying a subject, a role, the granted plants and an expiry.

Tokens are stateless (``bgs1.<payload>.<signature>``, base64url); the signing secret comes from
the API settings. ``biogas tokens issue`` issues them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

_PREFIX = "bgs1"


class Role(StrEnum):
    OPERATOR = "operator"
    TECHNICIAN = "technician"
    SUPERVISOR = "supervisor"
    OWNER = "owner"


class Principal(BaseModel):
    """Who is calling: from a verified token."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sub: str = Field(min_length=1, max_length=128)
    role: Role
    plants: tuple[str, ...] = Field(description="Granted plant ids; ('*',) grants every plant.")
    exp: int = Field(description="Expiry, Unix seconds.")

    def may_see(self, plant_id: str) -> bool:
        return "*" in self.plants or plant_id in self.plants


class TokenError(ValueError):
    """The token is malformed, forged or expired; the message says which."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, payload: str) -> str:
    return _b64(hmac.new(secret.encode(), f"{_PREFIX}.{payload}".encode(),
                         hashlib.sha256).digest())


def issue_token(secret: str, subject: str, role: Role, plants: tuple[str, ...],
                ttl: timedelta, now: datetime | None = None) -> str:
    """A signed token for ``subject`` with ``role`` on ``plants``, valid for ``ttl``."""
    moment = now or datetime.now(UTC)
    principal = Principal(sub=subject, role=role, plants=plants,
                          exp=int((moment + ttl).timestamp()))
    payload = _b64(orjson.dumps(principal.model_dump(mode="json")))
    return f"{_PREFIX}.{payload}.{_sign(secret, payload)}"


def verify_token(secret: str, token: str, now: datetime | None = None) -> Principal:
    """The principal of a valid token; raises :class:`TokenError` otherwise."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != _PREFIX:
        raise TokenError("malformed token: expected bgs1.<payload>.<signature>")
    _, payload, signature = parts
    if not hmac.compare_digest(_sign(secret, payload), signature):
        raise TokenError("invalid token signature")
    try:
        principal = Principal.model_validate(orjson.loads(_unb64(payload)))
    except (ValueError, ValidationError) as exc:
        raise TokenError("malformed token payload") from exc
    moment = now or datetime.now(UTC)
    if principal.exp <= int(moment.timestamp()):
        raise TokenError("token expired")
    return principal
