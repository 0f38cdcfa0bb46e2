"""Shared preparation of purchase lines: validation, store-local days, intervals.

Every analysis of this package reads the ``lines`` frame described in
:mod:`omnix.engine`. The helpers here check it once, drop what must not be
read (lines at or after the clock, returns) and attach the purchase day in
the store time zone. Purchase-interval models work on distinct purchase days,
while same-day orders still count separately for order value (DESIGN.md,
"Analytics"): the engine's own models group days with NumPy
(:mod:`omnix.engine.rhythm`); :func:`day_table` and :func:`interval_table`
do the same in Polars for callers outside the engine (the interval baseline
analyser).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

__all__ = [
    "REQUIRED_LINE_COLUMNS",
    "PreparedLines",
    "UNCATEGORISED",
    "check_as_of",
    "check_tz",
    "day_number",
    "days_ago",
    "day_table",
    "empty_lines",
    "interval_table",
    "local_day",
    "lookup",
    "prepare_lines",
    "prepared_for",
    "records",
]

REQUIRED_LINE_COLUMNS = (
    "customer_id",
    "product_id",
    "purchased_at",
    "quantity",
    "price",
)
OPTIONAL_LINE_COLUMNS = ("order_id", "category", "department", "brand")
R = TypeVar("R")
_EPOCH = date(1970, 1, 1)
# Lines whose product has no category are grouped under this label so that a
# category-level analysis still accounts for them.
UNCATEGORISED = "Uncategorised"


def check_tz(tz: str) -> str:
    """Return ``tz`` if it names an IANA time zone, else raise ValueError."""
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"tz: unknown time zone {tz!r}") from error
    return tz


def check_as_of(as_of: datetime) -> datetime:
    """Return ``as_of`` in UTC; a naive instant is refused (ambiguous clock)."""
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise ValueError("as_of: must carry a time zone (the clock gives aware times)")
    return as_of.astimezone(ZoneInfo("UTC"))


def local_day(instant: datetime, tz: str) -> date:
    """The calendar day of ``instant`` in the store time zone."""
    return check_as_of(instant).astimezone(ZoneInfo(check_tz(tz))).date()


def empty_lines() -> pl.DataFrame:
    """A ``lines`` frame with no rows and the contract's dtypes."""
    return pl.DataFrame(
        schema={
            "customer_id": pl.Utf8,
            "order_id": pl.Utf8,
            "product_id": pl.Utf8,
            "purchased_at": pl.Datetime("us", "UTC"),
            "quantity": pl.Float64,
            "price": pl.Float64,
            "category": pl.Utf8,
            "department": pl.Utf8,
            "brand": pl.Utf8,
        }
    )


@dataclass(frozen=True, eq=False)
class PreparedLines:
    """Lines already checked and prepared for a clock and a time zone.

    Every public engine function accepts this in place of a ``lines`` frame;
    a caller running several analyses of one customer prepares once
    (:func:`omnix.engine.population.analyse_customer` does).
    """

    frame: pl.DataFrame
    as_of: datetime
    tz: str


def prepared_for(
    lines: pl.DataFrame | PreparedLines, as_of: datetime, tz: str
) -> PreparedLines:
    """``lines`` prepared for ``as_of``, reusing prepared lines (and the
    tables derived from their frame) when prepared for this very clock."""
    as_of_utc = check_as_of(as_of)
    if isinstance(lines, PreparedLines) and lines.as_of == as_of_utc:
        if lines.tz != tz:
            raise ValueError(f"lines: prepared for time zone {lines.tz!r}, not {tz!r}")
        return lines
    return PreparedLines(prepare_lines(lines, as_of_utc, tz), as_of_utc, tz)


def day_number(day: date) -> int:
    """Days since 1970-01-01, the physical value of a Polars ``Date``."""
    return (day - _EPOCH).days


def prepare_lines(
    lines: pl.DataFrame | PreparedLines, as_of: datetime, tz: str
) -> pl.DataFrame:
    """Validate ``lines`` and keep what an analysis at ``as_of`` may read.

    Returns the lines strictly before ``as_of`` with a positive quantity, with
    the contract's dtypes, missing optional columns added as nulls, ``order_id``
    filled where absent (one order per customer and minute, DESIGN.md,
    "Compatibility"), ``category`` filled with :data:`UNCATEGORISED`, and two
    derived columns: ``day`` (store-local purchase date) and ``value``
    (quantity x price). :class:`PreparedLines` for the same time zone and a
    clock no earlier than ``as_of`` are only cut at ``as_of``.

    Raises
    ------
    ValueError
        If a required column is missing, ``tz`` is unknown, ``as_of`` naive,
        or prepared lines do not match the time zone or end before ``as_of``.
    """
    if isinstance(lines, PreparedLines):
        as_of_utc = check_as_of(as_of)
        if lines.tz != tz:
            raise ValueError(f"lines: prepared for time zone {lines.tz!r}, not {tz!r}")
        if lines.as_of < as_of_utc:
            raise ValueError("lines: prepared for an earlier clock than as_of")
        if lines.as_of == as_of_utc:
            return lines.frame
        return lines.frame.filter(pl.col("purchased_at") < as_of_utc)
    missing = [name for name in REQUIRED_LINE_COLUMNS if name not in lines.columns]
    if missing:
        raise ValueError(f"lines: missing column(s) {', '.join(missing)}")
    as_of_utc = check_as_of(as_of)
    check_tz(tz)

    frame = lines.with_columns(
        *(
            pl.lit(None, pl.Utf8).alias(name)
            for name in OPTIONAL_LINE_COLUMNS
            if name not in lines.columns
        )
    )
    dtype = frame.schema["purchased_at"]
    if not isinstance(dtype, pl.Datetime):
        raise ValueError("lines: purchased_at must be a Datetime column")
    # Naive timestamps are taken as UTC, the storage convention (DESIGN.md).
    stamp = (
        pl.col("purchased_at").dt.replace_time_zone("UTC")
        if dtype.time_zone is None
        else pl.col("purchased_at").dt.convert_time_zone("UTC")
    )

    frame = frame.select(
        pl.col("customer_id").cast(pl.Utf8),
        pl.col("order_id").cast(pl.Utf8),
        pl.col("product_id").cast(pl.Utf8),
        stamp.dt.cast_time_unit("us").alias("purchased_at"),
        pl.col("quantity").cast(pl.Float64),
        pl.col("price").cast(pl.Float64),
        pl.col("category").cast(pl.Utf8).fill_null(UNCATEGORISED),
        pl.col("department").cast(pl.Utf8),
        pl.col("brand").cast(pl.Utf8),
    ).filter(
        (pl.col("purchased_at") < as_of_utc)
        & (pl.col("quantity") > 0)
        & pl.col("customer_id").is_not_null()
        & pl.col("product_id").is_not_null()
    )
    order = pl.col("order_id")
    if frame.get_column("order_id").null_count():
        # Formatting a timestamp per line is costly: only when an id is missing.
        minute_order = pl.concat_str(
            pl.col("customer_id"),
            pl.lit("@"),
            pl.col("purchased_at").dt.truncate("1m").dt.strftime("%Y%m%dT%H%M"),
        )
        order = order.fill_null(minute_order)
    local = (
        pl.col("purchased_at")
        if tz == "UTC"
        else pl.col("purchased_at").dt.convert_time_zone(tz)
    )
    return frame.with_columns(
        order,
        pl.col("price").clip(lower_bound=0.0).fill_null(0.0),
        local.dt.date().alias("day"),
        (pl.col("quantity") * pl.col("price").clip(lower_bound=0.0)).alias("value"),
    )


def day_table(prepared: pl.DataFrame, key: str) -> pl.DataFrame:
    """Distinct purchase days per (customer, key) with the units bought that day.

    Adds ``pair``, an integer code of (customer, key), and sorts by pair and
    day: grouping and differencing on one integer is several times faster
    than on two strings over a population's million lines.
    """
    codes = prepared.select(
        "customer_id",
        key,
        "day",
        "quantity",
        pl.col("customer_id").cast(pl.Categorical).to_physical().alias("c_code"),
        pl.col(key).cast(pl.Categorical).to_physical().alias("k_code"),
    )
    pair = pl.col("c_code").cast(pl.UInt64) * (1 << 32) + pl.col("k_code").cast(
        pl.UInt64
    )
    return (
        codes.with_columns(pair.alias("pair"))
        .group_by("pair", "day")
        .agg(
            pl.col("customer_id").first(),
            pl.col(key).first(),
            pl.col("quantity").sum(),
        )
        .sort("pair", "day")
    )


def interval_table(
    days: pl.DataFrame,
    key: str,
    as_of_day: date,
    extra: Sequence[pl.Expr] = (),
) -> pl.DataFrame:
    """Per (customer, key): purchase-day count, intervals and their summaries.

    ``days`` comes from :func:`day_table`. Columns: customer_id, ``key``,
    n_days, first_day, last_day, elapsed_days (from the last purchase day to
    ``as_of_day``), mean_interval, median_interval, std_interval (null below
    two intervals), log_mean and log_ss (mean and sum of squared deviations of
    the log intervals, for the log-normal model), typical_quantity (median
    units per purchase day), and any ``extra`` aggregations. Inside ``extra``,
    ``interval`` is the days since the previous purchase day (null on the
    first) and ``elapsed`` the days from the pair's last purchase day to
    ``as_of_day``.
    """
    same_pair = pl.col("pair") == pl.col("pair").shift()
    rows = days.with_columns(
        pl.when(same_pair)
        .then(pl.col("day").diff().dt.total_days())
        .cast(pl.Float64)
        .alias("interval"),
        (pl.lit(as_of_day) - pl.col("day").max().over("pair"))
        .dt.total_days()
        .alias("elapsed"),
    ).with_columns(pl.col("interval").log().alias("log_interval"))
    log_iv = pl.col("log_interval")
    table = rows.group_by("pair").agg(
        pl.col("customer_id").first(),
        pl.col(key).first(),
        pl.len().alias("n_days"),
        pl.col("day").min().alias("first_day"),
        pl.col("day").max().alias("last_day"),
        pl.col("elapsed").first().alias("elapsed_days"),
        pl.col("interval").mean().alias("mean_interval"),
        pl.col("interval").median().alias("median_interval"),
        pl.col("interval").std().alias("std_interval"),
        log_iv.mean().alias("log_mean"),
        ((log_iv - log_iv.mean()).pow(2)).sum().alias("log_ss"),
        pl.col("quantity").median().alias("typical_quantity"),
        *extra,
    )
    return table.drop("pair").with_columns(pl.col("log_ss").fill_null(0.0))


def lookup(table: pl.DataFrame, reference: pl.DataFrame, on: str) -> pl.DataFrame:
    """Left-join ``reference`` columns onto ``table`` by ``on``.

    A population table (catalogue, product statistics) is first cut to the
    keys present: joining one customer's few hundred rows against a hundred
    thousand costs far more than the filter.
    """
    if reference.height > 4 * max(table.height, 1):
        keys = table.get_column(on).unique().implode()
        reference = reference.filter(pl.col(on).is_in(keys))
    return table.join(reference, on=on, how="left")


def records(cls: type[R], frame: pl.DataFrame) -> list[R]:
    """The rows of ``frame`` as instances of the frozen dataclass ``cls``.

    ``frame`` holds a column per field of ``cls``. Values are read one column
    at a time, and each instance is filled directly rather than through the
    generated ``__init__``, which sets every field by ``object.__setattr__``
    to honour ``frozen``: for a customer's thousand consumption patterns of
    fifteen fields that halves the cost. The value classes of the engine
    have no ``__post_init__``, so the instances are the same as constructed
    ones (equality, hashing and repr included).
    """
    names = list(cls.__dataclass_fields__)  # type: ignore[attr-defined]
    columns = [frame.get_column(name).to_list() for name in names]
    made: list[R] = []
    for row in zip(*columns, strict=True):
        record = object.__new__(cls)
        record.__dict__.update(zip(names, row, strict=True))
        made.append(record)
    return made


def days_ago(days: pl.Expr) -> pl.Expr:
    """``"today"``, ``"yesterday"`` or ``"N days ago"`` for reason texts."""
    return (
        pl.when(days <= 0)
        .then(pl.lit("today"))
        .when(days == 1)
        .then(pl.lit("yesterday"))
        .otherwise(pl.format("{} days ago", days))
    )
