"""Property-based fuzz of the OpenAPI schema (schemathesis) against a real server, database
and broker: no request, valid or not, gets a 5xx answer."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from api.app import create_app
from api.tokens import Role
from logio.topic_admin import delete_topics, ensure_topics
from projections.migrate import apply_migrations
from streams.settings import DatabaseSettings
from streams.topics import Topics
from tests.integration.api_harness import (
    bearer,
    fill,
    plant_events,
    recent_start,
    settings_for,
)
from tests.integration.conftest import StackEndpoints

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def api_url(stack: StackEndpoints) -> Iterator[str]:
    unique = uuid.uuid4().hex[:10]
    database = DatabaseSettings(url=stack.database_url, schema_name=f"t_{unique}")
    topics = Topics(prefix=f"t{unique}.")
    apply_migrations(database)
    asyncio.run(ensure_topics(stack.kafka, topics))
    fill(database, plant_events("plant-a", recent_start(30), 30)[1])
    config = uvicorn.Config(create_app(settings_for(database, stack.kafka, topics)),
                            host="127.0.0.1", port=0, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="fuzz-uvicorn")
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(30)
        asyncio.run(delete_topics(stack.kafka, topics.names()))
        with psycopg.connect(stack.database_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{database.schema_name}" CASCADE')


def test_no_request_gets_a_server_error(api_url: str) -> None:
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    auth = bearer(Role.OWNER, "*")
    failures: list[str] = []
    tried = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        if operation.path == "/stream":  # endless by design; covered by test_api_stream
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=25, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            def call(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
                headers = {**dict(case.headers or {}), **auth}
                case.call_and_validate(base_url=api_url, headers=headers,
                                       checks=[not_a_server_error])

            tried += 1
            try:
                call()
            except Unsatisfiable:  # no parameters to make invalid
                continue
            except Exception as exc:  # noqa: BLE001 - collected and reported below
                failures.append(f"{mode.value} {operation.method.upper()} {operation.path}: "
                                f"{str(exc)[:1500]}")
    assert tried >= 30
    assert not failures, "\n\n".join(failures)
