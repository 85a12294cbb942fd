"""Integration fixtures: the real broker and database of the local stack.

The stack is started once per test session in its own state directory (or taken from
``BIOGAS_KAFKA_BOOTSTRAP_SERVERS``/``BIOGAS_DATABASE_URL`` when both are set), and stopped at the
end. Each test gets its own topics (a unique name prefix), consumer groups and database schema.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from logio.topic_admin import delete_topics, ensure_topics
from projections.migrate import apply_migrations
from stack.launcher import down, up
from stack.settings import StackSettings
from streams.settings import DatabaseSettings, KafkaSettings
from streams.topics import Topics


@dataclass(frozen=True)
class StackEndpoints:
    """Where the session's broker and database are."""

    bootstrap_servers: str
    database_url: str

    @property
    def kafka(self) -> KafkaSettings:
        return KafkaSettings(bootstrap_servers=self.bootstrap_servers)


@pytest.fixture(scope="session")
def stack() -> Iterator[StackEndpoints]:
    """The real Kafka broker and PostgreSQL server for this test session."""
    env_kafka = os.environ.get("BIOGAS_KAFKA_BOOTSTRAP_SERVERS")
    env_db = os.environ.get("BIOGAS_DATABASE_URL")
    if env_kafka and env_db:
        yield StackEndpoints(env_kafka, env_db)
        return
    state_dir = Path(tempfile.mkdtemp(prefix="biogas-test-stack-"))
    settings = StackSettings(dir=state_dir)
    try:
        info = up(settings)
        yield StackEndpoints(info.bootstrap_servers, info.database_url)
    finally:
        problems = down(settings)
        if not problems:
            shutil.rmtree(state_dir, ignore_errors=True)
        assert not problems, problems


@pytest.fixture
def unique() -> str:
    """A short unique token for names of this test's topics, groups and schemas."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
async def topics(stack: StackEndpoints, unique: str) -> AsyncIterator[Topics]:
    """The whole topic catalogue under a prefix of this test's own, created and then deleted."""
    catalogue = Topics(prefix=f"t{unique}.")
    await ensure_topics(stack.kafka, catalogue)
    yield catalogue
    await delete_topics(stack.kafka, catalogue.names())


@pytest.fixture
def group_id(unique: str) -> str:
    """A consumer group of this test's own."""
    return f"g{unique}"


@pytest.fixture
def database(stack: StackEndpoints, unique: str) -> Iterator[DatabaseSettings]:
    """A fresh schema of this test's own with the project's migrations applied; dropped after."""
    settings = DatabaseSettings(url=stack.database_url, schema_name=f"t_{unique}")
    apply_migrations(settings)
    yield settings
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{settings.schema_name}" CASCADE')
