"""Notice an input partition that the worker has stopped consuming although the log has more.

A worker can stop handing one partition's records to its agent while everything else looks
healthy: the partition stays assigned, no error is raised, the stream waits forever. Seen in
Faust workers restarted after a crash (``agents/README.md``, "Stalls"): the records were taken
from aiokafka's fetcher (its position at the log's end) but never reached the stream, and
nothing seeks back. Plant detection would then stop without a word. The watch compares, for
every input partition assigned to this worker, the group's committed offset with the log's
end: a partition that is behind and whose committed offset has not moved for ``after_s``
(rebalances and table recovery excluded) is stalled, unless what lies beyond its committed
offset is only transaction markers (the caller asks the broker, :meth:`StallWatch.forget`:
commands appended in transactions leave one after every batch). The first time, the worker
seeks it back to its committed offset (the records are fetched and delivered again; scans
already applied are skipped by their ``seq``); if it is still stalled ``after_s`` later, the
worker exits with
:data:`EXIT_STALLED` for its supervisor to restart it: its state and offsets are on the log,
and a restart after ``kill -9`` loses and repeats nothing (the restart test shows it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

#: The worker's exit code when an input stalled (``EX_TEMPFAIL``: restart me).
EXIT_STALLED = 75


@dataclass(frozen=True, order=True)
class Partition:
    topic: str
    partition: int

    def __str__(self) -> str:
        return f"{self.topic}:{self.partition}"


@dataclass(frozen=True)
class Offsets:
    """Where a partition stands: the group's committed offset (-1 if none), the log's first
    and next offsets."""

    committed: int
    start: int
    end: int

    @property
    def behind(self) -> int:
        """Records on the log that the group has not yet committed."""
        return max(0, self.end - max(self.committed, self.start))


@dataclass(frozen=True)
class Stall:
    """A stalled partition and what to do: ``seek`` it back to its committed offset the
    first time, ``exit`` when that did not help."""

    partition: Partition
    offsets: Offsets
    still_for_s: float
    action: Literal["seek", "exit"]

    @property
    def seek_to(self) -> int:
        """Where the partition's records start again: its committed offset (or the log's
        first one when the group has none)."""
        return max(self.offsets.committed, self.offsets.start)


@dataclass
class _Track:
    committed: int
    since: float
    sought: bool = False


class StallWatch:
    """Decides, from successive observations, which partitions are stalled."""

    def __init__(self, after_s: float) -> None:
        self.after_s = after_s
        self._tracks: dict[Partition, _Track] = {}

    def pause(self) -> None:
        """Forget what was seen (a rebalance or recovery is under way: nothing is committed
        then, and that is no stall)."""
        self._tracks.clear()

    def forget(self, partition: Partition) -> None:
        """The partition turned out to hold nothing to consume beyond its committed offset
        (only transaction markers): it is caught up, and its next wait starts afresh."""
        self._tracks.pop(partition, None)

    def sought_back(self) -> list[Partition]:
        """Partitions sought back that have not moved since (still stalled)."""
        return sorted(p for p, track in self._tracks.items() if track.sought)

    def observe(self, now: float, seen: Mapping[Partition, Offsets]) -> list[Stall]:
        """Take the offsets of the partitions assigned now; return those stalled."""
        for gone in set(self._tracks) - set(seen):
            del self._tracks[gone]
        stalls = []
        for partition, offsets in sorted(seen.items()):
            if offsets.behind == 0:  # caught up: the next record starts a new wait
                self._tracks.pop(partition, None)
                continue
            track = self._tracks.get(partition)
            if track is None or track.committed != offsets.committed:
                self._tracks[partition] = _Track(offsets.committed, now)
                continue
            if now - track.since >= self.after_s:
                stalls.append(Stall(partition, offsets, now - track.since,
                                    "exit" if track.sought else "seek"))
                track.since, track.sought = now, True  # the seek gets after_s to work
        return stalls
