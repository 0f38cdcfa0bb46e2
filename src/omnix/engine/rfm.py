"""RFM scores, the 125-cell segment table, assignment confidence, migrations.

Scores
------
Each of recency (days since the last order), frequency (orders) and
monetary (spend) gets a score 1-5 by rank-based quintiles over the customers
passed in, who should be the customers with at least one purchase. With
``n`` customers and the *minimum rank* of a value (one plus the number of
customers with a strictly worse value),

    score = 1 + floor(5 * (rank_min - 1) / n)

so equal values always share a score (ties never break a bin), the worst
value always scores 1, and no score exceeds 5. Worse means fewer orders, less
spend, or *more* days since the last order. In SQL, with integer division
(SQLite and PostgreSQL both truncate ``bigint / bigint``)::

    1 + (5 * (rank() OVER (ORDER BY recency_days DESC) - 1)) / count(*) OVER ()
    1 + (5 * (rank() OVER (ORDER BY order_count ASC) - 1)) / count(*) OVER ()
    1 + (5 * (rank() OVER (ORDER BY total_spend ASC) - 1)) / count(*) OVER ()

Ties must be exact on both sides: use whole store-time-zone days for recency
and spend rounded to cents. The percentile behind a score,
``(rank_min - 1) / n`` in [0, 1), is ``(rank() OVER (...) - 1) * 1.0 /
count(*) OVER ()`` in SQL; score s covers percentiles [(s-1)/5, s/5).

Segments
--------
Customers whose first purchase is younger than ``new_customer_days`` are New
Customers whatever their scores. Customers with no purchase are New Customers
while their account is that young and Lost afterwards. Everyone else takes the
segment of their (R, F, M) cell; the cell table comes from the catalogue's
criteria in priority order (:mod:`omnix.engine.segments_catalogue`).

Confidence
----------
For a scored customer, the confidence is the Euclidean distance, in
percentile units, from the point (R, F, M percentiles) to the nearest cell of
a different segment, divided by one quintile width (0.2) and capped at 1: a
customer sitting on a boundary gets 0, one a full quintile away from any other
segment gets 1. For New Customers it is the share of the new-customer window
still ahead, ``(new_customer_days - tenure_days) / new_customer_days``;
customers who never bought and are past the window are Lost with confidence 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from omnix.engine.segments_catalogue import BY_PRIORITY, SEGMENTS, get_segment

LEVELS = 5
QUINTILE_WIDTH = 1.0 / LEVELS
DEFAULT_NEW_CUSTOMER_DAYS = 30

SEGMENT_IDS: tuple[str, ...] = tuple(segment.segment_id for segment in SEGMENTS)
_CODE = {segment_id: code for code, segment_id in enumerate(SEGMENT_IDS)}
_NEW, _LOST = _CODE["new_customers"], _CODE["lost"]


def cell_segment(r: int, f: int, m: int) -> str:
    """Segment of an established customer's (R, F, M) cell, by priority."""
    for segment in BY_PRIORITY:
        if any(box.contains(r, f, m) for box in segment.criteria.rfm_boxes):
            return segment.segment_id
    raise ValueError(f"cell ({r}, {f}, {m}) is outside 1..5 or not covered")


# Codes of the 125 cells, indexed [r-1, f-1, m-1]; built once from the catalogue.
_CELLS = np.array(
    [
        [[_CODE[cell_segment(r, f, m)] for m in range(1, 6)] for f in range(1, 6)]
        for r in range(1, 6)
    ],
    dtype=np.int8,
)


@dataclass(frozen=True)
class RfmPositions:
    """Scores (1-5) and the percentiles in [0, 1) they were cut from."""

    r: NDArray[np.int64]
    f: NDArray[np.int64]
    m: NDArray[np.int64]
    r_pct: NDArray[np.float64]
    f_pct: NDArray[np.float64]
    m_pct: NDArray[np.float64]


def _min_rank_from_worst(
    values: NDArray[np.float64], higher_is_better: bool
) -> NDArray[np.int64]:
    """One plus the number of strictly worse values (SQL ``rank()``)."""
    ordered = np.sort(values)
    if higher_is_better:
        worse = np.searchsorted(ordered, values, side="left")
    else:
        worse = values.size - np.searchsorted(ordered, values, side="right")
    return worse.astype(np.int64) + 1


def _column(name: str, values: ArrayLike) -> NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def rfm_positions(
    recency_days: ArrayLike, frequency: ArrayLike, monetary: ArrayLike
) -> RfmPositions:
    """Scores and percentiles for a population, one entry per customer.

    Parameters
    ----------
    recency_days : array of float
        Days since the customer's last order (>= 0); fewer is better.
    frequency : array of float
        Number of orders; more is better.
    monetary : array of float
        Total spend; more is better.
    """
    recency = _column("recency_days", recency_days)
    orders = _column("frequency", frequency)
    spend = _column("monetary", monetary)
    if not recency.size == orders.size == spend.size:
        raise ValueError("recency_days, frequency and monetary differ in length")
    if (recency < 0).any():
        raise ValueError("recency_days must be >= 0 (is the clock behind the data?)")

    n = recency.size
    ranks = (
        _min_rank_from_worst(recency, higher_is_better=False),
        _min_rank_from_worst(orders, higher_is_better=True),
        _min_rank_from_worst(spend, higher_is_better=True),
    )
    # Integer arithmetic, as in SQL, so no score depends on float rounding.
    r, f, m = (1 + (LEVELS * (rank - 1)) // max(n, 1) for rank in ranks)
    r_pct, f_pct, m_pct = ((rank - 1) / max(n, 1) for rank in ranks)
    return RfmPositions(r, f, m, r_pct, f_pct, m_pct)


def rfm_scores(
    recency_days: ArrayLike, frequency: ArrayLike, monetary: ArrayLike
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """The (R, F, M) score arrays of :func:`rfm_positions`."""
    positions = rfm_positions(recency_days, frequency, monetary)
    return positions.r, positions.f, positions.m


def _check_window(new_customer_days: int) -> None:
    if new_customer_days < 0:
        raise ValueError(f"new_customer_days must be >= 0, got {new_customer_days}")


def segment_for(
    r: int | None,
    f: int | None,
    m: int | None,
    tenure_days: float,
    has_purchases: bool,
    *,
    new_customer_days: int = DEFAULT_NEW_CUSTOMER_DAYS,
) -> str:
    """Segment id of one customer.

    ``tenure_days`` counts from the first purchase, or from account creation
    for a customer without purchases (whose scores are ignored and may be
    ``None``).
    """
    _check_window(new_customer_days)
    if not tenure_days >= 0:
        raise ValueError(f"tenure_days must be >= 0, got {tenure_days}")
    if tenure_days < new_customer_days:
        return "new_customers"
    if not has_purchases:
        return "lost"
    if r is None or f is None or m is None:
        raise ValueError("a customer with purchases needs r, f and m scores")
    return cell_segment(r, f, m)


def _segment_codes(
    r: ArrayLike,
    f: ArrayLike,
    m: ArrayLike,
    tenure_days: ArrayLike,
    has_purchases: ArrayLike,
    new_customer_days: int,
) -> tuple[NDArray[np.int8], NDArray[np.bool_]]:
    """Segment codes and the mask of customers placed by their RFM cell."""
    _check_window(new_customer_days)
    rs, fs, ms = (np.asarray(x, dtype=np.int64) for x in (r, f, m))
    tenure = np.asarray(tenure_days, dtype=np.float64)
    bought = np.asarray(has_purchases, dtype=bool)
    if not rs.shape == fs.shape == ms.shape == tenure.shape == bought.shape:
        raise ValueError("r, f, m, tenure_days and has_purchases differ in shape")
    if not (tenure >= 0).all():
        raise ValueError("tenure_days must be >= 0 and not NaN")

    by_cell = bought & (tenure >= new_customer_days)
    for name, scores in (("r", rs), ("f", fs), ("m", ms)):
        if ((scores[by_cell] < 1) | (scores[by_cell] > LEVELS)).any():
            raise ValueError(f"{name} scores of customers with purchases must be 1..5")
    codes = np.full(rs.shape, _LOST, dtype=np.int8)
    codes[tenure < new_customer_days] = _NEW
    codes[by_cell] = _CELLS[rs[by_cell] - 1, fs[by_cell] - 1, ms[by_cell] - 1]
    return codes, by_cell


def segments_for(
    r: ArrayLike,
    f: ArrayLike,
    m: ArrayLike,
    tenure_days: ArrayLike,
    has_purchases: ArrayLike,
    *,
    new_customer_days: int = DEFAULT_NEW_CUSTOMER_DAYS,
) -> NDArray[np.str_]:
    """Vectorised :func:`segment_for`; scores of non-buyers are ignored."""
    codes, _ = _segment_codes(r, f, m, tenure_days, has_purchases, new_customer_days)
    return np.asarray(SEGMENT_IDS)[codes]


def rfm_confidence(
    positions: RfmPositions, *, chunk: int = 32_768
) -> NDArray[np.float64]:
    """Distance to the nearest cell of another segment, in quintiles, capped at 1.

    Distances to a cell's box decompose by axis, so each chunk needs only
    three (rows x 5) gap tables and one (rows x 125) sum.
    """
    edges_low = np.arange(LEVELS) / LEVELS
    edges_high = edges_low + QUINTILE_WIDTH
    other = _CELLS.reshape(-1)[None, :] != _CELLS.reshape(-1)[:, None]  # 125 x 125
    own = ((positions.r - 1) * 25 + (positions.f - 1) * 5 + (positions.m - 1)).astype(
        np.int64
    )
    result = np.empty(own.size, dtype=np.float64)

    for start in range(0, own.size, chunk):
        stop = start + chunk
        gaps = []
        for pct in (positions.r_pct, positions.f_pct, positions.m_pct):
            p = pct[start:stop, None]
            gap = np.maximum(np.maximum(edges_low - p, p - edges_high), 0.0)
            gaps.append(gap * gap)
        squared = (
            gaps[0][:, :, None, None]
            + gaps[1][:, None, :, None]
            + gaps[2][:, None, None, :]
        ).reshape(-1, LEVELS**3)
        squared = np.where(other[own[start:stop]], squared, np.inf)
        result[start:stop] = np.sqrt(squared.min(axis=1))

    return np.minimum(result / QUINTILE_WIDTH, 1.0)


@dataclass(frozen=True)
class SegmentAssignments:
    """Segment ids and confidences, one per customer."""

    segment_ids: NDArray[np.str_]
    confidence: NDArray[np.float64]


def assign_segments(
    positions: RfmPositions,
    tenure_days: ArrayLike,
    has_purchases: ArrayLike,
    *,
    new_customer_days: int = DEFAULT_NEW_CUSTOMER_DAYS,
) -> SegmentAssignments:
    """Segments and confidences for a population (see the module docstring).

    Entries of ``positions`` for customers without purchases are ignored; put
    any score (for example 1) and percentile there.
    """
    codes, by_cell = _segment_codes(
        positions.r, positions.f, positions.m, tenure_days, has_purchases,
        new_customer_days,
    )  # fmt: skip
    tenure = np.asarray(tenure_days, dtype=np.float64)
    confidence = np.ones(codes.shape, dtype=np.float64)
    is_new = codes == _NEW
    if new_customer_days > 0:
        confidence[is_new] = (new_customer_days - tenure[is_new]) / new_customer_days
    if by_cell.any():
        p = positions
        scored = RfmPositions(
            p.r[by_cell], p.f[by_cell], p.m[by_cell],
            p.r_pct[by_cell], p.f_pct[by_cell], p.m_pct[by_cell],
        )  # fmt: skip
        confidence[by_cell] = rfm_confidence(scored)
    return SegmentAssignments(np.asarray(SEGMENT_IDS)[codes], confidence)


def segment_table_markdown() -> str:
    """The 125-cell table as Markdown: rows (R, F), columns M, then cell counts.

    ``docs/CUSTOMER_SEGMENTATION.md`` embeds this text verbatim; a test keeps
    the two equal.
    """
    names = {segment.segment_id: segment.name for segment in SEGMENTS}
    lines = [
        "| R | F | M = 1 | M = 2 | M = 3 | M = 4 | M = 5 |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in range(LEVELS, 0, -1):
        for f in range(LEVELS, 0, -1):
            cells = [names[cell_segment(r, f, m)] for m in range(1, LEVELS + 1)]
            lines.append(f"| {r} | {f} | " + " | ".join(cells) + " |")

    counts = np.bincount(_CELLS.reshape(-1), minlength=len(SEGMENT_IDS))
    lines += ["", "| Segment | Cells | Rule |", "|---|---|---|"]
    for segment in BY_PRIORITY:
        count = int(counts[_CODE[segment.segment_id]])
        lines.append(f"| {segment.name} | {count} | {segment.criteria.summary} |")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class RfmFeatures:
    """A customer's RFM picture in one snapshot (scores ``None`` without orders)."""

    days_since_last_order: float | None
    order_count: int
    total_spend: float
    tenure_days: float
    r: int | None = None
    f: int | None = None
    m: int | None = None


def _value_index(segment_id: str) -> float:
    """1.0 for the most valuable segment (rank 1) down to 0.0 for rank 8."""
    return (len(SEGMENTS) - get_segment(segment_id).value_rank) / (len(SEGMENTS) - 1)


def describe_migration(
    from_id: str,
    to_id: str,
    before: RfmFeatures,
    after: RfmFeatures,
    *,
    new_customer_days: int = DEFAULT_NEW_CUSTOMER_DAYS,
) -> tuple[str, float]:
    """Why a customer changed segment, and how much it matters.

    Returns
    -------
    reason : str
        The score changes that moved the customer, in the store's words.
    impact_score : float
        In [-1, 1], positive for a move to a more valuable segment:
        ``(value(to) - value(from)) * (0.5 + 0.1 * M)``, where value is
        ``(8 - value_rank) / 7`` and M the customer's higher monetary score of
        the two snapshots (0 without purchases), so a top spender's move
        counts twice as much as that of a customer who never bought.
    """
    source, target = get_segment(from_id), get_segment(to_id)
    if from_id == to_id:
        raise ValueError(f"from_id and to_id are both {from_id!r}: not a migration")

    parts: list[str] = []
    if from_id == "new_customers" and after.tenure_days >= new_customer_days:
        parts.append(
            f"first purchase {after.tenure_days:g} days ago, past the "
            f"{new_customer_days}-day new-customer window"
        )
    if before.r is not None and after.r is not None and before.r != after.r:
        parts.append(
            f"recency score {before.r} to {after.r} (last order "
            f"{after.days_since_last_order:g} days ago, "
            f"was {before.days_since_last_order:g})"
        )
    if before.f is not None and after.f is not None and before.f != after.f:
        parts.append(
            f"frequency score {before.f} to {after.f} "
            f"({after.order_count} orders, was {before.order_count})"
        )
    if before.m is not None and after.m is not None and before.m != after.m:
        parts.append(
            f"monetary score {before.m} to {after.m} "
            f"(spend {after.total_spend:.2f}, was {before.total_spend:.2f})"
        )
    if after.order_count == 0:
        parts.append(
            f"no purchase in {after.tenure_days:g} days since the account opened"
        )
    if not parts:
        parts.append("scores unchanged; the population's quintile boundaries moved")

    reason = f"Moved from {source.name} to {target.name}: " + "; ".join(parts) + "."
    monetary = max(before.m or 0, after.m or 0)
    impact = (_value_index(to_id) - _value_index(from_id)) * (0.5 + 0.1 * monetary)
    return reason, impact
