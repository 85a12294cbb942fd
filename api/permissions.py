"""The permission matrix: what each role may read and command."""

from __future__ import annotations

from enum import StrEnum

from api.tokens import Role


class Permission(StrEnum):
    READ_PROCESS = "read:process"  # plants, tags, readings, latest values, devices, completeness
    READ_ALERTS = "read:alerts"  # anomalies, alerts, the live stream
    READ_KPIS = "read:kpis"
    EXPORT_CSV = "export:csv"
    ACK_ALERT = "command:alert_ack"
    COMMENT_ALERT = "command:alert_comment"
    RECORD_LAB = "command:lab_result"


_OPERATOR = frozenset({Permission.READ_PROCESS, Permission.READ_ALERTS, Permission.ACK_ALERT,
                       Permission.COMMENT_ALERT})
_TECHNICIAN = _OPERATOR | {Permission.RECORD_LAB, Permission.EXPORT_CSV}
_SUPERVISOR = _TECHNICIAN | {Permission.READ_KPIS}
_OWNER = frozenset(Permission)

MATRIX: dict[Role, frozenset[Permission]] = {
    Role.OPERATOR: _OPERATOR,
    Role.TECHNICIAN: _TECHNICIAN,
    Role.SUPERVISOR: _SUPERVISOR,
    Role.OWNER: _OWNER,
}


def allowed(role: Role, permission: Permission) -> bool:
    return permission in MATRIX[role]
