"""Shared settings: bad values are refused with a message naming the variable and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_origin

import pytest
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from streams.settings import DatabaseSettings, KafkaSettings

ROOT = Path(__file__).resolve().parents[2]


def test_kafka_servers_are_normalised() -> None:
    settings = KafkaSettings(bootstrap_servers=" 127.0.0.1:9092 , host:19092 ")
    assert settings.bootstrap_servers == "127.0.0.1:9092,host:19092"


@pytest.mark.parametrize("value", ["", "localhost", "host:port", ":9092"])
def test_bad_kafka_servers_name_the_variable(value: str) -> None:
    with pytest.raises(ValidationError, match="BIOGAS_KAFKA_BOOTSTRAP_SERVERS"):
        KafkaSettings(bootstrap_servers=value)


def test_kafka_servers_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIOGAS_KAFKA_BOOTSTRAP_SERVERS", "10.0.0.1:9092")
    settings = KafkaSettings()
    assert settings.bootstrap_servers == "10.0.0.1:9092"
    assert "bootstrap_servers" in settings.model_fields_set


def test_bad_database_url_names_the_variable() -> None:
    with pytest.raises(ValidationError, match="BIOGAS_DATABASE_URL"):
        DatabaseSettings(url="mysql://x")


@pytest.mark.parametrize("schema", ["Public", "1abc", "a-b", "x; drop"])
def test_bad_schema_name_is_refused(schema: str) -> None:
    with pytest.raises(ValidationError, match="BIOGAS_DATABASE_SCHEMA_NAME"):
        DatabaseSettings(schema_name=schema)


def biogas_fails(argv: list[str], env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                 capsys: pytest.CaptureFixture[str]) -> str:
    """``biogas ARGV`` with ``env`` set: it exits 2; what it wrote on stderr."""
    from cli.main import main

    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.setattr("sys.argv", ["biogas", *argv])
    with pytest.raises(SystemExit) as exc:
        main()
    err = capsys.readouterr().err
    assert exc.value.code == 2, err
    return err


def test_settings_are_frozen() -> None:
    settings = KafkaSettings()
    with pytest.raises(ValidationError):
        settings.client_id = "other"  # type: ignore[misc]


@pytest.mark.parametrize(("argv", "variable", "value"), [
    (["projections", "run"], "BIOGAS_PROJECTOR_BATCH_MAX_MESSAGES", "0"),
    (["agents", "worker"], "BIOGAS_KAFKA_BOOTSTRAP_SERVERS", ""),
])
def test_any_command_with_a_bad_setting_names_it_and_exits_2(
        argv: list[str], variable: str, value: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    err = biogas_fails(argv, {variable: value}, monkeypatch, capsys)
    assert f"invalid setting: {variable}={value!r}: " in err


@pytest.mark.parametrize(("content", "said"), [
    (None, "cannot read the rules file"), ("not json", "cannot read the rules file")])
def test_a_rules_file_that_cannot_be_used_is_one_line_and_exit_2(
        content: str | None, said: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from cli.main import main

    rules = tmp_path / "rules.json"
    if content is not None:
        rules.write_text(content)
    monkeypatch.setenv("BIOGAS_AGENTS_RULES_FILE", str(rules))
    monkeypatch.setattr("sys.argv", ["biogas", "agents", "worker"])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]  # after the worker's own start-up line
    assert last.startswith(f"error: {rules}: {said}") and "BIOGAS_AGENTS_RULES_FILE" in last
    assert "Traceback" not in err


def test_a_validation_error_that_is_no_setting_is_not_reported_as_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import cli.main

    def broken() -> None:
        raise ValidationError.from_exception_data("ScanRecorded", [])

    monkeypatch.setattr(cli.main, "app", broken)
    with pytest.raises(ValidationError):
        cli.main.main()


def test_a_stall_time_no_longer_than_two_checkpoints_is_refused_naming_both(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    err = biogas_fails(["agents", "worker"], {"BIOGAS_AGENTS_CHECKPOINT_EVERY_S": "30",
                                              "BIOGAS_AGENTS_STALL_AFTER_S": "60"},
                       monkeypatch, capsys)
    assert "BIOGAS_AGENTS_STALL_AFTER_S='60': must be more than twice " \
           "BIOGAS_AGENTS_CHECKPOINT_EVERY_S (30 s)" in err, err


def _bad_value(annotation: object) -> str | None:
    """A value no field of this type accepts (None: any string would do)."""
    if annotation in (int, float, int | None, float | None):
        return "not-a-number"
    if annotation in (bool, bool | None):
        return "maybe"
    if get_origin(annotation) is Literal:
        return "no-such-choice"
    return None


def _walk() -> list[tuple[list[str], str, str]]:
    """(command, variable, bad value) for every typed field of every process's settings and of
    the groups nested in them."""
    from agents.settings import AgentsSettings
    from api.settings import ApiSettings
    from edge_producer.settings import EdgeSettings
    from modelops.settings import ModelOpsSettings
    from projections.settings import ProjectorSettings

    config = str(ROOT / "configs" / "demo-plant.toml")
    commands: list[tuple[list[str], type[BaseSettings]]] = [
        (["agents", "worker"], AgentsSettings), (["projections", "run"], ProjectorSettings),
        (["api"], ApiSettings), (["edge", "validate", "--config", config], EdgeSettings),
        (["models", "list"], ModelOpsSettings)]
    cases = []
    for argv, cls in commands:
        groups = [cls, *(f.default_factory for f in cls.model_fields.values()
                         if isinstance(f.default_factory, type)
                         and issubclass(f.default_factory, BaseSettings))]
        for group in groups:
            prefix = str(group.model_config.get("env_prefix", ""))
            for name, field in group.model_fields.items():
                bad = _bad_value(field.annotation)
                if bad is not None:
                    cases.append((argv, f"{prefix}{name.upper()}", bad))
    return cases


@pytest.mark.parametrize(("argv", "variable", "value"), _walk(),
                         ids=lambda x: x if isinstance(x, str) else " ".join(x[:2]))
def test_every_bad_setting_is_one_line_naming_it(
        argv: list[str], variable: str, value: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    err = biogas_fails(argv, {variable: value}, monkeypatch, capsys)
    assert f"{variable}={value!r}: " in err and "Traceback" not in err, err


def test_bad_variables_in_several_groups_are_reported_together(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    bad = {"BIOGAS_AGENTS_BATCH_MAX": "0", "BIOGAS_KAFKA_BOOTSTRAP_SERVERS": "nohost",
           "BIOGAS_LOG_LEVEL": "loud"}
    err = biogas_fails(["agents", "worker"], bad, monkeypatch, capsys)
    assert err.startswith("invalid setting: ") and len(err.strip().splitlines()) == 3, err
    assert all(f"{variable}={value!r}: " in err for variable, value in bad.items()), err


@pytest.mark.parametrize(("module", "cls", "older"), [
    ("agents.settings", "AgentsSettings", "BIOGAS_AGENTS_TOPIC_PREFIX"),
    ("projections.settings", "ProjectorSettings", "BIOGAS_PROJECTOR_TOPIC_PREFIX"),
    ("edge_producer.settings", "EdgeSettings", "BIOGAS_EDGE_TOPIC_PREFIX"),
    ("modelops.settings", "ModelOpsSettings", "BIOGAS_MODELS_TOPIC_PREFIX"),
    ("api.settings", "ApiSettings", "BIOGAS_API_TOPIC_PREFIX"),
])
def test_one_topic_prefix_for_every_service(module: str, cls: str, older: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    settings_class = getattr(__import__(module, fromlist=[cls]), cls)
    monkeypatch.setenv("BIOGAS_API_TOKEN_SECRET", "s" * 32)
    monkeypatch.setenv(older, "older.")
    assert settings_class().topic_prefix == "older."  # still read when the new one is unset
    monkeypatch.setenv("BIOGAS_TOPIC_PREFIX", "site.")
    assert settings_class().topic_prefix == "site."
    assert settings_class(topic_prefix="code.").topic_prefix == "code."


def test_the_workers_detection_defaults_are_the_detectors_own(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from agents.settings import AgentsSettings
    from agents.stream_state import DetectionConfig

    assert AgentsSettings().detection() == DetectionConfig()
    monkeypatch.setenv("BIOGAS_AGENTS_COMMISSION_S", "3600")
    monkeypatch.setenv("BIOGAS_AGENTS_STATISTICAL", "true")
    config = AgentsSettings().detection()
    assert config.statistical and config.baseline is not None
    assert config.baseline.commission_s == 3600.0
