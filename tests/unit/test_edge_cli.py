"""``biogas edge validate|plan|import-csv|probe --registers`` (no device needed)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cli.edge_cmd import edge_app
from edge_producer.config_loader import load_plant

DEMO = Path(__file__).resolve().parents[2] / "configs" / "demo-plant.toml"
runner = CliRunner()

RTU = """\
plant_id = "p1"

[devices.ana]
protocol = "rtu"
serial_port = "/dev/ttyUSB0"
baudrate = 9600
unit_id = 240

[poll_groups.fast]
interval_s = 0.1
"""


def test_validate_accepts_the_demo_plant() -> None:
    result = runner.invoke(edge_app, ["validate", "--config", str(DEMO)])
    assert result.exit_code == 0, result.output
    assert "ok: plant demo-plant: 3 devices, 43 tags, 3 poll groups" in result.output


def test_validate_names_the_problem_and_fails(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(DEMO.read_text().replace('order = "CDAB"', 'order = "CADB"'))
    result = runner.invoke(edge_app, ["validate", "--config", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:21: devices.analyser.order: Input should be" in result.output


def test_plan_shows_coalesced_reads_and_warns_on_overrun(tmp_path: Path) -> None:
    result = runner.invoke(edge_app, ["plan", "--config", str(DEMO)])
    assert result.exit_code == 0, result.output
    assert "holding 0..22 (23): plc.heartbeat" in result.output
    assert "6 reads for 43 tags; 0 warning(s)" in result.output
    slow = tmp_path / "rtu.toml"
    slow.write_text(RTU + "".join(
        f'\n[[tags]]\nname = "t{i}"\ndevice = "ana"\nregister = "input"\naddress = {i * 60}\n'
        'type = "f32"\ngroup = "fast"\n' for i in range(4)))
    result = runner.invoke(edge_app, ["plan", "--config", str(slow)])
    assert result.exit_code == 0, result.output
    assert "4 reads" in result.output
    assert "WARNING: one cycle needs" in result.output
    assert "link /dev/ttyUSB0:" in result.output and "WARNING: overrun" in result.output


def test_probe_ranks_offline_registers() -> None:
    result = runner.invoke(edge_app, ["probe", "--config", str(DEMO), "--tag", "gas.ch4",
                                      "--registers", "0x3333,0x4251", "--top", "3"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "registers: 0x3333 0x4251"
    assert lines[1].split()[:2] == ["f32", "CDAB"] and "52.3" in lines[1]


def test_import_csv_writes_a_draft_that_names_what_to_fill_in(tmp_path: Path) -> None:
    csv_file = tmp_path / "tags.csv"
    csv_file.write_text("name,device,register,address,type,order,scale,unit,min,max,group\n"
                        "dig1.temp,plc,holding,40002,i16,,0.1,°C,20,60,fast\n"
                        "gas.ch4,ana,input,30001,f32,CDAB,,vol%,0,100,slow\n")
    out = tmp_path / "draft.toml"
    result = runner.invoke(edge_app, ["import-csv", str(csv_file), "--plant-id", "p9",
                                      "--output", str(out), "--one-based"])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert 'host = "CHANGE-ME"' in text
    plant = load_plant(out)
    assert [(t.name, t.address, t.scale) for t in plant.tags] == [
        ("dig1.temp", 40001, 0.1), ("gas.ch4", 30000, 1.0)]
    assert set(plant.poll_groups) == {"fast", "slow"}


def test_import_csv_rejects_unknown_columns(tmp_path: Path) -> None:
    csv_file = tmp_path / "tags.csv"
    csv_file.write_text("name,device,register,address,colour\nа,plc,holding,1,red\n")
    result = runner.invoke(edge_app, ["import-csv", str(csv_file), "--plant-id", "p9"])
    assert result.exit_code == 1
    assert "line 2" in result.output and "unknown column 'colour'" in result.output
