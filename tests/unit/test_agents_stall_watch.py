"""The stall watch: a partition behind the log whose committed offset stands still is stalled
after ``after_s`` (seek first, exit if that did not help); progress, catching up and
rebalances reset the wait."""

from __future__ import annotations

from agents.worker.stall_watch import Offsets, Partition, StallWatch

SCANS = Partition("plant.scans.v1", 0)
LAB = Partition("plant.lab-results.v1", 1)


def at(committed: int, end: int, start: int = 0) -> Offsets:
    return Offsets(committed=committed, start=start, end=end)


def test_a_partition_behind_and_still_is_stalled_after_after_s_then_exit() -> None:
    watch = StallWatch(after_s=30)
    assert watch.observe(0, {SCANS: at(100, 500)}) == []
    assert watch.observe(29.9, {SCANS: at(100, 500)}) == []
    (stall,) = watch.observe(30, {SCANS: at(100, 500)})
    assert stall.partition == SCANS and stall.action == "seek" and stall.seek_to == 100
    assert stall.offsets.behind == 400 and stall.still_for_s == 30
    # the seek gets after_s to work before the watch asks for an exit
    assert watch.observe(59, {SCANS: at(100, 500)}) == []
    (again,) = watch.observe(60, {SCANS: at(100, 500)})
    assert again.action == "exit" and again.still_for_s == 30


def test_progress_or_catching_up_resets_the_wait() -> None:
    watch = StallWatch(after_s=30)
    watch.observe(0, {SCANS: at(100, 500)})
    assert watch.observe(29, {SCANS: at(101, 500)}) == []  # moved: a new wait from 29
    assert watch.observe(58, {SCANS: at(101, 500)}) == []
    assert [s.action for s in watch.observe(59, {SCANS: at(101, 500)})] == ["seek"]
    assert watch.observe(70, {SCANS: at(101, 600)}) == []  # sought, then progress...
    assert watch.observe(80, {SCANS: at(120, 600)}) == []
    # ... so the next stall seeks again instead of exiting
    assert [s.action for s in watch.observe(110, {SCANS: at(120, 600)})] == ["seek"]
    # caught up: records arriving later start a new wait
    assert watch.observe(120, {SCANS: at(600, 600)}) == []
    assert watch.observe(149, {SCANS: at(600, 700)}) == []
    assert watch.observe(178, {SCANS: at(600, 700)}) == []
    assert [s.action for s in watch.observe(179, {SCANS: at(600, 700)})] == ["seek"]


def test_an_idle_partition_and_one_without_commits_count_from_the_log_start() -> None:
    watch = StallWatch(after_s=10)
    # no committed offset: behind by what the log holds (from its first offset on)
    assert at(-1, 50, start=20).behind == 30 and at(-1, 20, start=20).behind == 0
    assert watch.observe(0, {SCANS: at(-1, 20, start=20), LAB: at(-1, 0)}) == []
    assert watch.observe(100, {SCANS: at(-1, 20, start=20), LAB: at(-1, 0)}) == []
    watch.observe(100, {SCANS: at(-1, 50, start=20)})
    (stall,) = watch.observe(110, {SCANS: at(-1, 50, start=20)})
    assert stall.seek_to == 20


def test_a_rebalance_or_a_revoked_partition_forgets_the_wait() -> None:
    watch = StallWatch(after_s=10)
    watch.observe(0, {SCANS: at(5, 9), LAB: at(1, 3)})
    watch.pause()
    assert watch.observe(10, {SCANS: at(5, 9), LAB: at(1, 3)}) == []
    assert watch.observe(15, {LAB: at(1, 3)}) == []  # SCANS revoked
    stalls = watch.observe(20, {SCANS: at(5, 9), LAB: at(1, 3)})
    assert [s.partition for s in stalls] == [LAB]  # SCANS waits anew from 20
    later = watch.observe(30, {SCANS: at(5, 9), LAB: at(1, 3)})
    assert {(s.partition, s.action) for s in later} == {(SCANS, "seek"), (LAB, "exit")}
