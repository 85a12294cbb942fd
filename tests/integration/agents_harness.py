"""Run the agents worker as a subprocess on the real broker, feed it and read what it publishes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from agents.worker.stall_watch import EXIT_STALLED
from logio.appending import append_events
from logio.topic_admin import delete_topics
from streams.codec import decode
from streams.events import EventBase
from streams.topics import Topics
from tests.integration.conftest import StackEndpoints
from tests.waiting import ConditionTimeoutError, eventually_async

ROOT = Path(__file__).resolve().parents[2]
E = TypeVar("E", bound=EventBase)


class Worker:
    """``python -m agents`` with the test's settings; stopped (or killed) by the test."""

    def __init__(self, env: dict[str, str], log_path: Path, *,
                 restart_stalled: bool = False) -> None:
        self.env, self.log_path = env, log_path
        self.restart_stalled = restart_stalled
        #: the log of each run that ended with EXIT_STALLED (restarted when restart_stalled)
        self.stall_exits: list[str] = []
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._started_at = 0

    def start(self) -> Worker:
        self._started_at = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "agents"], cwd=ROOT, env=self.env,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def check_alive(self) -> None:
        if self.proc is None or self.proc.poll() is None:
            return
        if self.proc.returncode == EXIT_STALLED and self.restart_stalled:
            # what a supervisor does with a worker whose input stalled: start it again
            self.stall_exits.append(self.log_path.read_bytes()[self._started_at:]
                                    .decode(errors="replace"))
            self._close()
            self.start()
            return
        raise RuntimeError(f"the agents worker exited ({self.proc.returncode}):\n"
                           + self.log()[-4000:])

    def kill(self) -> None:
        """SIGKILL: no chance to commit, flush or snapshot."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
        self._close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close()

    def _close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def worker_env(stack: StackEndpoints, topics: Topics, app_id: str, data_dir: Path,
               **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BIOGAS_AGENTS_")}
    env.update(BIOGAS_KAFKA_BOOTSTRAP_SERVERS=stack.bootstrap_servers,
               BIOGAS_AGENTS_APP_ID=app_id, BIOGAS_TOPIC_PREFIX=topics.prefix,
               BIOGAS_AGENTS_DATA_DIR=str(data_dir), BIOGAS_LOG_FORMAT="json",
               BIOGAS_LOG_LEVEL="info",
               # several workers may run at once: /health and /metrics only where asked
               BIOGAS_AGENTS_METRICS_PORT="0",
               # the tests' stall times are a few seconds: a checkpoint every second (the
               # default's deferral is tested by passing its own value)
               BIOGAS_AGENTS_CHECKPOINT_EVERY_S="1")
    env.update({f"BIOGAS_AGENTS_{k.upper()}": v for k, v in overrides.items()})
    return env


async def delete_app_topics(stack: StackEndpoints, app_id: str) -> None:
    """Delete the worker's internal topics (changelogs, assignor), named after its app id."""
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.bootstrap_servers)
    await admin.start()
    try:
        await delete_topics(stack.kafka, [n for n in await admin.list_topics()
                                          if n.startswith(f"{app_id}-")])
    finally:
        await admin.close()


async def produce(stack: StackEndpoints, topics: Topics, events: Iterable[EventBase]) -> None:
    await append_events(stack.kafka, topics, events)


async def produce_raw(stack: StackEndpoints, topic: str, key: bytes, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap_servers,
                                enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


class Collector:
    """Reads whole topics from the beginning (no consumer group) and decodes every event."""

    def __init__(self, stack: StackEndpoints, topics: Topics, streams: Iterable[str]) -> None:
        self.tps = [TopicPartition(topics.name(s), p) for s in streams
                    for p in range(topics[s].partitions)]
        self.consumer = AIOKafkaConsumer(bootstrap_servers=stack.bootstrap_servers,
                                         group_id=None, enable_auto_commit=False)
        self.events: list[EventBase] = []

    async def __aenter__(self) -> Collector:
        await self.consumer.start()
        self.consumer.assign(self.tps)
        await self.consumer.seek_to_beginning(*self.tps)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    async def poll(self) -> None:
        batches = await self.consumer.getmany(timeout_ms=200)
        for records in batches.values():
            self.events.extend(decode(r.value) for r in records)

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.events if isinstance(e, kind)]

    async def wait_for(self, condition: Callable[[Collector], bool], worker: Worker, *,
                       timeout: float = 60.0, what: str = "events") -> None:
        async def check() -> bool:
            worker.check_alive()
            await self.poll()
            return condition(self)

        try:
            await eventually_async(check, timeout=timeout, interval=0.05, what=what)
        except ConditionTimeoutError as exc:
            counts: dict[str, int] = {}
            for e in self.events:
                counts[e.event_type] = counts.get(e.event_type, 0) + 1
            raise ConditionTimeoutError(f"{exc}; received {counts}; worker log:\n"
                                        + worker.log()[-3000:]) from exc
