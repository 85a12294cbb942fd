"""Plant config validation: field rules, cross-plant rules, and messages that name the file,
line, key and fix."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from edge_producer.catalogue import config_digest, tags_configured
from edge_producer.config import PlantConfig
from edge_producer.config_loader import load_plant, parse_plant
from edge_producer.datatypes import ByteOrder, Table, ValueType
from edge_producer.errors import PlantConfigError
from simulator.catalogue import CATALOGUE
from streams.errors import ConfigError
from streams.events import TagKind

DEMO = Path(__file__).resolve().parents[2] / "configs" / "demo-plant.toml"

BASE = """\
plant_id = "p1"

[devices.plc]
host = "10.0.0.5"
port = 502
unit_id = 1

[poll_groups.fast]
interval_s = 1.0
"""


def tag(name: str = "t1", **fields: Any) -> str:
    values = {"device": "plc", "register": "holding", "address": 0, "group": "fast", **fields}
    body = "".join(f"{k} = {_toml(v)}\n" for k, v in values.items())
    return f"\n[[tags]]\nname = \"{name}\"\n{body}"


def _toml(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value).lower() \
        if isinstance(value, bool) else str(value)


def problems(text: str) -> list[str]:
    with pytest.raises(PlantConfigError) as info:
        parse_plant(text, source="plant.toml")
    assert isinstance(info.value, ConfigError)
    return info.value.problems


def test_the_demo_plant_config_is_valid() -> None:
    plant = load_plant(DEMO)
    assert plant.plant_id == "demo-plant"
    assert set(plant.devices) == {"plc", "analyser", "chp"}
    assert plant.tag("gas.ch4").order_on(plant.devices["analyser"]) is ByteOrder.CDAB
    assert plant.tag("dig1.temp_top").scale == 0.1


def test_a_valid_tag_gets_its_defaults() -> None:
    plant = parse_plant(BASE + tag(type="f32", order="cdab"))
    t = plant.tags[0]
    assert (t.table, t.type, t.order, t.words) == (Table.HOLDING, ValueType.F32,
                                                   ByteOrder.CDAB, 2)


@pytest.mark.parametrize("alias,canonical", [("GHEFCDAB", "CDAB"), ("HGFEDCBA", "DCBA"),
                                             ("BADCFEHG", "BADC"), ("abcdefgh", "ABCD")])
def test_64_bit_order_names_are_accepted(alias: str, canonical: str) -> None:
    plant = parse_plant(BASE + tag(type="f64", order=alias))
    assert plant.tags[0].order == ByteOrder(canonical)


def test_bad_order_names_the_line_key_and_choices() -> None:
    found = problems(BASE + tag(type="f32", order="ABDC"))
    assert len(found) == 1
    line = (BASE + tag(type="f32", order="ABDC")).splitlines().index('order = "ABDC"') + 1
    assert found[0].startswith(f"plant.toml:{line}: tags[0] (t1).order:")
    assert "'ABCD', 'BADC', 'CDAB' or 'DCBA'" in found[0]


def test_unknown_key_is_named_with_the_allowed_ones() -> None:
    found = problems(BASE.replace("unit_id = 1", "unit_id = 1\nunitid = 2") + tag())
    assert len(found) == 1
    assert found[0].startswith("plant.toml:7: devices.plc.unitid: unknown key")
    assert "unit_id" in found[0]


def test_tcp_device_without_host() -> None:
    found = problems(BASE.replace('host = "10.0.0.5"\n', "") + tag())
    assert found == ["plant.toml:3: devices.plc: a tcp device needs 'host' "
                     "(e.g. host = \"192.168.0.10\")"]


def test_rtu_device_needs_a_serial_port() -> None:
    text = BASE.replace('host = "10.0.0.5"', 'protocol = "rtu"') + tag()
    assert "needs 'serial_port'" in problems(text)[0]


@pytest.mark.parametrize("fields,message", [
    ({"register": "coil", "type": "u16"}, "a coil holds single bits"),
    ({"type": "bool"}, "a bool in a register needs 'bit'"),
    ({"type": "u16", "bit": 3}, "'bit' needs type = \"bool\""),
    ({"register": "discrete", "type": "bool", "bit": 1}, "remove it for a discrete"),
    ({"type": "string"}, "a string needs 'length'"),
    ({"type": "u16", "length": 2}, "'length' is only for type = \"string\""),
    ({"scale": 0}, "'scale' must not be 0"),
    ({"min": 10, "max": 1}, "'min' (10.0) is above 'max' (1.0)"),
    ({"register": "coil", "type": "bool", "scale": 2}, "do not apply to type bool"),
])
def test_type_against_register_rules(fields: dict[str, Any], message: str) -> None:
    found = problems(BASE + tag(**fields))
    assert len(found) == 1 and message in found[0], found


def test_unknown_device_and_poll_group_name_the_choices() -> None:
    found = problems(BASE + tag(device="plx") + tag("t2", address=5, group="slow"))
    assert found[0] == ("plant.toml:13: tags[0] (t1).device: unknown device 'plx'; use one "
                        "of: plc, or add [devices.plx]")
    assert "tags[1] (t2).group: unknown poll group 'slow'; use one of: fast" in found[1]


def test_duplicate_tag_names() -> None:
    found = problems(BASE + tag("a") + tag("a", address=3))
    assert found == ["plant.toml:19: tags[1] (a).name: duplicate tag name, first used by "
                     "tags[0]; give every tag its own name"]


def test_overlapping_registers() -> None:
    found = problems(BASE + tag("a", type="f32") + tag("b", address=1))
    assert len(found) == 1
    assert "tags[1] (b).address: holding 1 overlaps tags[0] (a) at 0..1" in found[0]


def test_bits_of_one_register_may_share_it_with_the_whole_word() -> None:
    plant = parse_plant(BASE + tag("w") + tag("w.b0", type="bool", bit=0)
                        + tag("w.b1", type="bool", bit=1))
    assert len(plant.tags) == 3
    found = problems(BASE + tag("b0", type="bool", bit=0) + tag("b0x", type="bool", bit=0))
    assert "overlaps" in found[0]


def test_request_size_limit() -> None:
    found = problems(BASE + tag(type="string", length=126))
    assert "less than or equal to 125" in found[0]
    text = BASE.replace("unit_id = 1", "unit_id = 1\nmax_registers = 4")
    found = problems(text + tag(type="f64") + tag("s", address=10, type="string", length=5))
    assert found == ["plant.toml:20: tags[1] (s): needs 5 registers but device 'plc' reads "
                     "at most 4 per request; shorten 'length' or raise the device's "
                     "'max_registers'"]


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    assert problems("plant_id = ")[0].startswith("not valid TOML")
    with pytest.raises(PlantConfigError, match="cannot read the file"):
        load_plant(tmp_path / "missing.toml")


def test_models_are_frozen() -> None:
    plant = parse_plant(BASE + tag())
    with pytest.raises(ValueError, match="frozen"):
        plant.tags[0].address = 3  # type: ignore[misc]
    assert isinstance(plant, PlantConfig)


def test_devices_on_one_serial_port_must_agree_on_the_line_settings() -> None:
    rtu = ('plant_id = "p1"\n[devices.a]\nprotocol = "rtu"\nserial_port = "/dev/ttyS0"\n'
           'baudrate = 19200\n[devices.b]\nprotocol = "rtu"\nserial_port = "/dev/ttyS0"\n'
           'baudrate = 9600\nunit_id = 2\n[poll_groups.fast]\ninterval_s = 1\n')
    found = problems(rtu + tag(device="a"))
    assert found == ["plant.toml:6: devices.b: shares /dev/ttyS0 with devices.a but not its "
                     "baudrate/parity/stopbits/bytesize; one bus has one line setting"]
    assert parse_plant(rtu.replace("9600", "19200") + tag(device="a")).devices["b"].unit_id == 2


def test_the_demo_plant_publishes_its_tag_catalogue() -> None:
    plant = load_plant(DEMO)
    boot = uuid.uuid4()
    event = tags_configured(plant, boot, 0)
    assert event.seq == 0 and event.edge_boot_id == boot
    assert [t.tag for t in event.tags] == [t.name for t in plant.tags]
    by_tag = {t.tag: t for t in event.tags}
    first = plant.tags[0]
    assert by_tag[first.name].unit == first.unit
    assert by_tag[first.name].poll_interval_s == plant.poll_groups[first.group].interval_s
    assert event.config_sha256 == config_digest(plant)
    # the simulated plant's documentation: roles everywhere, kinds where a device knows them
    for tag, (kind, role) in CATALOGUE.items():
        if tag in by_tag:
            assert (by_tag[tag].kind, by_tag[tag].role) == (kind, role), tag
    assert by_tag["flare.on"].kind is TagKind.DISCRETE  # a bool, without saying so
    changed = plant.model_copy(update={"plant_id": plant.plant_id + "x"})
    assert config_digest(changed) != config_digest(plant)
