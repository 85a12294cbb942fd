"""Report by exception: a tag with ``deadband`` or ``max_silence_s`` is sent only when its
value moved by more than the deadband, its quality changed, or it has been silent for
``max_silence_s``. The repeated value is always the one just read, never a cached one."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from edge_producer.config import TagConfig
from streams.events import Quality, Reading


@dataclass
class _Sent:
    value: object
    quality: Quality
    at: float


class ReportFilter:
    """Decides, reading by reading, what goes into a scan."""

    def __init__(self, tags: Iterable[TagConfig]) -> None:
        self._rules = {t.name: t for t in tags
                       if t.deadband is not None or t.max_silence_s is not None}
        self._sent: dict[str, _Sent] = {}

    def keep(self, reading: Reading, now: float) -> bool:
        tag = self._rules.get(reading.tag)
        if tag is None:
            return True
        last = self._sent.get(reading.tag)
        if last is None or self._changed(tag, last, reading) or (
                tag.max_silence_s is not None and now - last.at >= tag.max_silence_s):
            self._sent[reading.tag] = _Sent(reading.value, reading.quality, now)
            return True
        return False

    @staticmethod
    def _changed(tag: TagConfig, last: _Sent, reading: Reading) -> bool:
        if reading.quality is not last.quality:
            return True
        new, old = reading.value, last.value
        numeric = (isinstance(new, int | float) and isinstance(old, int | float)
                   and not isinstance(new, bool) and not isinstance(old, bool))
        if numeric:
            return abs(float(new) - float(old)) > (tag.deadband or 0.0)  # type: ignore[arg-type]
        return new != old

    def select(self, readings: Iterable[Reading], now: float) -> list[Reading]:
        return [r for r in readings if self.keep(r, now)]
