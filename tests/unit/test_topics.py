"""The topic catalogue: names, keys, partitions, retention, routing of event types."""

from __future__ import annotations

import pytest

from streams.errors import ContractError, UnknownTopicError
from streams.events import EVENT_TYPES, MessageDeadLettered, ModelDeployed
from streams.topics import CATALOGUE, Stream, Topics, parse_deployment_key
from tests.examples import PLANT, example_events, example_of

FOREVER = {"scans", "device-status", "alerts", "alert-commands", "lab-results", "anomalies",
           "model-drift", "model-shadow"}
DAY_MS = 86_400_000


def test_every_stream_has_one_topic_named_plant_stream_v1() -> None:
    topics = Topics()
    assert [spec.stream for spec in topics] == list(Stream)
    assert topics.names() == tuple(f"plant.{s.value}.v1" for s in Stream)
    assert len(topics) == 13


def test_every_event_type_goes_to_exactly_one_topic() -> None:
    routed = sorted(t for spec in CATALOGUE for t in spec.event_types)
    assert routed == sorted(EVENT_TYPES)


@pytest.mark.parametrize(
    ("event_type", "stream"),
    [
        ("scan_recorded", "scans"),
        ("device_status_changed", "device-status"),
        ("edge_heartbeat", "heartbeats"),
        ("features_computed", "features"),
        ("anomaly_detected", "anomalies"),
        ("alert_opened", "alerts"),
        ("alert_updated", "alerts"),
        ("alert_cleared", "alerts"),
        ("alert_acknowledged", "alert-commands"),
        ("alert_commented", "alert-commands"),
        ("lab_result_recorded", "lab-results"),
        ("model_deployed", "model-deployments"),
        ("model_drift_measured", "model-drift"),
        ("model_shadow_compared", "model-shadow"),
        ("message_dead_lettered", "deadletter"),
    ],
)
def test_topic_for_event_type(event_type: str, stream: str) -> None:
    assert Topics().topic_for(event_type).stream == stream


def test_topic_for_an_event_uses_its_type() -> None:
    topics = Topics()
    for event in example_events():
        assert event.event_type in topics.topic_for(event).event_types


def test_prefix_is_prepended_to_every_name() -> None:
    topics = Topics(prefix="t_ab12.")
    assert topics.name(Stream.SCANS) == "t_ab12.plant.scans.v1"
    assert topics["model-deployments"].name == "t_ab12.plant.model-deployments.v1"
    assert all(name.startswith("t_ab12.plant.") for name in topics.names())
    assert topics.topic_for(example_events()[0]).name == "t_ab12.plant.scans.v1"
    assert Topics().name("scans") == "plant.scans.v1", "other catalogues are unaffected"


@pytest.mark.parametrize("prefix", ["has space.", "slash/", "x" * 240])
def test_bad_prefix_is_refused(prefix: str) -> None:
    with pytest.raises(ContractError, match="prefix"):
        Topics(prefix=prefix)


def test_by_name_finds_prefixed_topics() -> None:
    topics = Topics(prefix="t1.")
    assert topics.by_name("t1.plant.alerts.v1").stream is Stream.ALERTS
    with pytest.raises(UnknownTopicError, match=r"plant\.alerts\.v1"):
        topics.by_name("plant.alerts.v1")


def test_unknown_stream_and_event_type_are_clear_errors() -> None:
    with pytest.raises(UnknownTopicError, match="no stream 'scan'; known streams: scans"):
        Topics()["scan"]
    with pytest.raises(UnknownTopicError, match="no topic for event type 'nope'"):
        Topics().topic_for("nope")


def test_retention() -> None:
    for spec in Topics():
        config = dict(spec.config)
        if spec.stream in FOREVER:
            assert config == {"cleanup.policy": "delete", "retention.ms": "-1"}, spec.stream
    topics = Topics()
    assert topics["heartbeats"].config["retention.ms"] == str(7 * DAY_MS)
    assert topics["features"].config["retention.ms"] == str(7 * DAY_MS)
    assert topics["deadletter"].config["retention.ms"] == str(30 * DAY_MS)


def test_model_deployments_are_compacted_in_one_partition_keyed_by_model() -> None:
    spec = Topics()["model-deployments"]
    assert spec.config["cleanup.policy"] == "compact"
    assert spec.partitions == 1
    assert spec.key_field == "model_id"


def test_partitions() -> None:
    topics = Topics()
    assert topics["scans"].partitions == 6
    assert topics["features"].partitions == 6
    assert topics["alerts"].partitions == 3


def test_every_other_topic_is_keyed_by_plant() -> None:
    keyed = {spec.stream for spec in Topics() if spec.key_field == "plant_id"}
    assert keyed == set(Stream) - {Stream.MODEL_DEPLOYMENTS}


def test_key_for_plant_events_is_the_plant_id() -> None:
    topics = Topics()
    for event in example_events():
        if not isinstance(event, ModelDeployed):
            assert topics.key_for(event) == PLANT.encode(), event.event_type


def test_key_for_model_deployment_includes_the_plant_scope() -> None:
    topics = Topics()
    everywhere = example_of(ModelDeployed)
    one_plant = everywhere.model_copy(update={"plant_id": "plant-b"})
    assert topics.key_for(everywhere) == b"digester-iforest"
    assert topics.key_for(one_plant) == b"digester-iforest@plant-b"
    shadow = one_plant.model_copy(update={"role": "shadow"})
    assert topics.key_for(shadow) == b"digester-iforest@plant-b#shadow"
    for event in (everywhere, one_plant, shadow):
        key = topics.key_for(event).decode()
        assert parse_deployment_key(key) == (event.model_id, event.plant_id, event.role)


def test_dead_letter_without_plant_gets_the_empty_key() -> None:
    letter = example_of(MessageDeadLettered).model_copy(update={"plant_id": None})
    assert Topics().key_for(letter) == b""


def test_topic_specs_are_immutable() -> None:
    spec = Topics()["scans"]
    with pytest.raises(AttributeError):
        spec.partitions = 12  # type: ignore[misc]
    with pytest.raises(TypeError):
        spec.config["retention.ms"] = "1"  # type: ignore[index]


def test_lab_results_are_co_partitioned_with_the_scans() -> None:
    """Same key and partition count: Faust's assignor gives the same partition numbers of both
    to one worker (pinned in test_agents_faust_pins), so a plant's lab results reach the worker
    holding its scans and plant state."""
    topics = Topics()
    scans, labs = topics["scans"], topics["lab-results"]
    assert labs.partitions == scans.partitions and labs.key_field == scans.key_field
