"""``biogas edge``: run the edge producer and the commissioning tools."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from edge_producer.config import PlantConfig
from edge_producer.config_loader import load_plant, parse_plant
from edge_producer.csv_import import draft_from_csv, draft_toml
from edge_producer.dry_run import read_all, read_tag_words
from edge_producer.planning import bus_load, cycle_bus_time, plan_plant
from edge_producer.probing import candidates
from edge_producer.runtime import EdgeRuntime, with_overrides
from edge_producer.settings import EdgeSettings
from streams.errors import BiogasError
from streams.logsetup import configure_logging

edge_app = typer.Typer(help="The edge producer: Modbus polling, journal, forwarding, "
                       "commissioning tools.", no_args_is_help=True)

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="Plant TOML file.")]
HostOpt = Annotated[str | None, typer.Option(help="Override the host of every TCP device.")]
PortOpt = Annotated[int | None, typer.Option(help="Override the port of every TCP device.")]


def _fail(exc: Exception) -> typer.Exit:
    print(f"error: {exc}", file=sys.stderr)
    return typer.Exit(1)


def _settings(**overrides: Any) -> EdgeSettings:
    settings = EdgeSettings()
    update = {k: v for k, v in overrides.items() if v is not None}
    return settings.model_copy(update=update) if update else settings


def _plant(config: Path, settings: EdgeSettings | None = None) -> PlantConfig:
    configure_logging((settings or EdgeSettings()).log)
    try:
        plant = load_plant(config)
    except BiogasError as exc:
        raise _fail(exc) from None
    return with_overrides(plant, settings) if settings is not None else plant


@edge_app.command()
def validate(config: ConfigOpt) -> None:
    """Check a plant config; every problem names the line, the key and the fix."""
    plant = _plant(config)
    print(f"ok: plant {plant.plant_id}: {len(plant.devices)} devices, {len(plant.tags)} tags, "
          f"{len(plant.poll_groups)} poll groups")


@edge_app.command()
def plan(config: ConfigOpt) -> None:
    """Show the coalesced reads and the bus time per cycle against each poll interval."""
    plant = _plant(config)
    plans = plan_plant(plant)
    warnings = 0
    for group_plan in plans:
        device = plant.devices[group_plan.device]
        busy = cycle_bus_time(group_plan, device)
        share = busy / group_plan.interval_s
        print(f"{group_plan.device} [{device.endpoint} unit {device.unit_id}] group "
              f"{group_plan.group} every {group_plan.interval_s:g} s: "
              f"{len(group_plan.requests)} reads, ~{busy * 1000:.1f} ms per cycle "
              f"({share:.0%} of the interval)")
        for r in group_plan.requests:
            names = ", ".join(t.name for t in r.tags)
            print(f"    {r.table} {r.start}..{r.end - 1} ({r.count}): {names}")
        if share > 1.0:
            warnings += 1
            print(f"  WARNING: one cycle needs {busy:.3f} s but the interval is "
                  f"{group_plan.interval_s:g} s; cycles will be skipped")
    for link, load in bus_load(plans, plant).items():
        note = "  WARNING: overrun" if load > 1.0 else ""
        print(f"link {link}: {load:.0%} busy{note}")
        warnings += 1 if load > 1.0 else 0
    print(f"{sum(len(p.requests) for p in plans)} reads for {len(plant.tags)} tags; "
          f"{warnings} warning(s)")


@edge_app.command("dry-run")
def dry_run(config: ConfigOpt, as_json: Annotated[bool, typer.Option("--json")] = False,
            modbus_host: HostOpt = None, modbus_port: PortOpt = None) -> None:
    """Read every tag once and print its value, unit and quality."""
    settings = _settings(modbus_host=modbus_host, modbus_port=modbus_port)
    plant = _plant(config, settings)
    readings, statuses = asyncio.run(read_all(plant))
    if as_json:
        doc = {name: {"value": r.value, "quality": r.quality.value}
               for name, r in readings.items()}
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        width = max(len(n) for n in readings) if readings else 10
        for name, r in readings.items():
            unit = plant.tag(name).unit or ""
            value = "-" if r.value is None else str(r.value)
            print(f"{name:<{width}}  {value:>14} {unit:<8} {r.quality.value}")
        for s in statuses:
            if s.status.value != "online":
                print(f"device {s.device}: {s.status.value}: {s.reason}", file=sys.stderr)
    bad = [r for r in readings.values() if r.quality.value not in ("good", "out_of_range")]
    raise typer.Exit(1 if bad else 0)


@edge_app.command()
def probe(
    config: ConfigOpt,
    tag: Annotated[str, typer.Option(help="Tag to probe (its device, table and address).")],
    low: Annotated[float | None, typer.Option("--min", help="Expected low end.")] = None,
    high: Annotated[float | None, typer.Option("--max", help="Expected high end.")] = None,
    registers: Annotated[str | None, typer.Option(
        help="Decode these registers instead of reading them, e.g. 0x2000,0x47F1.")] = None,
    top: Annotated[int, typer.Option(min=1)] = 10,
    modbus_host: HostOpt = None, modbus_port: PortOpt = None,
) -> None:
    """Decode a tag in every byte/word order and scale and rank them against its range."""
    settings = _settings(modbus_host=modbus_host, modbus_port=modbus_port)
    plant = _plant(config, settings)
    try:
        spec = plant.tag(tag)
    except KeyError:
        raise _fail(ValueError(f"no tag {tag!r} in {config}")) from None
    try:
        words = ([int(w, 0) for w in registers.split(",")] if registers
                 else asyncio.run(read_tag_words(plant, spec, max(spec.words, 2))))
    except (ValueError, BiogasError) as exc:
        raise _fail(exc) from None
    lo = low if low is not None else spec.min
    hi = high if high is not None else spec.max
    expected = (lo, hi) if lo is not None and hi is not None else None
    print("registers: " + " ".join(f"0x{w:04X}" for w in words))
    if expected is None:
        print("no expected range: pass --min/--max (or set min/max on the tag) to rank")
    current = (spec.type, spec.order_on(plant.devices[spec.device]))
    for c in candidates(words, expected, current=current)[:top]:
        mark = "in range" if c.in_range else "out of range"
        print(f"  {c.type:<4} {c.order}  scale {c.scale:<6g} -> {c.value:<16.6g} {mark}")


@edge_app.command("import-csv")
def import_csv(
    csv_file: Annotated[Path, typer.Argument(help="CSV with a header row: name, device, "
                                             "register, address, type, order, scale, ...")],
    plant_id: Annotated[str, typer.Option(help="Plant id of the draft.")],
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
    one_based: Annotated[bool, typer.Option(help="Addresses are 1-based register "
                                            "numbers (subtract 1).")] = False,
) -> None:
    """Turn a CSV tag list into a plant TOML draft, then list what still needs fixing."""
    try:
        text = draft_toml(draft_from_csv(csv_file, plant_id, one_based=one_based))
    except BiogasError as exc:
        raise _fail(exc) from None
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        print(f"wrote {output}", file=sys.stderr)
    try:
        parse_plant(text, source=str(output or "draft"))
    except BiogasError as exc:
        print(f"the draft needs work:\n{exc}", file=sys.stderr)


@edge_app.command()
def run(
    config: ConfigOpt,
    journal: Annotated[Path | None, typer.Option(help="Journal file (BIOGAS_EDGE_JOURNAL).")]
    = None,
    metrics_port: Annotated[int | None, typer.Option(
        help="/health and /metrics port, 0 = off (BIOGAS_EDGE_METRICS_PORT).")] = None,
    topic_prefix: Annotated[str | None, typer.Option(help="Topic name prefix.")] = None,
    modbus_host: HostOpt = None, modbus_port: PortOpt = None,
) -> None:
    """Run the producer until SIGTERM/SIGINT (then flush the journal and stop cleanly)."""
    settings = _settings(journal=journal, metrics_port=metrics_port, topic_prefix=topic_prefix,
                         modbus_host=modbus_host, modbus_port=modbus_port)
    plant = _plant(config)
    try:
        asyncio.run(_run(plant, settings))
    except BiogasError as exc:
        raise _fail(exc) from None


async def _run(plant: PlantConfig, settings: EdgeSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runtime = EdgeRuntime(plant, settings)
    await runtime.start()
    try:
        await stop.wait()
    finally:
        await runtime.stop()
