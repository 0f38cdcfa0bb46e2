"""Row validation for bulk purchase files, vectorised with Polars.

The rules are the API's own (see ``customers.schemas``): a rejected row is
reported with its line number and reason and nothing of it is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl

from omnix.customers.schemas import MAX_PRICE, MAX_QUANTITY
from omnix.schemas import EARLIEST_INSTANT

REQUIRED = ("customer_id", "product_id", "quantity", "price", "purchased_at")
OPTIONAL = (
    "order_id",
    "store_id",
    "product_name",
    "category",
    "department",
    "brand",
    "size",
)
ID_PATTERN = r"^[A-Za-z0-9._:\-]{1,64}$"


@dataclass(frozen=True)
class Rejection:
    line: int
    reason: str


@dataclass(frozen=True)
class ValidatedLines:
    accepted: pl.DataFrame
    rejected: list[Rejection]
    rejected_by_reason: dict[str, int]


def _rules(latest: datetime) -> list[tuple[str, pl.Expr]]:
    """(reason, failing condition) in the order they are checked."""
    quantity, price = pl.col("quantity"), pl.col("price")
    return [
        (
            "customer_id is missing or not an id",
            ~pl.col("customer_id").str.contains(ID_PATTERN).fill_null(False),
        ),
        (
            "product_id is missing or not an id",
            ~pl.col("product_id").str.contains(ID_PATTERN).fill_null(False),
        ),
        (
            "order_id is not an id",
            pl.col("order_id").is_not_null()
            & ~pl.col("order_id").str.contains(ID_PATTERN).fill_null(False),
        ),
        (
            "quantity is not a number",
            quantity.is_null() | quantity.is_nan() | quantity.is_infinite(),
        ),
        ("quantity is zero or negative", quantity <= 0),
        (
            f"quantity is above the per-line cap of {MAX_QUANTITY:g}",
            quantity > MAX_QUANTITY,
        ),
        (
            "price is not a number",
            price.is_null() | price.is_nan() | price.is_infinite(),
        ),
        ("price is negative", price < 0),
        (f"price is above the cap of {MAX_PRICE:g}", price > MAX_PRICE),
        (
            "purchased_at is missing or has no UTC offset",
            pl.col("purchased_at").is_null(),
        ),
        (
            "purchased_at is more than a day after the store's current date",
            pl.col("purchased_at") > latest,
        ),
        (
            f"purchased_at is before {EARLIEST_INSTANT.date()}, "
            "the earliest date accepted",
            pl.col("purchased_at") < EARLIEST_INSTANT,
        ),
    ]


def _parse_times(raw: pl.Series) -> pl.Series:
    if raw.dtype == pl.Datetime:
        zone = getattr(raw.dtype, "time_zone", None)
        # A column without a zone cannot say which instant it means.
        return (
            raw.dt.convert_time_zone("UTC")
            if zone
            else pl.Series(raw.name, [None] * len(raw), pl.Datetime("us", "UTC"))
        )
    # Polars' %z reads "+01:00" but not the "Z" that ISO 8601 also allows.
    text = raw.cast(pl.Utf8).str.strip_chars().str.replace(r"[Zz]$", "+00:00")
    parsed = text.str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_unit="us"
    )
    fallback = text.str.to_datetime(
        "%Y-%m-%d %H:%M:%S%.f%z", strict=False, time_unit="us"
    )
    return parsed.fill_null(fallback).dt.convert_time_zone("UTC")


def validate_lines(
    frame: pl.DataFrame, latest: datetime, *, first_line: int = 2
) -> ValidatedLines:
    """Check every row; ``first_line`` is the file line of the first row."""
    missing = [column for column in REQUIRED if column not in frame.columns]
    if missing:
        raise ValueError(f"missing required columns: {', '.join(missing)}")
    frame = frame.with_columns(
        *(
            pl.lit(None, pl.Utf8).alias(column)
            for column in OPTIONAL
            if column not in frame.columns
        )
    )
    frame = frame.with_columns(
        pl.col("customer_id").cast(pl.Utf8).str.strip_chars(),
        pl.col("product_id").cast(pl.Utf8).str.strip_chars(),
        *(
            pl.col(column).cast(pl.Utf8).str.strip_chars().replace("", None)
            for column in OPTIONAL
        ),
        pl.col("quantity").cast(pl.Float64, strict=False),
        pl.col("price").cast(pl.Float64, strict=False),
        _parse_times(frame["purchased_at"]).alias("purchased_at"),
        (pl.int_range(pl.len()) + first_line).alias("line"),
    )
    reason = pl.lit(None, pl.Utf8)
    for text, failing in reversed(_rules(latest)):
        reason = pl.when(failing.fill_null(True)).then(pl.lit(text)).otherwise(reason)
    frame = frame.with_columns(reason.alias("reason"))
    bad = frame.filter(pl.col("reason").is_not_null())
    counts = bad.group_by("reason").len()
    return ValidatedLines(
        accepted=frame.filter(pl.col("reason").is_null()).drop("reason"),
        rejected=[
            Rejection(line, text)
            for line, text in bad.select("line", "reason").iter_rows()
        ],
        rejected_by_reason=dict(
            zip(counts["reason"].to_list(), counts["len"].to_list(), strict=True)
        ),
    )


def assign_orders(lines: pl.DataFrame) -> pl.DataFrame:
    """Fill missing order ids by minute and number repeated lines of an order."""
    minute_order = pl.concat_str(
        pl.col("customer_id"),
        pl.lit("-"),
        pl.col("purchased_at").dt.strftime("%Y%m%d%H%M"),
    )
    lines = lines.with_columns(pl.col("order_id").fill_null(minute_order))
    return lines.with_columns(
        pl.int_range(pl.len())
        .over("customer_id", "order_id", "product_id")
        .alias("line_no")
    )
