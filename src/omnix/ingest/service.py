"""Loading files and the demo data set into the database."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl
import structlog

from omnix.customers.service import FUTURE_TOLERANCE
from omnix.ingest import bulk
from omnix.ingest.validate import Rejection, assign_orders, validate_lines

log = structlog.get_logger()


@dataclass(frozen=True)
class ImportReport:
    rows: int
    result: bulk.WriteResult
    rejected: list[Rejection]
    rejected_by_reason: dict[str, int]
    seconds: float


def read_purchase_file(path: Path) -> pl.DataFrame:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pl.read_parquet(path)
    if suffix in (".csv", ".txt"):
        # Everything as text: validation, not the reader, decides what is wrong.
        return pl.read_csv(path, infer_schema=False)
    raise ValueError(
        f"{path.name}: unsupported file type {suffix!r}; use .csv or .parquet"
    )


async def write_lines(
    database_url: str,
    *,
    customers: pl.DataFrame,
    products: pl.DataFrame,
    lines: pl.DataFrame,
    now: datetime,
    first_load: bool = False,
) -> bulk.WriteResult:
    if database_url.startswith("sqlite"):
        return bulk.write_sqlite(
            database_url,
            customers=customers,
            products=products,
            lines=lines,
            now=now,
            first_load=first_load,
        )
    return await bulk.write_postgres(
        database_url, customers=customers, products=products, lines=lines, now=now
    )


async def import_file(
    database_url: str, path: Path, *, business_now: datetime, wall_now: datetime
) -> ImportReport:
    """Validate a purchase file and store its good rows, all at once."""
    started = time.perf_counter()
    frame = read_purchase_file(path)
    checked = validate_lines(frame, business_now + FUTURE_TOLERANCE)
    lines = assign_orders(checked.accepted.drop("line"))
    result = await write_lines(
        database_url,
        customers=bulk.new_customers_from_lines(lines),
        products=bulk.products_from_lines(lines),
        lines=lines,
        now=wall_now,
    )
    log.info(
        "import.finished",
        file=path.name,
        added=result.lines_added,
        rejected=len(checked.rejected),
    )
    return ImportReport(
        rows=frame.height,
        result=result,
        rejected=checked.rejected,
        rejected_by_reason=checked.rejected_by_reason,
        seconds=time.perf_counter() - started,
    )
