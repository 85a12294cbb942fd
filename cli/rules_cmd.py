"""``biogas rules suggest``: the baseline detector's view of a plant, learnt from the log, as a
rules file for an engineer to review."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.table import Table

from cli.models_common import console, fail, settings
from modelops.errors import ModelOpsError
from modelops.rules_suggest import learn_from_log, suggestions
from streams.topics import Topics

rules_app = typer.Typer(help="Rules files: what detection learnt, for review.",
                        no_args_is_help=True)


@rules_app.command("suggest")
def suggest(plant: Annotated[str, typer.Option(help="plant id")],
            output: Annotated[Path | None, typer.Option(
                "--output", "-o", help="write the rules JSON here (default: print it)")] = None,
            commission_h: Annotated[float, typer.Option(
                min=1.0, help="hours of each tag's first data to learn from (the worker's "
                              "BIOGAS_AGENTS_COMMISSION_S)")] = 96.0) -> None:
    """Replay a plant's scans from the log through the baseline detector and propose, per
    tag, its kind and (analog tags) hard limits around the band it learnt."""
    cfg = settings()
    topics = Topics(prefix=cfg.topic_prefix)
    try:
        processor = asyncio.run(learn_from_log(cfg.kafka, topics, plant,
                                               commission_s=commission_h * 3600.0))
    except ModelOpsError as exc:
        raise fail(str(exc)) from None
    found = suggestions(processor, plant)
    table = Table(title=f"{plant}: what {commission_h:g} h of commissioning learnt")
    for col in ("stream", "tag", "kind", "learnt", "suggested rule"):
        table.add_column(col)
    for s in found:
        learnt = {k: v for k, v in s.learnt.items() if k not in ("kind", "commissioned_at")}
        rule = "-" if s.rule is None else ", ".join(
            f"{k} {v}" for k, v in s.rule.items() if k != "pattern")
        table.add_row(s.stream, s.tag, s.learnt["kind"],
                      "still learning" if s.rule is None else
                      orjson.dumps(learnt).decode()[:80], rule)
    console.print(table, highlight=False)
    rules = [s.rule for s in found if s.rule is not None]
    data = orjson.dumps(rules, option=orjson.OPT_INDENT_2).decode()
    if output is None:
        print(data)
    else:
        output.write_text(data + "\n")
        console.print(f"wrote {len(rules)} rules to {output}: review them, then point "
                      "BIOGAS_AGENTS_RULES_FILE at it")
