"""The sentences and headline a manager reads, from hand-made comparisons."""

from __future__ import annotations

from datetime import UTC, datetime

from omnix.engine.experiment_stats import ProportionStats, SampleStats
from omnix.experiments import advice
from omnix.experiments.metrics import METRICS
from omnix.experiments.results import compare_metric, sample_ratio

END = datetime(2018, 1, 15, tzinfo=UTC)
HITS = METRICS["recommendation_hit_rate"]
LATENCY = METRICS["processing_time"]


def reading(primary, others=(), srm=None, status="completed", pending=0):
    return advice.Reading(
        status=status,
        end_date=END,
        name_a="Engine",
        name_b="Baseline",
        primary=primary,
        comparisons=[primary, *others],
        sample_ratio=srm or sample_ratio(500, 510, 0.5),
        pending_outcomes=pending,
        outcome_window_days=14,
    )


def hits(mean_b: float, n: int = 500) -> object:
    a = SampleStats.from_values([0.30, 0.34] * (n // 2))
    b = SampleStats.from_values([mean_b - 0.02, mean_b + 0.02] * (n // 2))
    return compare_metric(HITS, a, b)


def test_a_significant_candidate_is_a_switch_with_its_side_effects():
    slower = compare_metric(
        LATENCY, SampleStats.from_values([60, 70] * 50),
        SampleStats.from_values([90, 100] * 50),
    )  # fmt: skip
    r = reading(hits(0.40), [slower])
    lines = advice.recommendations(r)
    assert lines[0].startswith(
        "Switch to Baseline: recommendation hit rate 40.0% with B"
    )
    assert "+8 points" in lines[0]
    assert lines[1].startswith("Also weigh processing time: Engine is better")
    assert "+30 ms" in lines[1]
    assert advice.headline(r).startswith("Baseline (model B) wins")
    assert advice.ready_to_decide(r)


def test_a_mismatch_overrides_every_metric():
    r = reading(hits(0.40), srm=sample_ratio(720, 280, 0.5))
    assert r.winner == "tie"
    assert advice.recommendations(r)[0].startswith("Do not trust this result")
    assert advice.headline(r) == "Sample ratio mismatch: the result cannot be trusted"
    assert not advice.ready_to_decide(r)


def test_a_tie_says_whether_the_test_was_large_enough():
    small = advice.recommendations(reading(hits(0.32, n=40)))[0]
    assert "only large differences show" in small
    large = compare_metric(
        METRICS["recommendation_reach"],
        ProportionStats(2000, 1000),
        ProportionStats(2000, 1010),
    )
    assert (
        "prefer the cheaper or faster one" in advice.recommendations(reading(large))[0]
    )


def test_running_tests_and_open_windows_are_named():
    lines = advice.recommendations(reading(hits(0.32), status="running", pending=7))
    assert any("runs until 2018-01-15" in line for line in lines)
    assert any(line.startswith("7 customers' 14-day outcome windows") for line in lines)
    assert not advice.ready_to_decide(reading(hits(0.40), pending=1))
