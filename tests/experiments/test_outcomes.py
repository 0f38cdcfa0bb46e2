"""Outcome scoring and per-customer units, on hand-made frames."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from omnix.experiments.outcomes import (
    CALL_SCHEMA,
    DATE_SCHEMA,
    PURCHASE_SCHEMA,
    RECOMMENDATION_SCHEMA,
    score_outcomes,
)
from omnix.experiments.results import (
    CALL_SCHEMA as LEDGER_SCHEMA,
)
from omnix.experiments.results import (
    call_units,
    compare_units,
    performance,
    units_frame,
)

CUTOFF = datetime(2017, 11, 1, tzinfo=UTC)
NOW = datetime(2018, 1, 1, tzinfo=UTC)


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2017, 11, day, hour, tzinfo=UTC)


def frames() -> tuple[pl.DataFrame, ...]:
    calls = pl.DataFrame(
        [
            ("X", "A", CUTOFF, CUTOFF, True, True),
            ("Z", "B", CUTOFF, CUTOFF, True, True),
            ("W", "B", CUTOFF, CUTOFF, True, True),
            # Analysed a week before "now": its 14-day window is still open.
            ("Y", "A", NOW - timedelta(days=7), NOW, True, True),
        ],
        schema=CALL_SCHEMA,
        orient="row",
    )
    dates = pl.DataFrame(
        [
            ("X", "P1", date(2017, 11, 5)),
            ("X", "P2", date(2017, 11, 12)),
            ("X", "P5", date(2017, 11, 1)),
            ("Z", "P1", date(2017, 11, 2)),
            ("W", "P1", date(2017, 11, 20)),
            ("Y", "P1", date(2017, 12, 30)),
        ],
        schema=DATE_SCHEMA,
        orient="row",
    )
    recommended = pl.DataFrame(
        [("X", "P1"), ("X", "P2"), ("X", "P4"), ("Z", "P9")],
        schema=RECOMMENDATION_SCHEMA,
        orient="row",
    )
    purchases = pl.DataFrame(
        [
            ("X", "P1", at(10)),
            ("X", "P1", at(3)),  # the first purchase in the window counts
            ("X", "P2", at(20)),  # after the 14-day window
            ("X", "P3", datetime(2017, 10, 30, tzinfo=UTC)),  # before the call
            ("X", "P5", CUTOFF),  # at the cut-off itself: not after it
            ("X", "P4", CUTOFF + timedelta(days=14)),  # the window's last instant
            ("W", "P1", datetime(2017, 11, 4, 2, tzinfo=UTC)),
            ("Y", "P1", datetime(2017, 12, 29, tzinfo=UTC)),
        ],
        schema=PURCHASE_SCHEMA,
        orient="row",
    )
    return calls, dates, recommended, purchases


def test_outcomes_are_scored_within_the_window_after_the_call() -> None:
    scored, pending = score_outcomes(*frames(), window_days=14, now=NOW, timezone="UTC")
    rows = {row["customer_id"]: row for row in scored.iter_rows(named=True)}
    assert pending == 1
    assert set(rows) == {"X", "Z", "W"}
    # X: P1 first bought on the 3rd (predicted the 5th: 2 days); P2 and P5
    # not bought in the window; P1 and P4 of three recommendations bought.
    assert rows["X"]["date_error_days"] == 2.0
    assert rows["X"]["hit_share"] == pytest.approx(2 / 3)
    assert rows["X"]["any_hit"] == 1.0
    # Z bought nothing: no date to score, no recommendation bought.
    assert (rows["Z"]["date_error_days"], rows["Z"]["hit_share"]) == (None, 0.0)
    assert rows["Z"]["any_hit"] == 0.0
    # W had no recommendations: no hit rate, rather than a rate of zero.
    assert (rows["W"]["hit_share"], rows["W"]["any_hit"]) == (None, None)
    assert rows["W"]["date_error_days"] == 16.0


def test_purchase_days_are_store_days() -> None:
    scored, _ = score_outcomes(
        *frames(), window_days=14, now=NOW, timezone="America/New_York"
    )
    w = scored.filter(pl.col("customer_id") == "W").row(0, named=True)
    # 02:00 UTC on the 4th is the evening of the 3rd in New York.
    assert w["date_error_days"] == 17.0


def test_nothing_is_scored_before_the_window_closes() -> None:
    scored, pending = score_outcomes(
        *frames(), window_days=14, now=CUTOFF + timedelta(days=13), timezone="UTC"
    )
    assert (scored.height, pending) == (0, 4)


def _ledger() -> pl.DataFrame:
    return pl.DataFrame(
        [
            # c1 (B): its LLM call failed, the local engine stood in.
            ("c1", "B", True, False, 900.0, None, 0.002, False),
            ("c1", "B", False, True, 50.0, 0.4, 0.0, False),
            # c2 (A): two calls.
            ("c2", "A", True, True, 10.0, 0.5, 0.0, False),
            ("c2", "A", True, True, 30.0, 0.7, 0.0, False),
            # c3 (B): a call of a model without a price.
            ("c3", "B", True, True, 700.0, 0.9, None, True),
        ],
        schema=LEDGER_SCHEMA,
        orient="row",
    )


def test_call_units_count_each_call_once_for_its_arm() -> None:
    units = {r["customer_id"]: r for r in call_units(_ledger()).iter_rows(named=True)}
    assert units["c1"] == {
        "customer_id": "c1", "arm": "B", "calls": 1, "success": 0.0,
        "latency_ms": 900.0, "confidence": None, "token_cost": 0.002,
    }  # fmt: skip
    assert (units["c2"]["calls"], units["c2"]["latency_ms"]) == (2, 20.0)
    assert units["c2"]["confidence"] == pytest.approx(0.6)
    assert units["c3"]["token_cost"] is None  # unknown, not free


def test_performance_describes_calls_not_customers() -> None:
    b = performance(_ledger(), "B")
    assert (b.total_requests, b.customers, b.fallback_requests) == (2, 2, 1)
    assert (b.success_rate, b.average_processing_time) == (0.5, 800.0)
    assert (b.average_token_cost, b.unpriced_requests) == (0.002, 1)
    assert b.average_confidence == 0.9
    empty = performance(_ledger().clear(), "A")
    assert (empty.total_requests, empty.success_rate) == (0, None)


def test_units_join_calls_and_outcomes() -> None:
    outcomes = pl.DataFrame(
        {"customer_id": ["c2", "c4"], "arm": ["A", "A"], "hit_share": [0.5, 0.1]}
    )
    units = units_frame(_ledger(), outcomes)
    assert units.get_column("customer_id").to_list() == ["c2", "c4", "c1", "c3"]
    c4 = units.row(1, named=True)
    assert (c4["calls"], c4["latency_ms"], c4["hit_share"]) == (0, None, 0.1)
    reach, hits = compare_units(
        units, ["recommendation_reach", "recommendation_hit_rate"]
    )
    assert (reach.model_a.n, reach.status) == (0, "insufficient_data")
    assert (hits.model_a.n, hits.model_b.n) == (2, 0)
