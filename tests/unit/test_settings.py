"""Shared settings: bad values are refused with a message naming the variable and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from streams.settings import DatabaseSettings, KafkaSettings


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
    from cli.main import main

    monkeypatch.setenv(variable, value)
    monkeypatch.setattr("sys.argv", ["biogas", *argv])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    assert f"invalid setting: {variable}={value!r}: " in capsys.readouterr().err


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
    from cli.main import main

    monkeypatch.setenv("BIOGAS_AGENTS_CHECKPOINT_EVERY_S", "30")
    monkeypatch.setenv("BIOGAS_AGENTS_STALL_AFTER_S", "60")
    monkeypatch.setattr("sys.argv", ["biogas", "agents", "worker"])
    with pytest.raises(SystemExit) as exc:
        main()
    err = capsys.readouterr().err
    assert exc.value.code == 2
    assert "BIOGAS_AGENTS_STALL_AFTER_S='60': must be more than twice " \
           "BIOGAS_AGENTS_CHECKPOINT_EVERY_S (30 s)" in err, err
