"""A stream consumer process that the crash test kills with SIGKILL.

It applies purchase events to a ledger kept in Redis, exactly once per eventId
(the idempotent consumer the bus's at-least-once delivery asks for). On the
trap event it applies the event, writes ``TRAPPED`` to stdout and hangs inside
the handler, so the kill lands after the effect and before the acknowledgement:
the worst case for duplicates.

Usage: python killable_consumer.py REDIS_URL KEY_PREFIX STREAM CONSUMER TRAP_ID
"""

from __future__ import annotations

import asyncio
import sys

import redis.asyncio as aioredis

from omnix.streaming import RedisStreamBus, StreamEntry

# Records the delivery, then adds the amount only if the eventId is new; one
# script, so a crash cannot separate "seen" from "applied".
APPLY_ONCE = """
redis.call('RPUSH', KEYS[3], ARGV[1])
if redis.call('SADD', KEYS[1], ARGV[1]) == 1 then
  redis.call('INCRBY', KEYS[2], ARGV[2])
  return 1
end
return 0
"""


class Ledger:
    """Revenue per eventId applied once, with every delivery logged.

    ``client`` must decode responses (``decode_responses=True``).
    """

    def __init__(self, client: aioredis.Redis, key_prefix: str) -> None:
        self.client = client
        self.seen_key = f"{key_prefix}ledger:seen"
        self.total_key = f"{key_prefix}ledger:total_cents"
        self.deliveries_key = f"{key_prefix}ledger:deliveries"
        self._script = client.register_script(APPLY_ONCE)

    async def apply(self, entry: StreamEntry) -> bool:
        keys = [self.seen_key, self.total_key, self.deliveries_key]
        args: list[str | int] = [entry.event_id, int(entry.event["amountCents"])]
        return bool(await self._script(keys=keys, args=args))

    async def total_cents(self) -> int:
        return int(await self.client.get(self.total_key) or 0)

    async def seen(self) -> set[str]:
        return {str(m) for m in await self.client.smembers(self.seen_key)}

    async def deliveries(self) -> list[str]:
        return [str(d) for d in await self.client.lrange(self.deliveries_key, 0, -1)]


async def main(
    redis_url: str, key_prefix: str, stream: str, consumer: str, trap: str
) -> None:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    ledger = Ledger(client, key_prefix)
    bus = RedisStreamBus(redis_url, key_prefix=key_prefix, claim_idle_ms=60_000)

    async def handler(entry: StreamEntry) -> None:
        await ledger.apply(entry)
        if entry.event_id == trap:
            sys.stdout.write("TRAPPED\n")
            sys.stdout.flush()
            await asyncio.Event().wait()  # hang until SIGKILL

    await bus.consume(
        stream, consumer, handler, stop=asyncio.Event(), batch_size=10, block_ms=100
    )


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
