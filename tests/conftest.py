"""Fixtures for every test: a leak guard for stray child processes and asyncio tasks."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Iterator

import psutil
import pytest

from tests.waiting import ConditionTimeoutError, eventually


def _children() -> set[tuple[int, float]]:
    found: set[tuple[int, float]] = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                found.add((child.pid, child.create_time()))
        except psutil.NoSuchProcess:
            continue
    return found


@pytest.fixture(autouse=True)
def no_process_leak(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that leaves a child process running after it ends."""
    before = _children()
    yield
    if request.node.get_closest_marker("allow_process_leak"):
        return
    try:
        eventually(lambda: not (_children() - before), timeout=10,
                   what="child processes started by the test to exit")
    except ConditionTimeoutError:
        stray = sorted(_children() - before)
        for pid, _ in stray:
            try:
                psutil.Process(pid).kill()
            except psutil.NoSuchProcess:
                continue
        pytest.fail(f"test left child processes running: {[pid for pid, _ in stray]}")


@pytest.fixture
async def no_task_leak() -> AsyncIterator[None]:
    """Fail an async test that leaves asyncio tasks pending after it ends."""
    before = set(asyncio.all_tasks())
    yield
    current = asyncio.current_task()

    def stray() -> set[asyncio.Task[object]]:
        return {t for t in asyncio.all_tasks() - before if t is not current and not t.done()}

    deadline = asyncio.get_running_loop().time() + 5
    while stray() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    leftover = stray()
    if leftover:
        for task in leftover:
            task.cancel()
        names = sorted(task.get_name() + ":" + repr(task.get_coro()) for task in leftover)
        pytest.fail(f"test left asyncio tasks pending: {names}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every coroutine test gets the task-leak guard."""
    for item in items:
        func = getattr(item, "function", None)
        if func is not None and inspect.iscoroutinefunction(func):
            fixturenames = getattr(item, "fixturenames", None)
            if isinstance(fixturenames, list) and "no_task_leak" not in fixturenames:
                fixturenames.insert(0, "no_task_leak")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers",
                            "allow_process_leak: the test manages processes that outlive it")
