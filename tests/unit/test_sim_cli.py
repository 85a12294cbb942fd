"""``biogas sim`` command-line errors and listing (no server is started here)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cli.sim_cmd import sim_app


def test_lists_shipped_scenarios() -> None:
    result = CliRunner().invoke(sim_app, ["scenarios"])
    assert result.exit_code == 0
    assert "overload" in result.output.split()


def test_bad_scenario_exits_2_naming_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[scenario]\nspeed = -3\n')
    result = CliRunner().invoke(sim_app, ["run", "--scenario", str(bad), "--port", "0"])
    assert result.exit_code == 2
    assert "scenario.speed" in result.output
