"""Stopping the edge producer's tasks survives a cancellation that is lost on the way."""

from __future__ import annotations

import asyncio
import contextlib

from edge_producer.runtime import cancel_until_done


async def test_a_task_that_loses_its_cancellation_is_cancelled_again() -> None:
    swallowed = 0

    async def poller() -> None:
        nonlocal swallowed
        while True:  # as a poll loop whose read lost the CancelledError (asyncio.wait_for)
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                swallowed += 1
                if swallowed > 1:
                    raise

    task = asyncio.create_task(poller())
    await asyncio.sleep(0.02)
    task.cancel()  # what a single cancel() and gather() did: the task goes on
    await asyncio.sleep(0.05)
    assert not task.done() and swallowed == 1
    await asyncio.wait_for(cancel_until_done([task], every_s=0.05), timeout=5)
    assert task.cancelled() and swallowed == 2


async def test_finished_and_cooperative_tasks_end_at_once() -> None:
    done = asyncio.create_task(asyncio.sleep(0))
    await done
    sleeper = asyncio.create_task(asyncio.sleep(60))
    await asyncio.wait_for(cancel_until_done([done, sleeper]), timeout=5)
    assert sleeper.cancelled()
    with contextlib.suppress(asyncio.CancelledError):
        await sleeper
