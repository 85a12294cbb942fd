"""Bearer tokens and the permission matrix."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from api.permissions import MATRIX, Permission, allowed
from api.tokens import Role, TokenError, issue_token, verify_token

SECRET = "s" * 40
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_token_round_trips() -> None:
    token = issue_token(SECRET, "alice", Role.TECHNICIAN, ("plant-a",), timedelta(hours=1), NOW)
    principal = verify_token(SECRET, token, NOW + timedelta(minutes=59))
    assert (principal.sub, principal.role, principal.plants) == ("alice", Role.TECHNICIAN,
                                                                 ("plant-a",))
    assert principal.may_see("plant-a") and not principal.may_see("plant-b")


def test_expired_forged_and_malformed_tokens_are_refused() -> None:
    token = issue_token(SECRET, "alice", Role.OWNER, ("*",), timedelta(hours=1), NOW)
    with pytest.raises(TokenError, match="expired"):
        verify_token(SECRET, token, NOW + timedelta(hours=2))
    with pytest.raises(TokenError, match="signature"):
        verify_token("x" * 40, token, NOW)
    header, payload, _sig = token.split(".")
    other = issue_token(SECRET, "mallory", Role.OPERATOR, ("plant-b",), timedelta(hours=1), NOW)
    with pytest.raises(TokenError, match="signature"):
        verify_token(SECRET, f"{header}.{payload}.{other.split('.')[2]}", NOW)
    with pytest.raises(TokenError, match="malformed"):
        verify_token(SECRET, "not-a-token", NOW)


def test_wildcard_grant_sees_every_plant() -> None:
    token = issue_token(SECRET, "root", Role.OWNER, ("*",), timedelta(hours=1), NOW)
    assert verify_token(SECRET, token, NOW).may_see("anything")


def test_permission_matrix_is_monotonic_and_complete() -> None:
    order = [Role.OPERATOR, Role.TECHNICIAN, Role.SUPERVISOR, Role.OWNER]
    for lower, higher in itertools.pairwise(order):
        assert MATRIX[lower] <= MATRIX[higher]
    assert MATRIX[Role.OWNER] == frozenset(Permission)
    assert not allowed(Role.OPERATOR, Permission.RECORD_LAB)
    assert allowed(Role.TECHNICIAN, Permission.RECORD_LAB)
    assert not allowed(Role.TECHNICIAN, Permission.READ_KPIS)
    assert allowed(Role.SUPERVISOR, Permission.READ_KPIS)


def test_the_401_names_a_command_that_exists() -> None:
    import re

    import typer.main
    from typer._click.core import Context

    from api.auth import MISSING_CREDENTIALS
    from cli.main import app

    (command,) = re.findall(r"'(biogas [^']+)'", MISSING_CREDENTIALS)
    words = command.split()[1:]
    group = typer.main.get_command(app)
    sub = group.get_command(Context(group), words[0])  # type: ignore[attr-defined]
    assert sub is not None, command
    leaf = sub.get_command(Context(sub), words[1])
    assert leaf is not None, command
    options = {o for p in leaf.params for o in getattr(p, "opts", [])}
    assert {w for w in words if w.startswith("--")} <= options, (command, options)
