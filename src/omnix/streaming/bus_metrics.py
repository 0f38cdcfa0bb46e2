"""Processing metrics of one stream consumer, kept in the consumer's process.

Nothing here is shared between processes: each ``omnix serve`` or ``omnix worker``
process measures the consumers it runs. A fleet-wide figure is the sum of the
throughputs, while percentiles of several processes cannot be combined exactly
(each process reports its own).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProcessingMetrics:
    """A consumer's counters since it started and its figures over the window.

    ``throughput_per_s`` and the latency percentiles are None ("insufficient
    data") when no entry was handled within the window.
    """

    consumer: str
    handled_total: int
    failed_total: int
    claimed_total: int
    dead_lettered_total: int
    window_s: float
    window_events: int
    throughput_per_s: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None


def nearest_rank(sorted_values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile by the nearest-rank method.

    The smallest sample with at least ``q`` percent of the samples at or below
    it: ``x[ceil(q / 100 * n)]`` (1-based), as in Hyndman & Fan (1996)
    definition 1, NumPy's ``method="inverted_cdf"``. It is always an observed
    latency, never an interpolation between two.
    """
    if not sorted_values:
        raise ValueError("nearest_rank needs at least one value")
    if not 0 < q <= 100:
        raise ValueError(f"percentile q must be in (0, 100], got {q}")
    rank = math.ceil(q / 100 * len(sorted_values))
    return float(sorted_values[max(rank, 1) - 1])


class ProcessingMeter:
    """Counts and latencies of one consumer over a sliding time window.

    Latency runs from the publisher's clock at publish time to this process's
    clock when the handler returned. Across machines it therefore includes
    clock skew; a negative difference (a publisher clock ahead) counts as 0.
    """

    def __init__(
        self,
        consumer: str,
        *,
        window_s: float = 60.0,
        clock: Callable[[], float] = time.time,
        max_samples: int = 200_000,
    ) -> None:
        if window_s <= 0:
            raise ValueError(f"window_s must be > 0, got {window_s}")
        self.consumer = consumer
        self.window_s = window_s
        self._clock = clock
        self._started_at = clock()
        # (handler done at, latency in seconds), oldest first; the cap bounds
        # memory at very high rates, where the window then covers less time.
        self._samples: deque[tuple[float, float]] = deque(maxlen=max_samples)
        self.handled_total = 0
        self.failed_total = 0
        self.claimed_total = 0
        self.dead_lettered_total = 0

    def record_handled(self, published_at: float) -> None:
        now = self._clock()
        self.handled_total += 1
        self._samples.append((now, max(now - published_at, 0.0)))
        self._drop_expired(now)

    def record_failed(self) -> None:
        self.failed_total += 1

    def record_claimed(self, count: int) -> None:
        self.claimed_total += count

    def record_dead_lettered(self) -> None:
        self.dead_lettered_total += 1

    def snapshot(self) -> ProcessingMetrics:
        now = self._clock()
        self._drop_expired(now)
        latencies_ms = sorted(latency * 1000 for _, latency in self._samples)
        # A consumer younger than the window is rated over its own lifetime,
        # otherwise its first minute would read as a fraction of its real rate.
        span_s = min(self.window_s, now - self._started_at)
        throughput: float | None = None
        p50 = p95 = p99 = None
        if latencies_ms and span_s > 0:
            throughput = len(latencies_ms) / span_s
        if latencies_ms:
            p50 = nearest_rank(latencies_ms, 50)
            p95 = nearest_rank(latencies_ms, 95)
            p99 = nearest_rank(latencies_ms, 99)
        return ProcessingMetrics(
            consumer=self.consumer,
            handled_total=self.handled_total,
            failed_total=self.failed_total,
            claimed_total=self.claimed_total,
            dead_lettered_total=self.dead_lettered_total,
            window_s=self.window_s,
            window_events=len(latencies_ms),
            throughput_per_s=throughput,
            latency_p50_ms=p50,
            latency_p95_ms=p95,
            latency_p99_ms=p99,
        )

    def _drop_expired(self, now: float) -> None:
        horizon = now - self.window_s
        while self._samples and self._samples[0][0] <= horizon:
            self._samples.popleft()
