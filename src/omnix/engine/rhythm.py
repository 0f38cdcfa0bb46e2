"""Distinct purchase days per (customer, product or category), as NumPy arrays.

The consumption patterns and the replenishment scorer both start from the
days on which a customer bought a product (or anything in a category), and
from the intervals between those days. :class:`PurchaseDays` holds them
once, sorted by pair and day, with the interval to the previous day of the
pair on every row. Because a pair's days are sorted, its days before any
cut-off are a prefix of its rows, and the interval on a row never depends on
the cut-off: the statistics at several training cut-offs
(:func:`rhythm_at`) are a few grouped sums each over the same arrays,
instead of a new group-by over the lines per cut-off.

Grouped sums are ``numpy.bincount`` over the pair index; medians are a
Polars group-by (:func:`group_median`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from omnix.engine.keys import IntArray, column_codes, distinct_sorted, sort_order

FloatArray = npt.NDArray[np.float64]
# Below this many values a NumPy sort is cheaper than a Polars group-by.
_SMALL = 20_000
Columns = dict[str, npt.NDArray[Any]]

__all__ = [
    "PurchaseDays",
    "Visits",
    "ended_within",
    "group_median",
    "purchase_days",
    "rhythm_at",
    "seasonal_share",
    "visits_at",
]


@dataclass(frozen=True, eq=False)
class PurchaseDays:
    """Distinct purchase days of each (customer, key) pair.

    Rows are sorted by pair, then day. ``customers`` and ``keys`` are the
    distinct ids, sorted; ``pair_customer`` and ``pair_key`` index them.
    ``day`` counts days since 1970-01-01 (store-local calendar days);
    ``quantity`` is the units bought that day; ``interval`` the days since
    the pair's previous purchase day (NaN on its first). ``key_line`` is the
    first prepared line of each key (to read other columns of it).
    """

    key: str
    customers: pl.Series
    keys: pl.Series
    key_line: IntArray
    pair_customer: IntArray
    pair_key: IntArray
    pair_start: IntArray
    row_pair: IntArray
    day: IntArray
    quantity: FloatArray
    interval: FloatArray

    @property
    def pairs(self) -> int:
        return int(self.pair_start.size)

    @cached_property
    def visits(self) -> tuple[IntArray, IntArray]:
        """Distinct (customer, day) shopping days, sorted: two arrays."""
        if self.day.size == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        low = int(self.day.min())
        span = int(self.day.max()) - low + 1
        visit = distinct_sorted(
            self.pair_customer[self.row_pair] * span + self.day - low
        )
        return visit // span, visit % span + low


def purchase_days(prepared: pl.DataFrame, key: str) -> PurchaseDays:
    """Group prepared lines into purchase days per (customer, ``key``)."""
    customer, customers = column_codes(prepared, "customer_id")
    item, keys = column_codes(prepared, key)
    day = prepared.get_column("day").cast(pl.Int32).to_numpy().astype(np.int64)
    quantity = prepared.get_column("quantity").to_numpy()
    if day.size == 0:
        empty = np.zeros(0, np.int64)
        return PurchaseDays(
            key, customers, keys, empty, empty, empty, empty, empty, empty,
            np.zeros(0), np.zeros(0),
        )  # fmt: skip
    first_day = int(day.min())
    span = int(day.max()) - first_day + 1
    pair = customer * max(keys.len(), 1) + item
    combined = pair * span + (day - first_day)
    order = sort_order(combined)
    ordered = combined[order]
    new_row = np.ones(ordered.size, bool)
    new_row[1:] = ordered[1:] != ordered[:-1]
    unique = ordered[new_row]
    units = np.bincount(np.cumsum(new_row) - 1, quantity[order], minlength=unique.size)
    row_pair_raw = unique // span
    new_pair = np.ones(unique.size, bool)
    new_pair[1:] = row_pair_raw[1:] != row_pair_raw[:-1]
    start = np.flatnonzero(new_pair)
    row_day = unique % span + first_day
    interval = np.empty(unique.size)
    interval[0] = np.nan
    interval[1:] = np.diff(row_day)
    interval[new_pair] = np.nan
    key_line = np.full(keys.len(), day.size, np.int64)
    np.minimum.at(key_line, item, np.arange(day.size))
    return PurchaseDays(
        key=key,
        customers=customers,
        keys=keys,
        key_line=key_line,
        pair_customer=row_pair_raw[start] // max(keys.len(), 1),
        pair_key=row_pair_raw[start] % max(keys.len(), 1),
        pair_start=start,
        row_pair=np.cumsum(new_pair) - 1,
        day=row_day,
        quantity=np.asarray(units, np.float64),
        interval=interval,
    )


def group_median(group: IntArray, values: FloatArray, groups: int) -> FloatArray:
    """Median of ``values`` per group ``0..groups-1``; NaN for an empty group.

    NaN values are left out, as a Polars median leaves out nulls. A Polars
    group-by computes it (several times faster than sorting the values
    within their groups with NumPy).
    """
    keep = ~np.isnan(values)
    if values.size < _SMALL:
        return _sorted_median(group[keep], values[keep], groups)
    medians = (
        pl.DataFrame({"group": group[keep], "value": values[keep]})
        .group_by("group")
        .agg(pl.col("value").median())
    )
    median = np.full(groups, np.nan)
    median[medians.get_column("group").to_numpy()] = medians.get_column(
        "value"
    ).to_numpy()
    return median


def _sorted_median(group: IntArray, values: FloatArray, groups: int) -> FloatArray:
    """The same median by sorting within groups (cheaper on a few thousand)."""
    ordered = values[np.lexsort((values, group))]
    counts = np.bincount(group, minlength=groups)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    median = np.full(groups, np.nan)
    has = counts > 0
    low = ordered[starts[has] + (counts[has] - 1) // 2]
    high = ordered[starts[has] + counts[has] // 2]
    # As Polars interpolates: the lower middle value plus half the gap.
    median[has] = low + (high - low) * 0.5
    return median


def rhythm_at(
    days: PurchaseDays,
    as_of_day: int,
    *,
    before: int | None = None,
    horizons: Sequence[int] = (),
    medians: bool = False,
) -> Columns:
    """Interval statistics of every pair with a purchase day before ``before``.

    ``before`` (a day number, default: every row) cuts the history; elapsed
    times are counted to ``as_of_day``. Returns arrays, one entry per pair
    present: ``pair`` (index into ``days``' pairs), n_days, first_day,
    last_day, elapsed_days, mean_interval, std_interval (NaN below two
    intervals), log_mean (NaN for one day), log_ss, longer_intervals
    (intervals longer than the elapsed time), recent_purchase_days (days in
    the 56 before ``as_of_day``), ``ended_within_<h>`` per horizon (intervals
    longer than the elapsed time that ended within it plus ``h``) and, with
    ``medians``, median_interval and typical_quantity (median units per day).
    """
    pairs = days.pairs
    if before is None:
        row_pair, day, interval = days.row_pair, days.day, days.interval
        quantity = days.quantity
    else:
        keep = days.day < before
        row_pair, day = days.row_pair[keep], days.day[keep]
        interval, quantity = days.interval[keep], days.quantity[keep]
    n_all = np.bincount(row_pair, minlength=pairs)
    present = np.flatnonzero(n_all)
    n = n_all[present]
    start = days.pair_start[present]
    first, last = days.day[start], days.day[start + n - 1]
    elapsed = as_of_day - last

    has = ~np.isnan(interval)
    iv_pair, iv = row_pair[has], interval[has]
    m_all = (n_all - 1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_all = np.bincount(iv_pair, iv, minlength=pairs) / m_all
        deviation = iv - mean_all[iv_pair]
        squares = np.bincount(iv_pair, deviation * deviation, minlength=pairs)
        log_iv = np.log(iv)
        log_mean_all = np.bincount(iv_pair, log_iv, minlength=pairs) / m_all
        log_dev = log_iv - log_mean_all[iv_pair]
        log_ss = np.bincount(iv_pair, log_dev * log_dev, minlength=pairs)[present]
        m = m_all[present]
        std = np.where(m >= 2, np.sqrt(squares[present] / (m - 1)), np.nan)
    mean = np.where(m >= 1, mean_all[present], np.nan)
    log_mean = np.where(m >= 1, log_mean_all[present], np.nan)

    # Per-row comparisons with the pair's elapsed time at this cut-off.
    elapsed_all = np.zeros(pairs, np.int64)
    elapsed_all[present] = elapsed
    row_elapsed = elapsed_all[iv_pair]
    longer = iv > row_elapsed
    table: Columns = {
        "pair": present,
        "n_days": n,
        "first_day": first,
        "last_day": last,
        "elapsed_days": elapsed,
        "mean_interval": mean,
        "std_interval": std,
        "log_mean": log_mean,
        "log_ss": log_ss,
        "longer_intervals": np.bincount(iv_pair[longer], minlength=pairs)[present],
        "recent_purchase_days": np.bincount(
            row_pair[day >= as_of_day - 56], minlength=pairs
        )[present],
    }
    for h in horizons:
        ended = longer & (iv <= row_elapsed + h)
        table[f"ended_within_{h}"] = np.bincount(iv_pair[ended], minlength=pairs)[
            present
        ]
    if medians:
        table["median_interval"] = group_median(iv_pair, iv, pairs)[present]
        table["typical_quantity"] = group_median(row_pair, quantity, pairs)[present]
    return table


def ended_within(days: PurchaseDays, table: Columns, horizon: int) -> IntArray:
    """Per pair of ``table`` (all days, no cut-off): the intervals longer than
    the time elapsed since the last purchase that ended within it plus
    ``horizon`` (the ``ended_within_<h>`` of :func:`rhythm_at`)."""
    has = ~np.isnan(days.interval)
    iv_pair, iv = days.row_pair[has], days.interval[has]
    elapsed = np.zeros(days.pairs, np.int64)
    elapsed[table["pair"]] = table["elapsed_days"]
    since = elapsed[iv_pair]
    ended = (iv > since) & (iv <= since + horizon)
    return np.bincount(iv_pair[ended], minlength=days.pairs)[table["pair"]]


def seasonal_share(days: PurchaseDays) -> FloatArray:
    """Per pair: the largest share of its purchase days in three calendar months.

    A window of three consecutive months holding the most days can always
    start on a month with a purchase, so each row counts the days of its
    pair from its own month to two months later and the pair keeps the most.
    """
    if days.pairs == 0:
        return np.zeros(0)
    month = days.day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    month = month - month.min()
    spread = int(month.max()) + 3
    position = days.row_pair * spread + month
    from_month = np.searchsorted(position, position, side="left")
    to_month = np.searchsorted(position, position + 2, side="right")
    best = np.maximum.reduceat(to_month - from_month, days.pair_start)
    counts = np.diff(np.append(days.pair_start, days.row_pair.size))
    return np.asarray(best / counts, np.float64)


@dataclass(frozen=True, eq=False)
class Visits:
    """Per customer at a cut-off: shopping days, visit rate, recent visits."""

    shopping_days: IntArray
    visit_rate: FloatArray
    household_elapsed: IntArray
    recent_days_28: IntArray


def visits_at(days: PurchaseDays, as_of_day: int, before: int | None = None) -> Visits:
    """Distinct shopping days of every customer before ``before``.

    Arrays are indexed by customer code; a customer without a day before the
    cut-off has zero days (its other values are then meaningless).
    """
    customers = days.customers.len()
    customer, day = days.visits
    if before is not None:
        keep = day < before
        customer, day = customer[keep], day[keep]
    shopping = np.bincount(customer, minlength=customers)
    first = np.full(customers, as_of_day, np.int64)
    last = np.full(customers, as_of_day, np.int64)
    if day.size:
        # Visits are sorted by customer, then day.
        starts = np.flatnonzero(np.diff(customer, prepend=-1))
        ends = np.append(starts[1:], customer.size) - 1
        first[customer[starts]] = day[starts]
        last[customer[starts]] = day[ends]
    span_days = np.maximum(as_of_day - first, 1)
    return Visits(
        shopping_days=shopping,
        visit_rate=shopping / span_days,
        household_elapsed=as_of_day - last,
        recent_days_28=np.bincount(
            customer[day >= as_of_day - 28], minlength=customers
        ),
    )
