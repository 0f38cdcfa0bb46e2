"""Processing metrics: nearest-rank percentiles and the sliding window."""

from __future__ import annotations

import numpy as np
import pytest

from omnix.streaming.bus_metrics import ProcessingMeter, nearest_rank


class DrivenClock:
    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("n", [1, 2, 7, 100, 1001])
@pytest.mark.parametrize("q", [50, 95, 99])
def test_nearest_rank_matches_numpy_inverted_cdf(n: int, q: float) -> None:
    rng = np.random.default_rng(20171101 + n)
    sample = np.sort(rng.lognormal(mean=3.0, sigma=0.8, size=n))
    expected = np.percentile(sample, q, method="inverted_cdf")
    assert nearest_rank(sample.tolist(), q) == pytest.approx(float(expected))


def test_nearest_rank_golden_values() -> None:
    one_to_hundred = [float(v) for v in range(1, 101)]
    assert [nearest_rank(one_to_hundred, q) for q in (50, 95, 99, 100)] == [
        50.0,
        95.0,
        99.0,
        100.0,
    ]
    # Always an observed value: 20 ms, not an interpolated 25 ms.
    assert nearest_rank([10.0, 20.0, 30.0, 40.0], 50) == 20.0
    with pytest.raises(ValueError, match="at least one"):
        nearest_rank([], 50)
    with pytest.raises(ValueError, match="percentile"):
        nearest_rank([1.0], 0)


def test_meter_counts_the_window_and_forgets_what_slid_out() -> None:
    clock = DrivenClock()
    meter = ProcessingMeter("till-1", window_s=10.0, clock=clock)
    clock.now += 100  # a consumer older than its window
    for _ in range(20):  # one event a second, each 40 ms after publish
        clock.now += 1
        meter.record_handled(clock.now - 0.040)
    metrics = meter.snapshot()
    # Events done in (now - 10 s, now]: the last ten.
    assert metrics.window_events == 10
    assert metrics.throughput_per_s == pytest.approx(1.0)
    assert metrics.latency_p50_ms == pytest.approx(40.0)
    assert metrics.handled_total == 20

    clock.now += 10
    idle = meter.snapshot()
    assert (idle.window_events, idle.throughput_per_s, idle.latency_p95_ms) == (
        0,
        None,
        None,
    )
    assert idle.handled_total == 20


def test_young_consumer_is_rated_over_its_own_life() -> None:
    clock = DrivenClock()
    meter = ProcessingMeter("till-1", window_s=60.0, clock=clock)
    clock.now += 2.0
    for _ in range(10):
        meter.record_handled(clock.now - 0.001)
    assert meter.snapshot().throughput_per_s == pytest.approx(5.0)


def test_meter_counters_and_clock_skew() -> None:
    clock = DrivenClock()
    meter = ProcessingMeter("till-1", clock=clock)
    assert meter.snapshot().latency_p50_ms is None  # insufficient data, not NaN
    meter.record_failed()
    meter.record_claimed(3)
    meter.record_dead_lettered()
    clock.now += 1
    meter.record_handled(clock.now + 0.5)  # publisher clock half a second ahead
    metrics = meter.snapshot()
    assert (metrics.failed_total, metrics.claimed_total) == (1, 3)
    assert metrics.dead_lettered_total == 1
    assert metrics.latency_p99_ms == 0.0
    with pytest.raises(ValueError, match="window_s"):
        ProcessingMeter("till-1", window_s=0)
