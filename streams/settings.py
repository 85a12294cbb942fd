"""Settings shared by every process, read from the environment (prefix ``BIOGAS_``).

Only settings modules read the environment. Each process defines one frozen settings class,
composed from the pieces here, builds it once in its entry point and passes it down.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from streams.errors import ConfigError

LogFormat = Literal["console", "json", "auto"]
LogLevel = Literal["debug", "info", "warning", "error"]


class KafkaSettings(BaseSettings):
    """Where the Kafka-protocol log is (Apache Kafka in tests, Redpanda in production)."""

    model_config = SettingsConfigDict(env_prefix="BIOGAS_KAFKA_", frozen=True, extra="ignore")

    bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        description="Comma-separated host:port list, e.g. '127.0.0.1:9092'.",
    )
    client_id: str = "biogas"

    @field_validator("bootstrap_servers")
    @classmethod
    def _check_servers(cls, value: str) -> str:
        servers = [s.strip() for s in value.split(",") if s.strip()]
        if not servers:
            raise ValueError("set BIOGAS_KAFKA_BOOTSTRAP_SERVERS to host:port[,host:port...]")
        for server in servers:
            host, sep, port = server.rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(
                    f"'{server}' is not host:port; set BIOGAS_KAFKA_BOOTSTRAP_SERVERS to "
                    "host:port[,host:port...]"
                )
        return ",".join(servers)



class ObjectStoreSettings(BaseSettings):
    """An S3-compatible object store (model artifacts); unset fields fall back to the AWS
    SDK's defaults (its endpoint and credential chain)."""

    model_config = SettingsConfigDict(env_prefix="BIOGAS_S3_", frozen=True, extra="ignore")

    endpoint_url: str | None = Field(
        default=None, description="e.g. http://127.0.0.1:9000 for MinIO; unset: AWS S3.")
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    region: str = "us-east-1"

    @field_validator("endpoint_url")
    @classmethod
    def _check_endpoint(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("set BIOGAS_S3_ENDPOINT_URL to an http:// or https:// URL")
        return value

class DatabaseSettings(BaseSettings):
    """Where the projections live (PostgreSQL, TimescaleDB when the extension exists)."""

    model_config = SettingsConfigDict(env_prefix="BIOGAS_DATABASE_", frozen=True, extra="ignore")

    url: str = Field(
        default="postgresql://biogas@127.0.0.1:5432/biogas",
        description="libpq connection URI, e.g. postgresql://user@host:port/db",
    )
    schema_name: str = Field(
        default="public",
        description="PostgreSQL schema holding the projection tables.",
    )

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError(
                "set BIOGAS_DATABASE_URL to a libpq URI starting with postgresql://"
            )
        return value

    @field_validator("schema_name")
    @classmethod
    def _check_schema(cls, value: str) -> str:
        if not value.isidentifier() or value.lower() != value:
            raise ValueError(
                "BIOGAS_DATABASE_SCHEMA_NAME must be a lower-case SQL identifier, e.g. 'public'"
            )
        return value


class LogSettings(BaseSettings):
    """How a process logs: JSON lines in services, readable on a terminal."""

    model_config = SettingsConfigDict(env_prefix="BIOGAS_LOG_", frozen=True, extra="ignore")

    level: LogLevel = "info"
    format: LogFormat = "auto"


def invalid_lines(exc: ValidationError, cls: type[BaseSettings]) -> list[str]:
    """One line per invalid setting of ``cls``: its environment variable, the value (hidden for
    secrets), what is wrong and what it should be (the field's description)."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    problems = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"])
        field = cls.model_fields.get(str(error["loc"][0])) if error["loc"] else None
        message = error["msg"].removeprefix("Value error, ")
        value = "" if "secret" in name else f"={error['input']!r}"
        hint = f"; {field.description}" if field is not None and field.description else ""
        problems.append(f"{prefix}{name.upper()}{value}: {message}{hint}")
    return problems


def describe_invalid(exc: ValidationError, classes: Sequence[type[BaseSettings]]) -> str:
    """:func:`invalid_lines` under one heading; ``classes`` are the settings classes the failing
    one may be (found by the error's title; the first by default)."""
    cls = next((c for c in classes if c.__name__ == exc.title), classes[0])
    return "invalid setting: " + "\n".join(invalid_lines(exc, cls))


class InvalidSettingsError(ConfigError):
    """Invalid variables of a process's settings and of the groups nested in them, all at once
    (one line each, as :func:`describe_invalid` writes them)."""

    def __init__(self, lines: Sequence[str]) -> None:
        super().__init__("invalid setting: " + "\n".join(lines))


#: the one variable naming the catalogue's topic prefix, for every service
TOPIC_PREFIX_VARIABLE = "BIOGAS_TOPIC_PREFIX"


def topic_prefix_field(service_variable: str) -> str:
    """The ``topic_prefix`` field of a service's settings: read from ``BIOGAS_TOPIC_PREFIX``
    (every service the same), or from the service's own older variable when that one is
    unset."""
    prefix: str = Field(default="", validation_alias=AliasChoices(
        TOPIC_PREFIX_VARIABLE, service_variable), description=(
        f"Prefix of every topic name of the catalogue; set {TOPIC_PREFIX_VARIABLE} (the same "
        f"for every service; {service_variable} is still read when it is unset)."))
    return prefix


class ProcessSettings(BaseSettings):
    """A process's settings class: the groups nested in it (Kafka, database, log ...) are read
    first, each on its own, so that bad variables in several groups are reported together
    (:class:`InvalidSettingsError`) rather than the first group's alone. Fields may be given
    by name in code even when their variable is an alias (``topic_prefix``)."""

    model_config = SettingsConfigDict(populate_by_name=True)

    def __init__(self, **values: Any) -> None:
        lines: list[str] = []
        for name, field in type(self).model_fields.items():
            factory = field.default_factory
            if name in values or not (isinstance(factory, type)
                                      and issubclass(factory, BaseSettings)):
                continue
            try:
                values[name] = factory()
            except ValidationError as exc:
                lines.extend(invalid_lines(exc, factory))
                values[name] = factory.model_construct()  # so its own fields are checked
        try:
            super().__init__(**values)
        except ValidationError as exc:
            if not lines:
                raise
            lines.extend(invalid_lines(exc, type(self)))
        if lines:
            raise InvalidSettingsError(lines)
