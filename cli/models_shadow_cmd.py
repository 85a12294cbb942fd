"""``biogas models shadow-stop`` and ``shadow-report``: end a shadow deployment, and read how a
shadow's decisions compared with the live ones (``deploy --shadow`` starts one)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from cli.models_common import console, fail
from cli.models_common import settings as load_models_settings
from modelops.publish import end_shadow
from modelops.registry import open_registry
from modelops.shadow_report import read_comparisons, totals
from streams.errors import BiogasError
from streams.topics import Topics

Scope = Annotated[str | None, typer.Option("--plant", help="one plant (default: every plant)")]


def shadow_stop(model_id: str, plant: Scope = None) -> None:
    """End the shadow of a model (the detectors stop scoring it)."""
    settings = load_models_settings()
    registry = open_registry(settings)
    try:
        version = asyncio.run(end_shadow(registry, model_id, plant, settings.kafka,
                                         Topics(settings.topic_prefix)))
    except BiogasError as exc:
        raise fail(str(exc)) from None
    console.print(f"ended the shadow of {model_id} version {version} for "
                  f"{plant or 'every plant'}")


def shadow_report(
        model_id: Annotated[str | None, typer.Argument(help="one model id (default: all)")] = None,
        plant: Annotated[str | None, typer.Option(help="one plant (default: all)")] = None,
        since: Annotated[str | None, typer.Option(
            help="windows ending after this time, ISO 8601 (UTC if no zone)")] = None,
        windows: Annotated[bool, typer.Option(
            "--windows", help="also list every window")] = False) -> None:
    """How shadow models' decisions compared with the live ones, from the detectors'
    ModelShadowCompared events: alarms of each, both, and the tags where they differ."""
    settings = load_models_settings()
    after = None
    if since is not None:
        try:
            after = datetime.fromisoformat(since)
        except ValueError:
            raise fail(f"--since {since!r} is not ISO 8601; use e.g. 2026-03-01T00:00:00Z") \
                from None
        after = after if after.tzinfo else after.replace(tzinfo=UTC)
    try:
        events = asyncio.run(read_comparisons(settings.kafka, Topics(settings.topic_prefix),
                                              model_id=model_id, plant_id=plant, since=after))
    except BiogasError as exc:
        raise fail(str(exc)) from None
    if not events:
        console.print("no shadow comparisons on the log yet (a window is reported when the "
                      "first scan after it arrives)")
        return
    if windows:
        table = Table(title="shadow windows")
        for col in ("plant", "stream", "model", "live", "candidate", "window end", "readings",
                    "live alarms", "candidate alarms", "both"):
            table.add_column(col)
        for e in events:
            table.add_row(e.plant_id, e.stream, e.model_id,
                          "-" if e.live is None else e.live.version, e.candidate.version,
                          e.window_end.isoformat(), str(e.readings), str(e.live_alarms),
                          str(e.candidate_alarms), str(e.both_alarms))
        console.print(table)
    table = Table(title=f"shadow comparisons ({len(events)} windows)")
    for col in ("plant", "model", "live", "candidate", "windows", "readings", "live alarms",
                "candidate alarms", "both", "only live", "only candidate", "tags differing"):
        table.add_column(col)
    for (plant_id, model, version), t in sorted(totals(events).items()):
        top = sorted(t.differing.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        table.add_row(plant_id, model, ",".join(sorted(t.live)), version, str(t.windows),
                      str(t.readings), str(t.live_alarms), str(t.candidate_alarms),
                      str(t.both_alarms), str(t.live_alarms - t.both_alarms),
                      str(t.candidate_alarms - t.both_alarms),
                      ", ".join(f"{k} ({n})" for k, n in top) or "-")
    console.print(table)
