"""``biogas models``: train, promote (parity gate + signature), deploy, shadow, rollback, drift
(on demand, or standing with ``drift-watch``)."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agents.detectors.onnx_scorer import OnnxDetector
from agents.features.windows import F64
from cli.models_common import console
from cli.models_common import fail as _fail
from cli.models_common import settings as _settings
from cli.models_shadow_cmd import shadow_report, shadow_stop
from cli.models_watch_cmd import drift_watch
from modelops.artifacts import (
    KINDS,
    PER_READING,
    WINDOW_KINDS,
    Candidate,
    ModelKind,
    build,
    build_envelope,
    build_subspace,
)
from modelops.drift import drift_anomaly, min_rows, psi_per_feature, references_of
from modelops.errors import ModelOpsError
from modelops.publish import deploy as publish_deployment
from modelops.publish import previous_version, publish
from modelops.registry import Registry, open_registry
from modelops.settings import ModelOpsSettings
from modelops.training_data import (
    TrainingRange,
    count_readings,
    from_log,
    from_projections,
    require_rows,
    stream_matrix,
    streams_from_log,
)
from streams.errors import BiogasError
from streams.events import ModelRef
from streams.topics import Topics

models_app = typer.Typer(help="Model lifecycle: train, promote, deploy, shadow, rollback, drift.",
                         no_args_is_help=True)
models_app.command("drift-watch")(drift_watch)
models_app.command("shadow-stop")(shadow_stop)
models_app.command("shadow-report")(shadow_report)
MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
Plant = Annotated[str, typer.Option(help="plant id")]
Since = Annotated[str, typer.Option(help="start of the range, ISO 8601 (UTC if no zone)")]
Until = Annotated[str, typer.Option(help="end of the range (exclusive), ISO 8601")]
Source = Annotated[str, typer.Option(help="projections (the readings view) or log (replay "
                                          "the scans topic)")]
Version = Annotated[str | None, typer.Option(help="registry version (default: the latest)")]
Scope = Annotated[str | None, typer.Option("--plant", help="one plant (default: every plant)")]


def _time(text: str, option: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise _fail(f"{option} {text!r} is not ISO 8601; use e.g. 2026-03-01T00:00:00Z") \
            from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@contextmanager
def _progress(label: str, total: int | None) -> Iterator[Callable[[int], object]]:
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}"),
                  TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)


def _rows(settings: ModelOpsSettings, rng: TrainingRange, source: str) -> F64:
    if source == "projections":
        total = count_readings(settings.database, rng)
        with _progress("reading projections", total) as advance:
            rows = from_projections(settings.database, rng, advance)
    elif source == "log":
        with _progress("replaying scans", None) as advance:
            rows = asyncio.run(from_log(settings.kafka, Topics(settings.topic_prefix), rng,
                                        advance))
    else:
        raise _fail(f"--source {source!r}: use projections or log")
    return require_rows(rows, rng, source)


@models_app.command("train")
def train(plant: Plant, since: Since, until: Until, source: Source = "projections",
          model: Annotated[list[str] | None, typer.Option(
              help="iforest, autoencoder, envelope and/or subspace (repeatable; default "
                   "iforest and autoencoder)")] = None,
          held_out: Annotated[float, typer.Option(min=0.05, max=0.5,
                                                  help="last share of rows held out")] = 0.2,
          seed: int = 0,
          stream: Annotated[str | None, typer.Option(
              help="envelope, subspace: the stream DEVICE/POLL_GROUP (default: the plant's "
                   "only one)")] = None,
          tag: Annotated[list[str] | None, typer.Option(
              help="envelope, subspace: tags to include, fnmatch patterns (repeatable; "
                   "default all)")] = None,
          model_id: Annotated[str | None, typer.Option(
              help="registry model id (default: the kind); with a single --model")] = None,
          ) -> None:
    """Train, export to ONNX and parity-check; the new versions are registered unsigned."""
    settings = _settings()
    kinds = model or list(PER_READING)
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise _fail(f"--model {bad[0]!r}: use one of {', '.join(KINDS)}")
    windowed = [k for k in kinds if k in WINDOW_KINDS]
    if windowed and source != "log":
        raise _fail(f"--model {windowed[0]} learns one stream (device and poll group), which "
                    "the projections do not keep: use --source log")
    if model_id is not None and len(kinds) != 1:
        raise _fail("--model-id names one model: give exactly one --model")
    if model_id is not None and not MODEL_ID.fullmatch(model_id):
        raise _fail(f"--model-id {model_id!r}: use letters, digits, '.', '_' and '-' (at most "
                    "128, starting with a letter or digit)")
    rng = TrainingRange(plant, _time(since, "--since"), _time(until, "--until"))
    registry = open_registry(settings)
    training = {**rng.as_dict(), "source": source}
    try:
        per_reading = [k for k in kinds if k in PER_READING]
        if per_reading:
            rows = _rows(settings, rng, source)
            for kind in per_reading:
                kind_: ModelKind = "iforest" if kind == "iforest" else "autoencoder"
                _register(registry, model_id or kind,
                          build(kind_, rows, held_out=held_out, seed=seed), training,
                          f"{len(rows)} rows")
        if windowed:
            with _progress("replaying scans", None) as advance:
                streams = asyncio.run(streams_from_log(
                    settings.kafka, Topics(settings.topic_prefix), rng, advance))
            key, tags, values = stream_matrix(streams, stream, tuple(tag or ("*",)))
            for kind in windowed:
                candidate = build_envelope(tags, values, held_out=held_out) \
                    if kind == "envelope" else build_subspace(tags, values, held_out=held_out)
                _register(registry, model_id or kind, candidate,
                          {**training, "stream": key}, f"{len(values)} scans of {key}, "
                          f"{len(tags)} tags")
    except BiogasError as exc:
        raise _fail(str(exc)) from None


def trained_on(metadata: dict[str, object]) -> str | None:
    """The plant a registry version was trained on (its ``training`` metadata)."""
    training = metadata.get("training")
    plant = training.get("plant_id") if isinstance(training, dict) else None
    return plant if isinstance(plant, str) else None


def _register(registry: Registry, model_id: str, candidate: Candidate,
              training: dict[str, str], what: str) -> None:
    entry = registry.add(model_id, candidate.onnx, {**candidate.metadata, "training": training})
    p = candidate.parity
    console.print(f"{model_id} version {entry.version} ({candidate.kind}): {what}, parity "
                  f"{'passed' if p.passed else '[red]FAILED[/red]'} (max diff "
                  f"{p.max_abs_diff:.2e}, {p.decisions_differing} decisions differ), "
                  f"{entry.location}")


@models_app.command("promote")
def promote(model_id: str, version: Version = None) -> None:
    """Sign a version with BIOGAS_MODELS_SIGNING_KEY, refused unless its parity gate passed."""
    settings = _settings()
    if settings.signing_key is None:
        raise _fail("set BIOGAS_MODELS_SIGNING_KEY to an ed25519 private key (make one with "
                    "biogas agents keygen DIR --key-id ID)")
    registry = open_registry(settings)
    try:
        entry = registry.promote(registry.get(model_id, version), settings.signing_key,
                                 settings.key_id)
    except BiogasError as exc:
        raise _fail(str(exc)) from None
    console.print(f"{model_id} version {entry.version} promoted, signed with key "
                  f"{entry.metadata['key_id']}, sha256 {entry.metadata['sha256']}")


@models_app.command("deploy")
def deploy(model_id: str, version: Version = None,
           plant: Annotated[str | None, typer.Option(
               "--plant", help="the plant it applies to (default: the plant it was trained "
                               "on)")] = None,
           all_plants: Annotated[bool, typer.Option(
               "--all-plants", help="apply it to every plant (a model learns one plant's "
                                    "normal: deploy it wider only on purpose)")] = False,
           shadow: Annotated[bool, typer.Option(
               "--shadow", help="score it beside the live version without voting; the "
                                "detectors report the comparison (biogas models "
                                "shadow-report)")] = False) -> None:
    """Publish ModelDeployed for a promoted version, for the plant it was trained on unless
    told otherwise; the detectors hot-swap it (or, with --shadow, score it beside the live
    version)."""
    settings = _settings()
    registry = open_registry(settings)
    if plant is not None and all_plants:
        raise _fail("--plant and --all-plants exclude each other")
    try:
        entry = registry.get(model_id, version)
        if plant is None and not all_plants:
            plant = trained_on(entry.metadata)
            if plant is None:
                raise _fail(f"{model_id} version {entry.version} does not record the plant it "
                            "was trained on; give --plant P or --all-plants")
        event = asyncio.run(publish_deployment(
            registry, entry, plant, settings.kafka,
            Topics(settings.topic_prefix), settings.deployed_by,
            role="shadow" if shadow else "live"))
    except BiogasError as exc:
        raise _fail(str(exc)) from None
    console.print(f"deployed {model_id} version {event.version}{' in shadow' if shadow else ''}"
                  f" to {plant or 'every plant'} ({event.artifact_uri})")


@models_app.command("rollback")
def rollback(model_id: str, plant: Scope = None) -> None:
    """Deploy again the version that was live before the current one."""
    settings = _settings()
    registry = open_registry(settings)
    try:
        current, previous = previous_version(registry.deployments(), model_id, plant)
        asyncio.run(publish_deployment(registry, registry.get(model_id, previous), plant,
                                       settings.kafka, Topics(settings.topic_prefix),
                                       settings.deployed_by))
    except BiogasError as exc:
        raise _fail(str(exc)) from None
    console.print(f"rolled back {model_id} for {plant or 'every plant'}: {current} -> {previous}")


@models_app.command("shadow")
def shadow(model_id: str, candidate: Annotated[str, typer.Option(help="candidate version")],
           plant: Plant, since: Since, until: Until, source: Source = "projections",
           live: Annotated[str | None, typer.Option(
               help="live version (default: the last one deployed)")] = None) -> None:
    """Score a candidate beside the live version on the same rows; compare alarm decisions."""
    settings = _settings()
    registry = open_registry(settings)
    try:
        if live is None:
            deployed = [h["version"] for h in registry.deployments()
                        if h["model_id"] == model_id]
            if not deployed:
                raise ModelOpsError(f"{model_id} was never deployed; pass --live VERSION")
            live = deployed[-1]
        rows = _rows(settings, TrainingRange(plant, _time(since, "--since"),
                                             _time(until, "--until")), source)
        table = Table(title=f"shadow: {model_id} live {live} vs candidate {candidate} "
                            f"({len(rows)} rows)")
        for col in ("version", "alarm threshold", "alarms", "alarm rate"):
            table.add_column(col)
        alarms = []
        for v in (live, candidate):
            entry = registry.get(model_id, v)
            if entry.metadata.get("kind") in WINDOW_KINDS:
                raise ModelOpsError(f"{model_id} is an {entry.metadata.get('kind')} model: "
                                    "shadow compares the per-reading models on rows of "
                                    "model inputs")
            scores = OnnxDetector(entry.artifact_bytes(), name=model_id).score_rows(rows)
            thr = float(entry.metadata["metrics"]["alarm_threshold"])
            alarms.append(scores >= thr)
            table.add_row(v, f"{thr:.4f}", str(int(alarms[-1].sum())),
                          f"{100 * alarms[-1].mean():.3f} %")
    except BiogasError as exc:
        raise _fail(str(exc)) from None
    console.print(table)
    console.print(f"decisions differ on {int((alarms[0] != alarms[1]).sum())} rows")


@models_app.command("drift")
def drift(model_id: str, plant: Plant, since: Since, until: Until,
          source: Source = "projections", version: Version = None,
          publish_alert: Annotated[bool, typer.Option(
              "--publish", help="publish AnomalyDetected (detector drift) when drifting")
          ] = False) -> None:
    """PSI of every model input in the range against the version's training distribution."""
    settings = _settings()
    registry = open_registry(settings)
    until_at = _time(until, "--until")
    try:
        entry = registry.get(model_id, version)
        refs = references_of(entry.metadata)
        rows = _rows(settings, TrainingRange(plant, _time(since, "--since"), until_at), source)
        needed = min_rows(settings.drift_threshold)
        if len(rows) < needed:
            raise _fail(f"{len(rows)} rows in the range, {needed} needed before PSI is "
                        f"judged against {settings.drift_threshold:g}; widen --since/--until")
        values = psi_per_feature(refs, rows)
        table = Table(title=f"PSI vs {model_id} version {entry.version} training "
                            f"({len(rows)} rows, threshold {settings.drift_threshold:g})")
        table.add_column("feature")
        table.add_column("PSI")
        for name, value in values.items():
            table.add_row(name, f"{value:.4f}", style="red" if value > settings.drift_threshold
                          else None)
        console.print(table)
        event = drift_anomaly(plant, values, settings.drift_threshold,
                              ModelRef(model_id=model_id, version=entry.version,
                                       sha256=entry.metadata["sha256"]), window_end=until_at)
        if event is not None and publish_alert:
            asyncio.run(publish(settings.kafka, Topics(settings.topic_prefix), [event]))
            console.print(f"drift alert published ({event.anomaly_id})")
    except BiogasError as exc:
        raise _fail(str(exc)) from None
    if event is not None:
        raise typer.Exit(1)


@models_app.command("list")
def list_models(as_json: Annotated[bool, typer.Option(
        "--json", help="A JSON list instead of the table.")] = False) -> None:
    """Registered models and versions."""
    settings = _settings()
    registry = open_registry(settings)
    rows = []
    for model_id in registry.models():
        for v in registry.versions(model_id):
            m = registry.get(model_id, v).metadata
            rows.append({"model": model_id, "version": v, "kind": m.get("kind"),
                         "rows": m["rows"]["train"],
                         "parity": bool(m["metrics"]["parity"]["passed"]),
                         "key_id": m.get("key_id"), "created_at": m["created_at"]})
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    table = Table(title=f"registry {registry.storage.location}")
    for col in ("model", "version", "rows", "parity", "signed", "created"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r["model"]), str(r["version"]), str(r["rows"]),
                      "ok" if r["parity"] else "failed", str(r["key_id"] or "-"),
                      str(r["created_at"])[:19])
    console.print(table)
