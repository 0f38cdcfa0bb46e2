"""Product recommendations: what is the customer likely to put in the next order?

Two kinds, each with a score (a probability of being in the next order) and a
reason a shopper can read:

* ``repurchase``: products the customer has bought, scored by a logistic
  regression over order-based features (:mod:`omnix.engine.basket_features`:
  how often and how recently the product was in their orders, orders since,
  the product's repeat share and trend in the population).
* ``discovery``: products the customer never bought, reached from their
  staples through item-to-item association (:mod:`omnix.engine.cooccurrence`)
  or from what everyone buys lately, scored by a second logistic regression.

Both regressions are learned on the history before the clock: at cut-offs
``as_of - 7 k`` days the features of every household with an order in
``[cut-off, as_of)`` are labelled by the products of its first such order,
each row weighted by one over that order's size so that the fit aims at the
share of the next order that is found (the recall the evaluation measures).
Both therefore answer the same question on the same scale, and one ranking
serves both kinds. Inactive or unknown products are never recommended.

A customer without history gets what is popular lately among customers like
them: the first of :data:`COHORTS` for which the customer has a declared
value and at least :data:`MIN_COHORT` households share it, else the whole
population.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from omnix.engine.basket_features import (
    discovery_candidates,
    discovery_design,
    repurchase_design,
)
from omnix.engine.baskets import Baskets, microseconds, repurchase_arrays
from omnix.engine.features import (
    PreparedLines,
    check_as_of,
    days_ago,
    prepared_for,
    records,
)
from omnix.engine.keys import IntArray, gather, lexsort, positions, rank_within, take
from omnix.engine.recommend_cohorts import cold_start
from omnix.engine.recommend_fit import (
    PopulationTables,
    Recommender,
    fit_recommender,
    order_baskets,
)
from omnix.engine.rhythm import Columns

FloatArray = npt.NDArray[np.float64]

__all__ = [
    "PopulationTables",
    "Recommendation",
    "Recommender",
    "fit_recommender",
    "recommend",
    "recommendations_of",
]


@dataclass(frozen=True)
class Recommendation:
    """One recommended product for one customer."""

    customer_id: str
    rank: int
    product_id: str
    product_name: str
    category: str | None
    kind: str
    score: float
    reason: str


def recommend(
    recommender: Recommender,
    lines: pl.DataFrame | PreparedLines,
    as_of: datetime,
    tz: str = "UTC",
    *,
    k: int = 10,
    customers: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Top-``k`` recommendations per customer, best first.

    Parameters
    ----------
    recommender : Recommender
        From :func:`fit_recommender`.
    lines : polars.DataFrame
        Purchase lines of the customers to serve (one customer or many).
    as_of : datetime
        The clock.
    k : int
        Recommendations per customer.
    customers : polars.DataFrame, optional
        ``customer_id`` (and optionally declared demographics, ``segment``)
        of the customers to serve, including customers without lines; by
        default every customer in ``lines``.

    Returns
    -------
    polars.DataFrame
        customer_id, rank (1..k), product_id, product_name, category, kind
        (``repurchase`` or ``discovery``), score in [0, 1] and reason.
    """
    if k < 1:
        raise ValueError("k: must be at least 1")
    as_of_utc = check_as_of(as_of)
    prepared = prepared_for(lines, as_of_utc, tz)
    baskets = order_baskets(prepared)
    tables = recommender.tables
    table = repurchase_arrays(baskets, microseconds(as_of_utc))
    customer = baskets.pair_customer[table["pair"]]
    local = baskets.pair_product[table["pair"]]
    own_ids = baskets.products
    product = positions(recommender.stats, "product_id", own_ids)[local]
    score = (
        recommender.repurchase_fit.predict_proba(
            repurchase_design(table, tables.stats, product)
        )
        if recommender.repurchase_fit is not None
        else table["w_order"] / table["household_w_order"]
    )
    candidates = discovery_candidates(
        table,
        customer,
        local,
        product,
        tables.neighbours,
        tables.popular,
        recommender.stats.height,
    )
    found = (
        recommender.discovery_fit.predict_proba(
            discovery_design(candidates, tables.stats)
        )
        if recommender.discovery_fit is not None
        else candidates["association"]
    )
    # One ranking over both kinds, by score and then product id (the row of
    # a sellable product, as the product table is sorted by id).
    row = np.concatenate(
        [
            positions(recommender.products, "product_id", own_ids)[local],
            tables.sellable_row[candidates["product"]],
        ]
    )
    who = np.concatenate([customer, candidates["customer"]])
    both = np.concatenate([score, found])
    chosen = np.flatnonzero(row >= 0)
    chosen = chosen[lexsort(who[chosen], -both[chosen], row[chosen], stable=False)]
    chosen = chosen[rank_within(who[chosen]) < k]
    ranked = _ranked_frame(recommender, baskets, table, candidates, chosen, row, both)

    wanted = (
        customers.get_column("customer_id").cast(pl.Utf8)
        if customers is not None
        else baskets.customers
    )
    served = ranked.get_column("customer_id")
    if customers is not None:
        # Lines of customers not asked for are not answered.
        ranked = ranked.filter(served.is_in(wanted.implode()))
    newcomers = wanted.filter(~wanted.is_in(served.implode())).unique()
    if newcomers.len():
        cold = cold_start(recommender, newcomers.to_frame(), customers, k)
        ranked = pl.concat(
            [
                ranked,
                cold.with_columns(
                    pl.int_range(1, pl.len() + 1).over("customer_id").alias("rank")
                ),
            ],
            how="diagonal_relaxed",
        ).sort("customer_id", "rank")
    return ranked.select(
        "customer_id",
        "rank",
        "product_id",
        "product_name",
        "category",
        "kind",
        "score",
        "reason",
    )


def _ranked_frame(
    recommender: Recommender,
    baskets: Baskets,
    table: Columns,
    candidates: Columns,
    chosen: IntArray,
    row: IntArray,
    score: FloatArray,
) -> pl.DataFrame:
    """The chosen recommendations with names, kinds and reasons, best first.

    ``chosen`` indexes the bought pairs of ``table`` followed by the
    discovery ``candidates``; only these few rows get names and reasons.
    """
    bought = table["pair"].size
    repurchase = chosen < bought
    mine, theirs = chosen[repurchase], chosen[~repurchase] - bought

    def merged(of_mine: npt.NDArray[Any], of_theirs: npt.NDArray[Any]) -> Any:
        values = np.zeros(chosen.size, np.result_type(of_mine, of_theirs))
        values[repurchase] = of_mine[mine]
        values[~repurchase] = of_theirs[theirs]
        return values

    who = merged(baskets.pair_customer[table["pair"]], candidates["customer"])
    anchor = candidates["anchor"][theirs]
    anchor_row = np.full(chosen.size, -1)
    anchor_row[~repurchase] = np.where(
        anchor >= 0, recommender.tables.sellable_row[np.maximum(anchor, 0)], -1
    )
    none = np.zeros(candidates["customer"].size, np.int64)
    products = recommender.products
    frame = pl.DataFrame(
        {
            "customer_id": take(baskets.customers, who),
            # Rows come by customer, best first.
            "rank": rank_within(who) + 1,
            "product_id": take(products.get_column("product_id"), row[chosen]),
            "product_name": take(products.get_column("product_name"), row[chosen]),
            "category": take(products.get_column("category"), row[chosen]),
            "repurchase": repurchase,
            "score": pl.Series(score[chosen], dtype=pl.Float64),
            "orders_with": merged(table["orders_with"], none),
            "household_orders": merged(table["household_orders"], none),
            "days_since": merged(table["days_since"], none.astype(np.float64)),
            "anchor_name": gather(products.get_column("product_name"), anchor_row),
        }
    )
    reason = (
        pl.when(pl.col("repurchase"))
        .then(
            pl.format(
                "You bought this in {} of your {} orders, most recently {}",
                pl.col("orders_with"),
                pl.col("household_orders"),
                days_ago(pl.col("days_since").ceil().cast(pl.Int64)),
            )
        )
        .when(pl.col("anchor_name").is_not_null())
        .then(
            pl.format(
                "Often in the same basket as {}, which you buy", pl.col("anchor_name")
            )
        )
        .otherwise(pl.lit("Popular with shoppers this month"))
    )
    return frame.select(
        "customer_id",
        "rank",
        "product_id",
        "product_name",
        "category",
        pl.when(pl.col("repurchase"))
        .then(pl.lit("repurchase"))
        .otherwise(pl.lit("discovery"))
        .alias("kind"),
        "score",
        reason.alias("reason"),
    )


def recommendations_of(frame: pl.DataFrame) -> list[Recommendation]:
    """Rows of :func:`recommend` as frozen value objects."""
    return records(Recommendation, frame)
