"""The production event bus: Redis Streams with consumer groups.

Keys, for a stream ``orders`` under the default prefix ``omnix:``:

* ``omnix:{orders}``: the stream; each entry holds ``event`` (the JSON event)
  and ``published_at`` (publisher's wall clock, epoch seconds);
* ``omnix:{orders}:dead``: its dead letters;
* ``omnix:{orders}:errors``: a hash ``<group>:<entry id>`` -> last handler
  error, kept only while an entry is failing, so that whichever process gives
  the entry up can write the error into the dead letter;
* ``omnix:streams``: the set of stream names, for ``list_streams``.

The braces are a Redis Cluster hash tag: the keys of one stream live on one
node, so moving an entry to the dead letters is a single MULTI transaction.
Needs Redis 7.0 or later (XAUTOCLAIM's deleted-entries reply, the group lag).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
import redis.asyncio as aioredis
import structlog
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from omnix.streaming.bus import (
    DEAD_LETTER_SUFFIX,
    DEFAULT_GROUP,
    ConsumerInfo,
    DeadLetter,
    StreamEntry,
    StreamInfo,
    StreamNotFoundError,
    check_consumer_name,
    check_stream_name,
    decode_event,
    describe_error,
    encode_event,
)
from omnix.streaming.bus_base import StreamBusBase

log = structlog.get_logger(__name__)

_NO_ERROR = "no error recorded: the consumer stopped or died inside the handler"

# Deletes a consumer only if it owns no pending entry (else returns -1).
_FORGET_IF_IDLE = """
local owned = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if #owned > 0 then return -1 end
return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
"""

Row = tuple[str, dict[str, str]]


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _rows(raw: Any) -> list[Row]:
    """(id, fields) pairs of a stream reply, skipping entries deleted meanwhile."""
    return [
        (_text(entry_id), {_text(k): _text(v) for k, v in fields.items()})
        for entry_id, fields in raw or []
        if fields
    ]


def _read_rows(reply: Any) -> list[Row]:
    """Entries of an XREADGROUP reply on one stream (RESP2: [[key, entries]])."""
    return _rows(reply[0][1]) if reply else []


def _lag(group_row: dict[str, Any] | None, length: int) -> int | None:
    """The group's lag; without a group nothing was delivered, so all is owed."""
    if group_row is None:
        return length
    lag = group_row.get("lag")
    return None if lag is None else int(lag)


class RedisStreamBus(StreamBusBase):
    """Event bus over Redis Streams; see ``StreamBusBase`` for the guarantees."""

    transient_errors = (RedisConnectionError, RedisTimeoutError)

    def __init__(
        self,
        redis_url: str,
        *,
        key_prefix: str = "omnix:",
        group: str = DEFAULT_GROUP,
        claim_idle_ms: int = 60_000,
        max_deliveries: int = 5,
        max_length: int | None = 100_000,
        metrics_window_s: float = 60.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        options: dict[str, Any] = {} if clock is None else {"clock": clock}
        super().__init__(
            group=group,
            claim_idle_ms=claim_idle_ms,
            max_deliveries=max_deliveries,
            max_length=max_length,
            metrics_window_s=metrics_window_s,
            **options,
        )
        self.key_prefix = key_prefix
        # RESP2 pinned: the reply shapes parsed here are those of protocol 2.
        self._redis = aioredis.Redis.from_url(
            redis_url, decode_responses=True, protocol=2
        )
        self._forget_if_idle = self._redis.register_script(_FORGET_IF_IDLE)

    def _key(self, stream: str) -> str:
        return f"{self.key_prefix}{{{check_stream_name(stream)}}}"

    def _dead_key(self, stream: str) -> str:
        return self._key(stream) + DEAD_LETTER_SUFFIX

    def _errors_key(self, stream: str) -> str:
        return self._key(stream) + ":errors"

    @property
    def _registry_key(self) -> str:
        return f"{self.key_prefix}streams"

    async def create_stream(self, name: str, *, group: str | None = None) -> None:
        """Create the stream and its consumer group; no-op when both exist."""
        group = check_consumer_name(group or self.group)
        key = self._key(name)
        await self._redis.sadd(self._registry_key, name)
        try:
            # From "0": a group created after the first publish still gets them.
            await self._redis.xgroup_create(key, group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def list_streams(self) -> list[str]:
        """Names of the streams created or published to, sorted."""
        names = await self._redis.smembers(self._registry_key)
        return sorted(_text(name) for name in names)

    async def publish_many(
        self, stream: str, events: Sequence[Mapping[str, Any]]
    ) -> list[str]:
        """Append events in order, in one transaction; return their entry ids."""
        key = self._key(stream)
        payloads = [encode_event(event) for event in events]  # all checked first
        if not payloads:
            return []
        published_at = repr(self.clock())
        pipe = self._redis.pipeline(transaction=True)
        pipe.sadd(self._registry_key, stream)
        for payload in payloads:
            pipe.xadd(
                key,
                {"event": payload, "published_at": published_at},
                maxlen=self.max_length,
                approximate=True,
            )
        replies = await pipe.execute()
        return [str(entry_id) for entry_id in replies[1:]]

    async def stream_info(self, stream: str, *, group: str | None = None) -> StreamInfo:
        """Length, pending, lag, consumers, dead letters and local metrics."""
        group = group or self.group
        key = self._key(stream)
        if not await self._redis.exists(key):
            raise StreamNotFoundError(f"stream {stream!r} does not exist")
        pipe = self._redis.pipeline(transaction=False)
        pipe.xinfo_stream(key)
        pipe.xinfo_groups(key)
        pipe.xlen(self._dead_key(stream))
        summary, groups, dead_length = await pipe.execute()
        ours = next((g for g in groups if g["name"] == group), None)
        consumers: tuple[ConsumerInfo, ...] = ()
        if ours is not None:
            rows = await self._redis.xinfo_consumers(key, group)
            consumers = tuple(
                ConsumerInfo(name=r["name"], pending=r["pending"], idle_ms=r["idle"])
                for r in rows
            )
        first, last = summary.get("first-entry"), summary.get("last-entry")
        return StreamInfo(
            stream=stream,
            group=group,
            length=int(summary["length"]),
            pending=int(ours["pending"]) if ours else 0,
            lag=_lag(ours, int(summary["length"])),
            consumers=consumers,
            first_entry_id=first[0] if first else None,
            last_entry_id=last[0] if last else None,
            dead_letter_length=int(dead_length),
            processing=self.processing_metrics(stream, group=group),
        )

    async def read_dead_letters(
        self, stream: str, *, count: int = 100
    ) -> list[DeadLetter]:
        """The oldest ``count`` dead letters of the stream."""
        rows = _rows(await self._redis.xrange(self._dead_key(stream), count=count))
        return [
            DeadLetter(
                dead_letter_id=dead_id,
                stream=stream,
                entry_id=fields["entry_id"],
                group=fields["group"],
                event=orjson.loads(fields["event"]),
                error=fields["error"],
                deliveries=int(fields["deliveries"]),
                consumer=fields["consumer"],
                dead_at=float(fields["dead_at"]),
            )
            for dead_id, fields in rows
        ]

    async def forget_idle_consumers(
        self, stream: str, *, idle_ms: int, group: str | None = None
    ) -> list[str]:
        """Remove consumers idle >= ``idle_ms`` that hold no pending entry.

        Names like ``<host>-<pid>`` pile up in the group as processes restart.
        Deleting a consumer drops its pending entries from the group for good,
        so the "no pending entry" check and the deletion run as one script.
        """
        group = group or self.group
        key = self._key(stream)
        try:
            rows = await self._redis.xinfo_consumers(key, group)
        except ResponseError:
            return []  # no such stream or group: nobody to forget
        forgotten = []
        for row in rows:
            if int(row["idle"]) < idle_ms or int(row["pending"]) > 0:
                continue
            name = _text(row["name"])
            if int(await self._forget_if_idle(keys=[key], args=[group, name])) >= 0:
                forgotten.append(name)
        return forgotten

    async def delete_stream(self, name: str) -> None:
        """Delete the stream, its groups, dead letters and recorded errors."""
        await self._redis.delete(
            self._key(name), self._dead_key(name), self._errors_key(name)
        )
        await self._redis.srem(self._registry_key, name)
        self._forget_meters(name)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()

    async def _read_new(
        self, stream: str, group: str, consumer: str, count: int, block_ms: int
    ) -> list[StreamEntry]:
        key = self._key(stream)
        try:
            reply = await self._redis.xreadgroup(
                group, consumer, {key: ">"}, count=count, block=block_ms
            )
        except ResponseError as exc:
            # The stream was deleted under a running consumer: start it afresh.
            if "NOGROUP" not in str(exc):
                raise
            await self.create_stream(stream, group=group)
            return []
        return await self._decode(stream, group, consumer, _read_rows(reply), {})

    async def _claim_idle(
        self,
        stream: str,
        group: str,
        consumer: str,
        cursor: str,
        count: int,
        min_idle_ms: int,
    ) -> tuple[str, list[StreamEntry]]:
        key = self._key(stream)
        reply: Any = await self._redis.xautoclaim(
            key, group, consumer, min_idle_ms, start_id=cursor, count=count
        )
        next_cursor, rows, deleted = _text(reply[0]), _rows(reply[1]), reply[2]
        if deleted:
            # Trimmed away before anyone handled them: Redis already dropped
            # them from the pending list; drop their errors and say so.
            lost = [_text(entry_id) for entry_id in deleted]
            await self._redis.hdel(
                self._errors_key(stream), *[f"{group}:{i}" for i in lost]
            )
            log.warning("stream.pending_entries_trimmed", stream=stream, ids=lost)
        if not rows:
            return next_cursor, []
        # XAUTOCLAIM does not return delivery counts; one XPENDING per entry,
        # in a single round trip, does.
        pipe = self._redis.pipeline(transaction=False)
        for entry_id, _ in rows:
            pipe.xpending_range(key, group, min=entry_id, max=entry_id, count=1)
        counts = {
            found[0]["message_id"]: int(found[0]["times_delivered"])
            for found in await pipe.execute()
            if found
        }
        return next_cursor, await self._decode(stream, group, consumer, rows, counts)

    async def _decode(
        self,
        stream: str,
        group: str,
        consumer: str,
        rows: list[Row],
        counts: dict[str, int],
    ) -> list[StreamEntry]:
        entries = []
        for entry_id, fields in rows:
            try:
                event = decode_event(fields["event"])
                published_at = float(fields["published_at"])
            except (KeyError, ValueError) as exc:
                # Written by something other than this bus: no handler can use it.
                await self._bury(
                    stream, group, consumer, entry_id, fields, describe_error(exc), 1
                )
                continue
            entries.append(
                StreamEntry(
                    stream=stream,
                    entry_id=entry_id,
                    event=event,
                    published_at=published_at,
                    delivery_count=counts.get(entry_id, 1),
                )
            )
        return entries

    async def _ack(self, entry: StreamEntry, group: str) -> None:
        key = self._key(entry.stream)
        if entry.delivery_count == 1:
            await self._redis.xack(key, group, entry.entry_id)
            return
        # A redelivered entry may have an error recorded: forget it too.
        pipe = self._redis.pipeline(transaction=True)
        pipe.xack(key, group, entry.entry_id)
        pipe.hdel(self._errors_key(entry.stream), f"{group}:{entry.entry_id}")
        await pipe.execute()

    async def _ack_many(self, entries: Sequence[StreamEntry], group: str) -> None:
        """One XACK per stream (and the redelivered entries' errors dropped)."""
        pipe = self._redis.pipeline(transaction=True)
        for stream in {entry.stream for entry in entries}:
            mine = [e for e in entries if e.stream == stream]
            pipe.xack(self._key(stream), group, *[e.entry_id for e in mine])
            retried = [f"{group}:{e.entry_id}" for e in mine if e.delivery_count > 1]
            if retried:
                pipe.hdel(self._errors_key(stream), *retried)
        await pipe.execute()

    async def _note_failure(self, entry: StreamEntry, group: str, error: str) -> None:
        await self._redis.hset(
            self._errors_key(entry.stream), f"{group}:{entry.entry_id}", error
        )

    async def _dead_letter(self, entry: StreamEntry, group: str, consumer: str) -> None:
        error = await self._redis.hget(
            self._errors_key(entry.stream), f"{group}:{entry.entry_id}"
        )
        await self._bury(
            entry.stream,
            group,
            consumer,
            entry.entry_id,
            {"event": orjson.dumps(entry.event).decode()},
            _text(error) if error else _NO_ERROR,
            entry.delivery_count - 1,
        )

    async def _bury(
        self,
        stream: str,
        group: str,
        consumer: str,
        entry_id: str,
        fields: Mapping[str, str],
        error: str,
        deliveries: int,
    ) -> None:
        """Move one entry to the dead letters and acknowledge it, atomically."""
        event = fields.get("event")
        if event is None:
            event = orjson.dumps({"unreadableEntry": dict(fields)}).decode()
        pipe = self._redis.pipeline(transaction=True)
        pipe.xadd(
            self._dead_key(stream),
            {
                "event": event,
                "entry_id": entry_id,
                "group": group,
                "error": error,
                "deliveries": deliveries,
                "consumer": consumer,
                "dead_at": repr(self.clock()),
            },
            maxlen=self.max_length,
            approximate=True,
        )
        pipe.xack(self._key(stream), group, entry_id)
        pipe.hdel(self._errors_key(stream), f"{group}:{entry_id}")
        await pipe.execute()
