"""FastAPI dependencies: authenticate the bearer token, check the permission and plant scope."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request

from api.errors import ApiProblemError
from api.permissions import Permission, allowed
from api.settings import ApiSettings
from api.tokens import Principal, TokenError, verify_token

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="biogas"'}
#: what a request without a token is told (the command is the project's CLI's)
MISSING_CREDENTIALS = ("send 'Authorization: Bearer <token>'; tokens are issued with "
                       "'biogas tokens issue --sub NAME --role ROLE --plants PLANT'")


def authenticate(request: Request) -> Principal:
    """The caller's principal from ``Authorization: Bearer <token>``; 401 otherwise."""
    settings: ApiSettings = request.app.state.settings
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiProblemError(401, "Authentication required", MISSING_CREDENTIALS,
                              headers=_CHALLENGE)
    try:
        return verify_token(settings.token_secret.get_secret_value(), token.strip())
    except TokenError as exc:
        raise ApiProblemError(401, "Invalid token", str(exc), headers=_CHALLENGE) from exc


def require(permission: Permission) -> Callable[[Request], Coroutine[Any, Any, Principal]]:
    """A dependency that authenticates and checks ``permission`` against the role matrix."""

    async def dependency(request: Request) -> Principal:
        principal = authenticate(request)
        if not allowed(principal.role, permission):
            raise ApiProblemError(403, "Forbidden",
                             f"role '{principal.role}' lacks permission '{permission}'")
        return principal

    return dependency


def check_plant(principal: Principal, plant_id: str) -> None:
    """403 unless the token grants ``plant_id``."""
    if not principal.may_see(plant_id):
        raise ApiProblemError(403, "Forbidden", f"this token is not granted plant '{plant_id}'")


def granted_plants(principal: Principal, requested: list[str] | None) -> list[str] | None:
    """The plants a query may touch: the requested ones (each checked), else every granted
    plant (None = all plants, for a token granted '*')."""
    if requested:
        for plant in requested:
            check_plant(principal, plant)
        return requested
    if "*" in principal.plants:
        return None
    return list(principal.plants)
