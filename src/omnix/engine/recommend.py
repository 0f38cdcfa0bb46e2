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

import numpy as np
import polars as pl

from omnix.engine.basket_features import (
    DISCOVERY_FEATURES,
    POPULAR_CANDIDATES,
    REPURCHASE_FEATURES,
    discovery_candidates,
    discovery_design,
    product_stats,
    repurchase_design,
    repurchase_table,
)
from omnix.engine.cooccurrence import product_neighbours
from omnix.engine.features import (
    PreparedLines,
    check_as_of,
    check_tz,
    days_ago,
    lookup,
    prepare_lines,
)
from omnix.engine.logistic import LogisticFit, fit_logistic
from omnix.engine.recommend_cohorts import cohort_popularity, cold_start

__all__ = [
    "Recommendation",
    "Recommender",
    "fit_recommender",
    "recommend",
    "recommendations_of",
]

_MIN_CLASS = 20
_L2 = 1.0


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
    missing = [c for c in ("product_id", "active") if c not in catalogue.columns]
    if missing:
        raise ValueError(f"catalogue: missing column(s) {', '.join(missing)}")
    name = pl.col("name") if "name" in catalogue.columns else pl.col("product_id")
    category = pl.col("category") if "category" in catalogue.columns else pl.lit(None)
    return catalogue.filter(pl.col("active").fill_null(False)).select(
        pl.col("product_id").cast(pl.Utf8),
        name.cast(pl.Utf8).fill_null(pl.col("product_id")).alias("product_name"),
        category.cast(pl.Utf8).alias("category"),
    )


def _popular(stats: pl.DataFrame, products: pl.DataFrame) -> list[str]:
    ranked = stats.join(products.select("product_id"), on="product_id").sort(
        ["recent_weight", "product_id"], descending=[True, False]
    )
    return ranked["product_id"].head(POPULAR_CANDIDATES).to_list()


def _next_orders(
    prepared: pl.DataFrame, start: datetime, end: datetime
) -> pl.DataFrame:
    """(customer, product, weight) of each customer's first order in a window."""
    window = prepared.filter(
        (pl.col("purchased_at") >= start) & (pl.col("purchased_at") < end)
    )
    first = window.group_by("customer_id").agg(
        pl.col("order_id").sort_by("purchased_at", "order_id").first()
    )
    held = window.join(first, on=["customer_id", "order_id"]).select(
        "customer_id", "product_id"
    )
    return held.unique().with_columns(
        (1.0 / pl.len().over("customer_id")).alias("weight"),
        pl.lit(True).alias("in_next"),
    )


def _label(table: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    weights = truth.group_by("customer_id").agg(pl.col("weight").first())
    return (
        table.join(weights, on="customer_id")
        .join(truth.drop("weight"), on=["customer_id", "product_id"], how="left")
        .with_columns(pl.col("in_next").fill_null(False))
    )


def _fit_or_none(
    rows: list[np.ndarray], labels: list[np.ndarray], weights: list[np.ndarray],
    names: tuple[str, ...],
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
    """
    as_of_utc = check_as_of(as_of)
    check_tz(tz)
    products = _active_products(catalogue)
    prepared = prepare_lines(lines, as_of_utc, tz)
    pairs = repurchase_table(prepared, as_of_utc)
    stats = product_stats(pairs, prepared["order_id"].n_unique())

    earliest = as_of_utc - timedelta(days=step_days * windows)
    # Associations for training come from before the earliest cut-off, so the
    # orders being predicted never inform the association that predicts them.
    training_neighbours = product_neighbours(
        prepared.filter(pl.col("purchased_at") < earliest)
    )
    rep_rows, rep_labels, rep_weights = [], [], []
    dis_rows, dis_labels, dis_weights = [], [], []
    for k in range(1, windows + 1):
        cutoff = as_of_utc - timedelta(days=step_days * k)
        before = prepared.filter(pl.col("purchased_at") < cutoff)
        truth = _next_orders(prepared, cutoff, as_of_utc)
        if before.height == 0 or truth.height == 0:
            continue
        cut_pairs = repurchase_table(before, cutoff)
        cut_stats = product_stats(cut_pairs, before["order_id"].n_unique())
        labelled, matrix = repurchase_design(_label(cut_pairs, truth), cut_stats)
        rep_rows.append(matrix)
        rep_labels.append(labelled["in_next"].to_numpy())
        rep_weights.append(labelled["weight"].to_numpy())
        candidates = discovery_candidates(
            cut_pairs.join(truth.select("customer_id").unique(), on="customer_id"),
            training_neighbours,
            _popular(cut_stats, products),
        )
        labelled, matrix = discovery_design(_label(candidates, truth), cut_stats)
        dis_rows.append(matrix)
        dis_labels.append(labelled["in_next"].to_numpy())
        dis_weights.append(labelled["weight"].to_numpy())

    cohorts, popular_by_cohort = cohort_popularity(
        prepared, customers, products, as_of_utc
    )
    return Recommender(
        as_of=as_of_utc,
        tz=tz,
        products=products,
        stats=stats,
        neighbours=product_neighbours(prepared),
        popular_ids=tuple(_popular(stats, products)),
        cohort_popular=popular_by_cohort,
        customer_cohorts=cohorts,
        repurchase_fit=_fit_or_none(
            rep_rows, rep_labels, rep_weights, REPURCHASE_FEATURES
        ),
        discovery_fit=_fit_or_none(
            dis_rows, dis_labels, dis_weights, DISCOVERY_FEATURES
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
    prepared = prepare_lines(lines, as_of_utc, tz)
    pairs = repurchase_table(prepared, as_of_utc)
    active = recommender.products

    table, matrix = repurchase_design(pairs, recommender.stats)
    score = (
        recommender.repurchase_fit.predict_proba(matrix)
        if recommender.repurchase_fit is not None
        else (table["w_order"] / table["household_w_order"]).to_numpy()
    )
    repurchase = table.select(
        "customer_id",
        "product_id",
        pl.lit("repurchase").alias("kind"),
        pl.Series("score", score, dtype=pl.Float64),
        pl.format(
            "You bought this in {} of your {} orders, most recently {}",
            pl.col("orders_with"),
            pl.col("household_orders"),
            days_ago(pl.col("days_since").ceil().cast(pl.Int64)),
        ).alias("reason"),
    )
    candidates = discovery_candidates(
        pairs, recommender.neighbours, list(recommender.popular_ids)
    )
    table, matrix = discovery_design(candidates, recommender.stats)
    score = (
        recommender.discovery_fit.predict_proba(matrix)
        if recommender.discovery_fit is not None
        else table["association"].to_numpy()
    )
    anchor_names = active.select(
        pl.col("product_id").alias("anchor_id"),
        pl.col("product_name").alias("anchor_name"),
    )
    discovery = (
        table.with_columns(pl.Series("score", score, dtype=pl.Float64))
        .pipe(lookup, anchor_names, "anchor_id")
        .select(
            "customer_id",
            "product_id",
            pl.lit("discovery").alias("kind"),
            "score",
            pl.when(pl.col("anchor_name").is_not_null())
            .then(
                pl.format(
                    "Often in the same basket as {}, which you buy",
                    pl.col("anchor_name"),
                )
            )
            .otherwise(pl.lit("Popular with shoppers this month"))
            .alias("reason"),
        )
    )
    ranked = (
        pl.concat([repurchase, discovery])
        .pipe(lookup, active, "product_id")
        .filter(pl.col("product_name").is_not_null())
        .sort(["customer_id", "score", "product_id"], descending=[False, True, False])
        .group_by("customer_id", maintain_order=True)
        .head(k)
    )
    wanted = (
        customers.select(pl.col("customer_id").cast(pl.Utf8))
        if customers is not None
        else prepared.select("customer_id").unique()
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
        ranked.join(wanted, on="customer_id")
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


def recommendations_of(frame: pl.DataFrame) -> list[Recommendation]:
    """Rows of :func:`recommend` as frozen value objects."""
    fields = list(Recommendation.__dataclass_fields__)
    return [Recommendation(*row) for row in frame.select(fields).iter_rows()]
