"""Shared builders for the engine tests: hand-made lines and a seeded shop.

``make_lines`` turns short tuples into a ``lines`` frame of the engine
contract; ``simulate_shop`` generates a small population whose households
buy staple products at known rhythms (log-normal intervals around a known
median), some of whom stop shopping, with the lines after the split kept
apart as the truth.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

LINE_SCHEMA = {
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
START = datetime(2024, 1, 1, 10, tzinfo=UTC)

Row = tuple[str, str, float]  # (customer, product, day offset from START)


def lines_from(
    rows: Sequence[Row],
    *,
    quantity: float = 1.0,
    price: float = 2.0,
    categories: dict[str, str] | None = None,
) -> pl.DataFrame:
    """Lines from (customer, product, days after START); one order per day."""
    categories = categories or {}
    records = []
    for customer, product, offset in rows:
        at = START + timedelta(days=offset)
        records.append(
            (
                customer,
                f"{customer}-{at:%Y%m%d}",
                product,
                at,
                quantity,
                price,
                categories.get(product, "Grocery"),
                "Food",
                "National",
            )
        )
    return pl.DataFrame(records, schema=LINE_SCHEMA, orient="row")


@pytest.fixture
def make_lines() -> Callable[..., pl.DataFrame]:
    return lines_from


@dataclass(frozen=True)
class Shop:
    """A simulated population: history before ``split``, truth after it."""

    history: pl.DataFrame
    future: pl.DataFrame
    catalogue: pl.DataFrame
    customers: pl.DataFrame
    split: datetime
    medians: dict[tuple[str, str], float]


def simulate_shop(
    seed: int = 7,
    households: int = 60,
    products: int = 24,
    days: int = 260,
    future_days: int = 30,
    sigma: float = 0.25,
) -> Shop:
    """Households buy 6 staples each at log-normal intervals; 15% stop."""
    rng = np.random.default_rng(seed)
    categories = [f"Cat{j % 6}" for j in range(products)]
    price = np.round(rng.uniform(1.0, 9.0, products), 2)
    popularity = rng.dirichlet(np.ones(products) * 0.6)
    split = START + timedelta(days=days)
    end = days + future_days
    records = []
    medians: dict[tuple[str, str], float] = {}
    compositions = []
    for h in range(households):
        customer = f"h{h:03d}"
        has_kids = bool(rng.random() < 0.5)
        compositions.append("2 Adults Kids" if has_kids else "2 Adults No Kids")
        stops_at = rng.uniform(0.4, 0.9) * days if rng.random() < 0.15 else np.inf
        staples = rng.choice(products, size=6, replace=False, p=popularity)
        if has_kids:
            staples[0] = 0  # the "kids" product lives in Cat0
        for p in staples:
            median = float(rng.choice([4.0, 7.0, 14.0, 21.0, 30.0]))
            medians[(customer, f"p{p:02d}")] = median
            t = rng.uniform(0.0, median)
            while t < end and t < stops_at:
                records.append((customer, f"p{p:02d}", t, float(rng.integers(1, 3))))
                t += median * float(np.exp(rng.normal(0.0, sigma)))
        for t in rng.uniform(
            0, min(end, stops_at) if np.isfinite(stops_at) else end, 4
        ):
            records.append((customer, f"p{int(rng.integers(products)):02d}", t, 1.0))
    frame = pl.DataFrame(
        [
            (
                c,
                f"{c}-{int(t)}",
                p,
                START + timedelta(days=int(t), hours=2),
                q,
                float(price[int(p[1:])]),
                categories[int(p[1:])],
                "Food",
                "Private" if int(p[1:]) % 3 == 0 else "National",
            )
            for c, p, t, q in records
        ],
        schema=LINE_SCHEMA,
        orient="row",
    )
    catalogue = pl.DataFrame(
        {
            "product_id": [f"p{j:02d}" for j in range(products)],
            "name": [f"Product {j}" for j in range(products)],
            "category": categories,
            "department": ["Food"] * products,
            "brand": ["National"] * products,
            "size": ["1 unit"] * products,
            "active": [True] * products,
        }
    )
    customers = pl.DataFrame(
        {
            "customer_id": [f"h{h:03d}" for h in range(households)],
            "created_at": [START] * households,
            "household_composition": compositions,
            "age_group": ["35-44" if h % 2 else "45-54" for h in range(households)],
        }
    )
    return Shop(
        history=frame.filter(pl.col("purchased_at") < split),
        future=frame.filter(pl.col("purchased_at") >= split),
        catalogue=catalogue,
        customers=customers,
        split=split,
        medians=medians,
    )


@pytest.fixture(scope="session")
def shop() -> Shop:
    return simulate_shop()
