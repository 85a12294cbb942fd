"""A minimal Faust app for the broker test: decode ScanRecorded, re-emit it, count readings.

Run as ``python -m tests.integration.faust_relay_app worker``; configured by environment.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import faust

from streams.codec import decode, encode
from streams.events import FeaturesComputed, ScanRecorded

app = faust.App(
    os.environ.get("RELAY_APP_ID", "relay"),
    broker="kafka://" + os.environ.get("BIOGAS_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
    store="memory://",
    topic_replication_factor=1,
    topic_partitions=1,
    web_enabled=False,
    producer_acks=-1,
    consumer_auto_offset_reset="earliest",
)
source = app.topic(os.environ.get("RELAY_SOURCE", "in"), value_serializer="raw",
                   key_serializer="raw")
sink = app.topic(os.environ.get("RELAY_SINK", "out"), value_serializer="raw",
                 key_serializer="raw")


@app.agent(source)
async def relay(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
    async for key, value in stream.items():
        event = decode(value)
        if isinstance(event, ScanRecorded):
            features = FeaturesComputed(
                plant_id=event.plant_id, tag=None, window_s=1, event_time=event.source_ts,
                features={"readings": float(len(event.readings))}, source_seq=event.seq,
                edge_boot_id=event.edge_boot_id)
            await sink.send(key=key, value=encode(features))
        yield None


if __name__ == "__main__":
    app.main()
