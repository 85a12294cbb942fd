"""The edge producer's error subtree. Vendor exceptions (pymodbus, aiokafka, sqlite3) are
translated into these at the module that talks to the vendor library."""

from __future__ import annotations

from streams.errors import BiogasError, ConfigError


class EdgeError(BiogasError):
    """Root of every error the edge producer raises on purpose."""


class PlantConfigError(EdgeError, ConfigError):
    """The plant TOML is invalid; ``problems`` holds one ``location: message`` line each."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) in the plant config:\n{lines}")


class ModbusError(EdgeError):
    """A Modbus read failed."""


class DeviceUnreachableError(ModbusError):
    """No connection to the device (refused, reset, unreachable)."""


class DeviceTimeoutError(ModbusError):
    """The device did not answer within its timeout."""


class DeviceExceptionError(ModbusError):
    """The device answered with a Modbus exception reply (``code``: 2 illegal address, ...)."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        super().__init__(message)


class DecodeError(EdgeError):
    """Registers could not be turned into a value (NaN, wrong length, bad text)."""


class JournalError(EdgeError):
    """The local journal could not be opened or written."""


class JournalFullError(JournalError):
    """The journal is at its bound and the policy is to refuse new events."""


class BrokerUnavailableError(EdgeError):
    """The broker did not acknowledge a batch (unreachable, timed out, rejected)."""
