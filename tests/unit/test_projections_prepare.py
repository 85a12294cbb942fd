"""Batches prepared in worker processes: the same rows as routing in the writer, readings
encoded exactly as psycopg's binary COPY, and a fallback when the database already received
one of the batch's edge events."""

from __future__ import annotations

import asyncio
import json
import pickle
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from psycopg._copy_base import BinaryFormatter
from psycopg.adapt import Transformer

from projections.batch import Batch, EdgeEvent, RawMessage, SeqSet, decode_batch, route_batch
from projections.prepare import PreparePool, encode_readings, prepare, rows_given
from projections.rows import READING_COLUMNS, ReadingRow
from projections.values import clean_text, series_id
from streams.codec import decode, encode
from streams.errors import MalformedEventError
from tests.examples import BOOT_ID, PLANT, T0, example_events, scan

_TYPES = ("int8", "timestamptz", "float8", "text", "text")


def _psycopg_copy(rows: list[ReadingRow]) -> bytes:
    transformer = Transformer()
    transformer.set_dumper_types([psycopg.adapters.types.get_oid(t) for t in _TYPES],
                                 psycopg.pq.Format.BINARY)
    formatter = BinaryFormatter(transformer)
    data = b"".join(bytes(formatter.write_row(row)) for row in rows)
    return data + bytes(formatter.end())


#: The text a reading row can hold: decoded from UTF-8 JSON, so Unicode scalar values only (the
#: codec rejects a lone surrogate, see the tests below), and no NUL (``clean_text``).
row_text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"))
reading_rows = st.lists(st.tuples(
    st.integers(min_value=-2**63, max_value=2**63 - 1),
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1),
                 timezones=st.just(UTC)),
    st.none() | st.floats(allow_nan=False, allow_infinity=False),
    st.none() | row_text,
    st.sampled_from(["good", "stale", "comm_fail"])), max_size=20)


@given(reading_rows)
def test_readings_are_encoded_byte_for_byte_as_psycopg_copies_them(
        rows: list[ReadingRow]) -> None:
    assert len(READING_COLUMNS) == len(_TYPES)
    assert encode_readings(rows) == _psycopg_copy(rows)


def _scan_json(tag: str = "chp1.state", value: str = "run", device: str = "plc1",
               seq: int = 0) -> bytes:
    """A scan as another producer may write it: every non-ASCII character as a JSON ``\\u``
    escape, so a string may carry a surrogate escape no UTF-8 text can hold."""
    raw = scan(seq=seq).model_dump(mode="json")
    raw["device"] = device
    raw["readings"][3].update(tag=tag, value=value)
    return json.dumps(raw, ensure_ascii=True).encode()


@given(st.text())  # any code points, lone surrogates and NUL included
@example("\ud800")
@example("x\udfff")
@example("\ud83d\ude00")  # a surrogate pair: one character (U+1F600) once decoded
@example("a\x00b")
def test_text_values_reach_the_copy_intact_or_are_rejected_by_the_contract(text: str) -> None:
    try:  # how a JSON reader reads the escapes: UTF-16 code units, pairs joined
        expected: str | None = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
    except UnicodeDecodeError:
        expected = None  # a lone surrogate: not Unicode text
    message = RawMessage("t", 0, 0, _scan_json(value=text))
    batch = route_batch(decode_batch([message]), SeqSet({}))

    if expected is None:
        with pytest.raises(MalformedEventError, match="surrogate"):
            decode(message.value or b"")
        assert batch.readings == 0 and batch.events == 0
        [(_, _, _, error_type, reason, payload)] = batch.rows.rejected
        assert error_type == "ContractError" and "surrogate" in reason
        assert payload == message.value
    else:
        assert batch.rows.rejected == []
        texts = {sid: value for sid, _, _, value, _ in batch.rows.readings}
        assert texts[series_id(PLANT, "chp1.state")] == clean_text(expected)
    assert prepare([message]).batch.readings_copy == _psycopg_copy(batch.rows.readings)


@pytest.mark.parametrize("bad", [_scan_json(tag="chp1.st\udc80", seq=1),
                                 _scan_json(value="run\ud800", seq=1),
                                 _scan_json(device="plc\udc80", seq=1)],
                         ids=["tag", "value", "device"])
def test_a_lone_surrogate_is_rejected_and_the_rest_of_the_batch_projected(bad: bytes) -> None:
    messages = [RawMessage("t", 0, i, data)
                for i, data in enumerate([_scan_json(seq=0), bad, _scan_json(seq=2)])]
    with pytest.raises(MalformedEventError, match=r"not valid JSON: .*surrogate"):
        decode(bad)

    prepared = prepare(messages)

    assert [(r[2], r[3]) for r in prepared.batch.rows.rejected] == [(1, "ContractError")]
    assert "surrogate" in prepared.batch.rows.rejected[0][4]
    assert prepared.batch.events == 2
    assert prepared.batch.readings == 2 * len(scan().readings)
    expected = route_batch(decode_batch([messages[0], messages[2]]), SeqSet({}))
    assert prepared.batch.readings_copy == _psycopg_copy(expected.rows.readings)


def _messages() -> list[RawMessage]:
    events = [*example_events(), scan(seq=5), scan(seq=5), scan(seq=6, source_ts=T0
                                                                 + timedelta(minutes=3))]
    payloads: list[bytes | None] = [encode(e) for e in events]
    payloads += [b"{", None]
    return [RawMessage("t", i % 2, i, p) for i, p in enumerate(payloads)]


def _rows(batch: Batch) -> dict[str, object]:
    return asdict(batch.rows) | {"positions": batch.positions, "events": batch.events,
                                 "readings": batch.readings}


def test_a_prepared_batch_has_the_rows_the_writer_would_build() -> None:
    messages = _messages()
    prepared = pickle.loads(pickle.dumps(prepare(messages)))  # as a worker hands it back
    expected = route_batch(decode_batch(messages), SeqSet({}))

    assert prepared.batch.readings_copy == encode_readings(expected.rows.readings)
    assert prepared.batch.rows.readings == []
    prepared.batch.rows.readings = expected.rows.readings
    assert _rows(prepared.batch) == _rows(expected)
    assert prepared.days == {T0.date()}
    edge = [e for _, e in decode_batch(messages) if isinstance(e, EdgeEvent)]
    assert len(edge) > len(prepared.accepted)  # the repeated scan is not accepted twice
    assert sorted(prepared.accepted) == sorted({(e.plant_id, e.edge_boot_id, e.seq)
                                                for e in edge})
    assert rows_given(prepared, messages, {}) is prepared.batch


def test_events_received_before_make_the_writer_route_the_batch_again() -> None:
    messages = _messages()
    prepared = prepare(messages)
    received = {("plant-a", BOOT_ID): [(5, 6)]}  # seq 5 was projected by an earlier batch

    again = rows_given(prepared, messages, received)

    assert again is not prepared.batch and again.readings_copy is None
    assert _rows(again) == _rows(route_batch(decode_batch(messages), SeqSet(received)))
    assert again.readings == prepared.batch.readings - len(scan().readings)
    assert again.rows.ledger[("plant-a", BOOT_ID)].delivered == \
        prepared.batch.rows.ledger[("plant-a", BOOT_ID)].delivered


def test_the_pool_prepares_batches_in_other_processes() -> None:
    messages = _messages()

    async def run() -> Batch:
        pool = PreparePool(workers=1)
        try:
            await pool.start()
            return (await (await pool.submit(messages))).batch
        finally:
            await pool.close()

    batch = asyncio.run(run())
    assert _rows(batch) == _rows(prepare(messages).batch)
    assert batch.readings_copy == prepare(messages).batch.readings_copy
