"""Bulk purchase files: rejected rows reported by line, re-imports add nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import func, select

from omnix.catalogue.models import Product
from omnix.customers.models import Customer, PurchaseLine
from omnix.ingest.service import import_file

NOW = datetime(2018, 1, 1, tzinfo=UTC)
HEADER = (
    "customer_id,product_id,quantity,price,purchased_at,order_id,product_name,category"
)
GOOD_AND_BAD = (
    HEADER
    + """
7,P1,2,1.50,2017-12-01T10:00:00Z,B1,Ground Coffee 500g,Coffee
7,P2,1,3.00,2017-12-01T10:00:00+00:00,B1,,Milk
8,P1,1,1.50,2017-12-02 09:00:00+01:00,,,
8,P3,0,1.00,2017-12-02T09:00:00Z,B2,,
8,P3,-1,1.00,2017-12-02T09:00:00Z,B2,,
8,P3,1,-2,2017-12-02T09:00:00Z,B2,,
8,P3,1,NaN,2017-12-02T09:00:00Z,B2,,
8,P3,1,1,2017-12-02T09:00:00,B2,,
8,P3,1,1,2019-12-02T09:00:00Z,B2,,
,P3,1,1,2017-12-02T09:00:00Z,B2,,
8,P3,abc,1,2017-12-02T09:00:00Z,B2,,
8,P3,5000,1,2017-12-02T09:00:00Z,B2,,
"""
)


async def _count(context, model) -> int:
    async with context.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_import_reports_each_rejected_row_and_is_idempotent(
    context, tmp_path: Path
):
    path = tmp_path / "purchases.csv"
    path.write_text(GOOD_AND_BAD)
    report = await import_file(context.db.url, path, business_now=NOW, wall_now=NOW)
    assert report.rows == 12
    assert report.result.lines_added == 3
    assert report.result.customers_added == 2
    reasons = {rejection.line: rejection.reason for rejection in report.rejected}
    assert reasons == {
        5: "quantity is zero or negative",
        6: "quantity is zero or negative",
        7: "price is negative",
        8: "price is not a number",
        9: "purchased_at is missing or has no UTC offset",
        10: "purchased_at is more than a day after the store's current date",
        11: "customer_id is missing or not an id",
        12: "quantity is not a number",
        13: "quantity is above the per-line cap of 1000",
    }
    again = await import_file(context.db.url, path, business_now=NOW, wall_now=NOW)
    assert again.result.lines_added == 0
    assert again.result.lines_already_stored == 3
    assert await _count(context, PurchaseLine) == 3
    assert await _count(context, Customer) == 2
    async with context.db.session() as session:
        coffee = await session.get(Product, "P1")
        lines = (
            await session.scalars(select(PurchaseLine).order_by(PurchaseLine.id))
        ).all()
    assert coffee is not None
    assert (coffee.name, coffee.category) == ("Ground Coffee 500g", "Coffee")
    # A line without an order id is grouped by minute; times are stored in UTC.
    assert lines[2].order_id == "8-201712020800"
    assert lines[2].purchased_at == datetime(2017, 12, 2, 8, tzinfo=UTC)


async def test_parquet_and_missing_columns(context, tmp_path: Path):
    frame = pl.DataFrame(
        {
            "customer_id": ["9"],
            "product_id": ["P9"],
            "quantity": [1.0],
            "price": [2.0],
            "purchased_at": [datetime(2017, 5, 1, tzinfo=UTC)],
        }
    )
    path = tmp_path / "lines.parquet"
    frame.write_parquet(path)
    report = await import_file(context.db.url, path, business_now=NOW, wall_now=NOW)
    assert report.result.lines_added == 1
    broken = tmp_path / "broken.csv"
    broken.write_text("customer_id,quantity\n1,2\n")
    with pytest.raises(ValueError, match="missing required columns: product_id"):
        await import_file(context.db.url, broken, business_now=NOW, wall_now=NOW)


def test_cli_prints_rejections_and_exits_nonzero(tmp_path: Path):
    path = tmp_path / "purchases.csv"
    path.write_text(GOOD_AND_BAD)
    env = {
        **os.environ,
        "OMNIX_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        "OMNIX_DATA_DIR": str(tmp_path),
        "OMNIX_AS_OF": NOW.isoformat(),
    }
    result = subprocess.run(
        [sys.executable, "-m", "omnix.cli", "import", str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "rejected 9 rows" in result.stdout
    assert "line 13: quantity is above the per-line cap of 1000" in result.stdout


async def test_a_file_fills_gaps_in_the_catalogue_and_renames_nothing(
    context, tmp_path: Path
):
    first = tmp_path / "first.csv"
    first.write_text(
        HEADER + "\n7,P1,1,1.50,2017-12-01T10:00:00Z,B1,Ground Coffee 500g,\n"
        "7,P2,1,1.00,2017-12-01T10:00:00Z,B1,,\n"
    )
    await import_file(context.db.url, first, business_now=NOW, wall_now=NOW)
    # A later file names P1 differently (or not at all) and P2 for the first time.
    later = tmp_path / "later.csv"
    later.write_text(
        HEADER + "\n8,P1,1,1.50,2017-12-02T10:00:00Z,B2,Renamed,Coffee\n"
        "8,P1,1,1.50,2017-12-03T10:00:00Z,B3,,\n"
        "8,P2,1,1.00,2017-12-02T10:00:00Z,B2,Whole Milk 1L,Milk\n"
    )
    await import_file(context.db.url, later, business_now=NOW, wall_now=NOW)
    async with context.db.session() as session:
        products = {
            row.id: (row.name, row.category)
            for row in (await session.scalars(select(Product))).all()
        }
    assert products == {
        "P1": ("Ground Coffee 500g", "Coffee"),
        "P2": ("Whole Milk 1L", "Milk"),
    }


async def test_rows_before_the_earliest_accepted_date_are_rejected(
    context, tmp_path: Path
):
    path = tmp_path / "old.csv"
    path.write_text(
        HEADER + "\n7,P1,1,1.50,1800-01-01T10:00:00Z,B1,,\n"
        "7,P1,1,1.50,0001-01-01T00:00:00+14:00,B2,,\n"
        "7,P1,1,1.50,2017-12-01T10:00:00Z,B3,,\n"
    )
    report = await import_file(context.db.url, path, business_now=NOW, wall_now=NOW)
    assert report.result.lines_added == 1
    reasons = {rejection.line: rejection.reason for rejection in report.rejected}
    assert set(reasons) == {2, 3}
    assert all("before 2000-01-01" in reason for reason in reasons.values())
