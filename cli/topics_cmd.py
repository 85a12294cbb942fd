"""``biogas topics``: create the catalogue's topics on the broker (auto-creation is off)."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Annotated

import typer

from logio.topic_admin import ensure_topics
from streams.errors import BiogasError
from streams.settings import KafkaSettings
from streams.topics import Topics

topics_app = typer.Typer(help="The topic catalogue on the broker.", no_args_is_help=True)


@topics_app.command("ensure")
def ensure(
    prefix: Annotated[str, typer.Option(help="Name prefix for every topic.")] = "",
    replication_factor: Annotated[int, typer.Option(min=1)] = 1,
) -> None:
    """Create every topic of the catalogue that does not exist yet (BIOGAS_KAFKA_*)."""
    try:
        created = asyncio.run(ensure_topics(KafkaSettings(), Topics(prefix=prefix),
                                            replication_factor=replication_factor))
    except (BiogasError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(1) from exc
    for name in created:
        print(f"created {name}")
    print(f"{len(Topics(prefix=prefix))} topics present, {len(created)} created now")


@topics_app.command("list")
def list_topics(
    prefix: Annotated[str, typer.Option(help="Name prefix for every topic.")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="A JSON list instead of lines.")]
    = False,
) -> None:
    """Print the catalogue: topic, key, partitions, config."""
    if as_json:
        print(json.dumps([{"name": spec.name, "stream": spec.stream.value,
                           "key": spec.key_field, "partitions": spec.partitions,
                           "config": dict(spec.config), "event_types": sorted(spec.event_types)}
                          for spec in Topics(prefix=prefix)], indent=2))
        return
    for spec in Topics(prefix=prefix):
        config = ",".join(f"{k}={v}" for k, v in sorted(spec.config.items()))
        print(f"{spec.name}\tkey={spec.key_field}\tpartitions={spec.partitions}\t{config}")
