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
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from omnix.engine.basket_features import (
    DISCOVERY_FEATURES,
    REPURCHASE_FEATURES,
    ProductStats,
    discovery_candidates,
    discovery_design,
    popular_products,
    product_stats,
    repurchase_design,
)
from omnix.engine.baskets import (
    Baskets,
    baskets_of,
    microseconds,
    next_orders,
    repurchase_arrays,
)
from omnix.engine.cooccurrence import (
    MIN_ORDERS,
    Neighbours,
    neighbour_frame,
    neighbours_of,
    pair_counts,
)
from omnix.engine.features import (
    PreparedLines,
    check_as_of,
    check_tz,
    days_ago,
    prepared_for,
)
from omnix.engine.keys import (
    IntArray,
    derived,
    gather,
    isin,
    lexsort,
    positions,
    rank_within,
)
from omnix.engine.logistic import LogisticFit, fit_logistic
from omnix.engine.recommend_cohorts import cohort_popularity, cold_start
from omnix.engine.rhythm import Columns

FloatArray = npt.NDArray[np.float64]

__all__ = [
    "Recommendation",
    "Recommender",
    "fit_recommender",
    "recommend",
    "recommendations_of",
]

_MIN_CLASS = 20
_L2 = 1.0
# Negative training rows kept: one in this many (see _sample).
_REPURCHASE_SAMPLE = 4
_DISCOVERY_SAMPLE = 32
_SAMPLE_SEED = 11
_SAMPLE_ABOVE = 50_000
# Columns of repurchase_arrays that are per customer or global, not per pair.
_PER_CUSTOMER = ("orders_before", "total_orders")


@dataclass(frozen=True, eq=False)
class PopulationTables:
    """The population figures in arrays over the product vocabulary.

    The vocabulary is ``Recommender.stats["product_id"]``; ``sellable_row``
    is each product's row in ``Recommender.products`` (-1 when inactive or
    missing from the catalogue).
    """

    stats: ProductStats
    neighbours: Neighbours
    popular: IntArray
    sellable_row: IntArray


@dataclass(frozen=True, eq=False)
class Recommender:
    """Population tables and learned scorers, fitted once at ``as_of``."""

    as_of: datetime
    tz: str
    products: pl.DataFrame
    stats: pl.DataFrame
    neighbours: pl.DataFrame
    popular_ids: tuple[str, ...]
    cohort_popular: pl.DataFrame
    customer_cohorts: pl.DataFrame
    repurchase_fit: LogisticFit | None
    discovery_fit: LogisticFit | None
    tables: PopulationTables


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


def _active_products(catalogue: pl.DataFrame) -> pl.DataFrame:
    """Active products by id (the row order ranks ties between scores)."""
    missing = [c for c in ("product_id", "active") if c not in catalogue.columns]
    if missing:
        raise ValueError(f"catalogue: missing column(s) {', '.join(missing)}")
    name = pl.col("name") if "name" in catalogue.columns else pl.col("product_id")
    category = pl.col("category") if "category" in catalogue.columns else pl.lit(None)
    return (
        catalogue.filter(pl.col("active").fill_null(False))
        .select(
            pl.col("product_id").cast(pl.Utf8),
            name.cast(pl.Utf8).fill_null(pl.col("product_id")).alias("product_name"),
            category.cast(pl.Utf8).alias("category"),
        )
        .unique("product_id", keep="first", maintain_order=True)
        .sort("product_id")
    )


def _sample(
    label: npt.NDArray[np.bool_], weight: FloatArray, rate: int, draw: FloatArray
) -> tuple[npt.NDArray[np.bool_], FloatArray]:
    """Keep every positive and one negative in ``rate``, weighted back up.

    Weighted by the inverse of the sampling rate, the sample's likelihood
    estimates the same coefficients as the full one (King & Zeng, "Logistic
    Regression in Rare Events Data", Political Analysis 9(2), 2001); with
    one positive in seventy rows (one in seven hundred for discovery), the
    negatives left out carry almost no information. Up to
    :data:`_SAMPLE_ABOVE` rows, everything is kept.
    """
    if label.size <= _SAMPLE_ABOVE:
        rate = 1
    keep = label | (draw < 1.0 / rate)
    return keep, weight[keep] * np.where(label[keep], 1.0, float(rate))


def _fit_or_none(
    rows: list[FloatArray], labels: list[npt.NDArray[np.bool_]],
    weights: list[FloatArray], names: tuple[str, ...],
) -> LogisticFit | None:  # fmt: skip
    if not rows:
        return None
    label = np.concatenate(labels)
    if label.sum() < _MIN_CLASS or label.size - label.sum() < _MIN_CLASS:
        return None
    return fit_logistic(
        np.vstack(rows),
        label,
        l2=_L2,
        sample_weight=np.concatenate(weights),
        feature_names=names,
    )


def _baskets(prepared: PreparedLines) -> Baskets:
    return derived(prepared.frame, "baskets", baskets_of)


def fit_recommender(
    lines: pl.DataFrame | PreparedLines,
    catalogue: pl.DataFrame,
    customers: pl.DataFrame | None,
    as_of: datetime,
    tz: str = "UTC",
    *,
    windows: int = 3,
    step_days: int = 7,
) -> Recommender:
    """Fit the recommender on the population's history before ``as_of``.

    Parameters
    ----------
    lines, catalogue, customers : polars.DataFrame
        Engine contracts; ``customers`` (optional) supplies declared
        demographics and an optional ``segment`` column for cold starts.
    as_of : datetime
        The clock; nothing at or after it is read.
    windows, step_days : int
        Training cut-offs at ``as_of - step_days * k``, k = 1..windows.

    Notes
    -----
    Every positive row is kept and negative rows are sampled, one in
    :data:`_REPURCHASE_SAMPLE` (one in :data:`_DISCOVERY_SAMPLE` for
    discovery candidates), weighted by the inverse rate (:func:`_sample`).
    """
    as_of_utc = check_as_of(as_of)
    check_tz(tz)
    products = _active_products(catalogue)
    prepared = prepared_for(lines, as_of_utc, tz)
    baskets = _baskets(prepared)
    vocabulary = baskets.products.len()
    now = microseconds(as_of_utc)
    table = repurchase_arrays(baskets, now)
    stats = product_stats(table, baskets.pair_product[table["pair"]], vocabulary)
    sellable_row = positions(products, "product_id", baskets.products.to_list())

    earliest = microseconds(as_of_utc - timedelta(days=step_days * windows))
    # Associations for training come from before the earliest cut-off, so the
    # orders being predicted never inform the association that predicts them.
    early = baskets.order_time[baskets.item_order] < earliest
    columns = np.flatnonzero(
        np.bincount(baskets.item_product, minlength=vocabulary) >= MIN_ORDERS
    )
    training_neighbours = neighbours_of(
        pair_counts(
            baskets.item_order[early], baskets.item_product[early], vocabulary, columns
        )
    )
    draw = np.random.default_rng(_SAMPLE_SEED)
    rep_rows, rep_labels, rep_weights = [], [], []
    dis_rows, dis_labels, dis_weights = [], [], []
    for k in range(1, windows + 1):
        cutoff = microseconds(as_of_utc - timedelta(days=step_days * k))
        cut = repurchase_arrays(baskets, cutoff)
        items, weight = next_orders(baskets, cut["orders_before"], cutoff, now)
        customer = baskets.pair_customer[cut["pair"]]
        served = weight[customer] > 0
        if int(cut["total_orders"][0]) == 0 or not served.any():
            continue
        product = baskets.pair_product[cut["pair"]]
        cut_stats = product_stats(cut, product, vocabulary)
        in_next = np.zeros(baskets.pairs, bool)
        in_next[items] = True
        pairs = {
            name: column[served]
            for name, column in cut.items()
            if name not in _PER_CUSTOMER
        }
        label = in_next[cut["pair"]][served]
        keep, sample_weight = _sample(
            label, weight[customer[served]], _REPURCHASE_SAMPLE, draw.random(label.size)
        )
        rep_rows.append(
            repurchase_design(
                {name: column[keep] for name, column in pairs.items()},
                cut_stats,
                product[served][keep],
            )
        )
        rep_labels.append(label[keep])
        rep_weights.append(sample_weight)

        candidates = discovery_candidates(
            pairs,
            customer[served],
            product[served],
            product[served],
            training_neighbours,
            popular_products(cut_stats, sellable_row >= 0),
            vocabulary,
        )
        span = max(vocabulary, 1)
        truth = baskets.pair_customer[items] * span + baskets.pair_product[items]
        label = isin(candidates["customer"] * span + candidates["product"], truth)
        keep, sample_weight = _sample(
            label,
            weight[candidates["customer"]],
            _DISCOVERY_SAMPLE,
            draw.random(label.size),
        )
        dis_rows.append(
            discovery_design(
                {name: column[keep] for name, column in candidates.items()}, cut_stats
            )
        )
        dis_labels.append(label[keep])
        dis_weights.append(sample_weight)

    cohorts, popular_by_cohort = cohort_popularity(
        prepared.frame, customers, products, as_of_utc
    )
    neighbours = neighbours_of(
        pair_counts(baskets.item_order, baskets.item_product, vocabulary, columns)
    )
    popular = popular_products(stats, sellable_row >= 0)
    return Recommender(
        as_of=as_of_utc,
        tz=tz,
        products=products,
        stats=pl.DataFrame(
            {
                "product_id": baskets.products,
                "buyers": pl.Series(stats.buyers, dtype=pl.UInt32),
                "repeat_share": stats.repeat_share,
                "order_share": stats.order_share,
                "trend": stats.trend,
                "recent_weight": stats.recent_weight,
            }
        ),
        neighbours=neighbour_frame(neighbours, baskets.products),
        popular_ids=tuple(baskets.products.gather(popular).to_list()),
        cohort_popular=popular_by_cohort,
        customer_cohorts=cohorts,
        repurchase_fit=_fit_or_none(
            rep_rows, rep_labels, rep_weights, REPURCHASE_FEATURES
        ),
        discovery_fit=_fit_or_none(
            dis_rows, dis_labels, dis_weights, DISCOVERY_FEATURES
        ),
        tables=PopulationTables(
            stats=stats,
            neighbours=neighbours,
            popular=popular,
            sellable_row=sellable_row,
        ),
    )


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
    baskets = _baskets(prepared)
    tables = recommender.tables
    table = repurchase_arrays(baskets, microseconds(as_of_utc))
    customer = baskets.pair_customer[table["pair"]]
    local = baskets.pair_product[table["pair"]]
    own_ids = baskets.products.to_list()
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
        customers.select(pl.col("customer_id").cast(pl.Utf8))
        if customers is not None
        else pl.DataFrame({"customer_id": baskets.customers})
    )
    newcomers = wanted.join(
        ranked.select("customer_id").unique(), on="customer_id", how="anti"
    )
    if newcomers.height:
        ranked = pl.concat(
            [ranked, cold_start(recommender, newcomers, customers, k)],
            how="diagonal_relaxed",
        )
    return (
        ranked.join(wanted.unique(), on="customer_id")
        .with_columns(pl.int_range(1, pl.len() + 1).over("customer_id").alias("rank"))
        .select(
            "customer_id",
            "rank",
            "product_id",
            "product_name",
            "category",
            "kind",
            "score",
            "reason",
        )  # fmt: skip
        .sort("customer_id", "rank")
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

    anchor = candidates["anchor"][theirs]
    anchor_row = np.full(chosen.size, -1)
    anchor_row[~repurchase] = np.where(
        anchor >= 0, recommender.tables.sellable_row[np.maximum(anchor, 0)], -1
    )
    none = np.zeros(candidates["customer"].size, np.int64)
    products = recommender.products
    frame = pl.DataFrame(
        {
            "customer_id": baskets.customers.gather(
                merged(baskets.pair_customer[table["pair"]], candidates["customer"])
            ),
            "product_id": products.get_column("product_id").gather(row[chosen]),
            "product_name": products.get_column("product_name").gather(row[chosen]),
            "category": products.get_column("category").gather(row[chosen]),
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
    # Column by column: one conversion per column rather than per row.
    columns = [
        frame.get_column(name).to_list() for name in Recommendation.__dataclass_fields__
    ]
    return [Recommendation(*row) for row in zip(*columns, strict=True)]
