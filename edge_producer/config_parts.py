"""The parts of a plant config: devices, poll groups, tags and the journal bound, as frozen
pydantic models with their field-level rules (the plant as a whole: :mod:`edge_producer.config`).
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from edge_producer.datatypes import (
    MAX_READ_BITS,
    MAX_READ_REGISTERS,
    ORDER_ALIASES,
    ByteOrder,
    Table,
    ValueType,
)
from streams.events.base import Tag
from streams.events.edge import Role, TagKind

PositiveSeconds = Annotated[float, Field(gt=0, le=86400)]


class FrozenModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


def _order(value: object) -> object:
    if isinstance(value, str):
        upper = value.strip().upper()
        return ORDER_ALIASES.get(upper, upper)
    return value


class DeviceConfig(FrozenModel):
    """One Modbus device: over TCP (``host``/``port``) or RTU (``serial_port``/``baudrate``...)."""

    protocol: Literal["tcp", "rtu"] = "tcp"
    host: str | None = None
    port: Annotated[int, Field(ge=1, le=65535)] = 502
    serial_port: str | None = None
    baudrate: Annotated[int, Field(ge=300, le=921600)] = 9600
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8
    unit_id: Annotated[int, Field(ge=0, le=255)] = 1
    timeout_s: PositiveSeconds = 1.0
    retries: Annotated[int, Field(ge=0, le=10)] = 1
    pause_s: Annotated[float, Field(ge=0, le=60)] = 0.0
    order: ByteOrder = ByteOrder.ABCD
    max_registers: Annotated[int, Field(ge=1, le=MAX_READ_REGISTERS)] = MAX_READ_REGISTERS
    max_bits: Annotated[int, Field(ge=1, le=MAX_READ_BITS)] = MAX_READ_BITS
    max_gap: Annotated[int, Field(ge=0, le=MAX_READ_REGISTERS)] = 10

    _norm_order = field_validator("order", mode="before")(_order)

    @model_validator(mode="after")
    def _link_complete(self) -> Self:
        if self.protocol == "tcp" and not self.host:
            raise ValueError("a tcp device needs 'host' (e.g. host = \"192.168.0.10\")")
        if self.protocol == "rtu" and not self.serial_port:
            raise ValueError("an rtu device needs 'serial_port' (e.g. serial_port = "
                             "\"/dev/ttyUSB0\")")
        return self

    @property
    def endpoint(self) -> str:
        if self.protocol == "tcp":
            return f"{self.host}:{self.port}"
        return f"{self.serial_port}@{self.baudrate}{self.parity}{self.stopbits}"


class PollGroupConfig(FrozenModel):
    """Tags read together at one interval."""

    interval_s: PositiveSeconds


class TagConfig(FrozenModel):
    """One value read from a device."""

    name: Tag
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False,
                              validate_by_name=True, validate_by_alias=True)

    device: str
    table: Table = Field(alias="register", description="holding, input, coil or discrete")
    address: Annotated[int, Field(ge=0, le=65535, description="0-based protocol address")]
    type: ValueType = ValueType.U16
    group: str = "default"
    order: ByteOrder | None = None
    bit: Annotated[int, Field(ge=0, le=15)] | None = None
    length: Annotated[int, Field(ge=1, le=MAX_READ_REGISTERS)] | None = Field(
        default=None, description="Registers of a string tag.")
    scale: float = 1.0
    offset: float = 0.0
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    deadband: Annotated[float, Field(ge=0)] | None = None
    max_silence_s: PositiveSeconds | None = None
    kind: TagKind | None = Field(default=None, description="analog, integrator, counter, "
                                 "discrete or alarm; a bool is discrete unless it says alarm; "
                                 "left out, detection learns it while commissioning")
    role: Role | None = Field(default=None, description="what the tag measures (the "
                              "vocabulary of streams/roles.py), e.g. heating.supply_temp")

    _norm_order = field_validator("order", mode="before")(_order)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems: list[str] = []
        if self.table.is_bits and self.type is not ValueType.BOOL:
            problems.append(f"a {self.table} holds single bits: set type = \"bool\" "
                            "or read a holding/input register")
        if self.table.is_bits and self.bit is not None:
            problems.append(f"'bit' selects a bit inside a register; remove it for a "
                            f"{self.table}")
        if not self.table.is_bits and self.type is ValueType.BOOL and self.bit is None:
            problems.append("a bool in a register needs 'bit' (0-15)")
        if self.bit is not None and self.type is not ValueType.BOOL:
            problems.append("'bit' needs type = \"bool\"")
        if self.type is ValueType.STRING and self.length is None:
            problems.append("a string needs 'length' (registers, 2 characters each)")
        if self.length is not None and self.type is not ValueType.STRING:
            problems.append("'length' is only for type = \"string\"")
        if self.scale == 0:
            problems.append("'scale' must not be 0")
        if (self.scale != 1.0 or self.offset != 0.0) and self.type in (ValueType.BOOL,
                                                                       ValueType.STRING):
            problems.append(f"'scale'/'offset' do not apply to type {self.type}")
        if self.min is not None and self.max is not None and self.min > self.max:
            problems.append(f"'min' ({self.min}) is above 'max' ({self.max})")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def detection_kind(self) -> TagKind | None:
        """The kind downstream detection takes: the configured one; a bool is discrete."""
        if self.kind is not None:
            return self.kind
        return TagKind.DISCRETE if self.type is ValueType.BOOL else None

    @property
    def words(self) -> int:
        """Registers (or bits, for coils and discrete inputs) the tag occupies."""
        if self.table.is_bits:
            return 1
        if self.type is ValueType.STRING:
            return self.length or 1
        return self.type.words

    def order_on(self, device: DeviceConfig) -> ByteOrder:
        return self.order if self.order is not None else device.order


class JournalPolicy(FrozenModel):
    """How big the local journal may grow and what happens when it is full."""

    max_bytes: Annotated[int, Field(ge=1_000_000)] = 2_000_000_000
    max_age_s: Annotated[float, Field(gt=0)] = 30 * 86400.0
    when_full: Literal["drop_oldest", "reject_new"] = "drop_oldest"
