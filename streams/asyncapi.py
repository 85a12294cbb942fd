"""The AsyncAPI 3.0.0 document of the log, generated from the topic catalogue and the models."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from streams.events import EVENT_TYPES
from streams.topics import Stream, Topics, TopicSpec

ASYNCAPI_VERSION = "3.0.0"
#: Version of the contract as a whole; bump the major with a topic's ``.v<major>``.
CONTRACT_VERSION = "1.2.0"
KAFKA_BINDING_VERSION = "0.5.0"
_SCHEMA_REF = "#/components/schemas/{model}"

_KEY_DESCRIPTIONS = {
    "plant_id": "plant_id as UTF-8: all of a plant's events stay in order in one partition.",
}
_STREAM_KEY_DESCRIPTIONS = {
    Stream.MODEL_DEPLOYMENTS: "'model_id' (deployed to every plant) or 'model_id@plant_id' "
    "(one plant), UTF-8; compaction keeps the latest deployment per key.",
    Stream.DEADLETTER: "plant_id as UTF-8, or empty when the message's plant is unknown.",
}


def _camel(stream: Stream) -> str:
    return "".join(part.capitalize() for part in stream.value.split("-"))


def _topic_configuration(spec: TopicSpec) -> dict[str, Any]:
    """Kafka binding ``topicConfiguration``: typed values as the binding schema wants them."""
    out: dict[str, Any] = {}
    for key, value in spec.config.items():
        if key == "cleanup.policy":
            out[key] = value.split(",")
        elif key.endswith(".ms") or key.endswith(".bytes"):
            out[key] = int(value)
        else:
            out[key] = value
    return out


def _key_schema(spec: TopicSpec) -> dict[str, Any]:
    description = _STREAM_KEY_DESCRIPTIONS.get(spec.stream) or _KEY_DESCRIPTIONS.get(
        spec.key_field, f"{spec.key_field} as UTF-8"
    )
    return {"type": "string", "description": description}


def _message_names(spec: TopicSpec) -> list[str]:
    return sorted(EVENT_TYPES[t].__name__ for t in spec.event_types)


def asyncapi_document(topics: Topics | None = None) -> dict[str, Any]:
    """The AsyncAPI document as a dict (JSON-ready)."""
    topics = topics if topics is not None else Topics()
    models = list(EVENT_TYPES.values())
    _, defs = models_json_schema([(m, "validation") for m in models], ref_template=_SCHEMA_REF)
    schemas: dict[str, Any] = defs.get("$defs", {})

    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for spec in topics:
        channel_id = spec.stream.value
        names = _message_names(spec)
        channels[channel_id] = {
            "address": spec.name,
            "title": spec.stream.value,
            "description": spec.description,
            "messages": {n: {"$ref": f"#/components/messages/{n}"} for n in names},
            "bindings": {
                "kafka": {
                    "topic": spec.name,
                    "partitions": spec.partitions,
                    "topicConfiguration": _topic_configuration(spec),
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
        }
        channel_messages = [{"$ref": f"#/channels/{channel_id}/messages/{n}"} for n in names]
        for action in ("send", "receive"):
            operations[f"{action}{_camel(spec.stream)}"] = {
                "action": action,
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "summary": f"{'Append to' if action == 'send' else 'Consume'} {spec.name}.",
                "messages": channel_messages,
            }
        for event_type in sorted(spec.event_types):
            model = EVENT_TYPES[event_type]
            doc = (model.__doc__ or "").strip()
            messages[model.__name__] = {
                "name": event_type,
                "title": model.__name__,
                "summary": doc.splitlines()[0] if doc else event_type,
                "contentType": "application/json",
                "payload": {"$ref": _SCHEMA_REF.format(model=model.__name__)},
                "bindings": {
                    "kafka": {"key": _key_schema(spec), "bindingVersion": KAFKA_BINDING_VERSION}
                },
            }

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Biogas plant event log",
            "version": CONTRACT_VERSION,
            "description": (
                "Events on the Kafka-protocol log of the biogas plant data platform. Values are "
                "UTF-8 JSON objects discriminated by event_type and versioned by schema_version; "
                "timestamps are RFC 3339 in UTC."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }
