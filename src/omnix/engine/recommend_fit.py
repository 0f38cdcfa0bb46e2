"""Fitting the next-basket recommender on the population's history.

Both regressions of :mod:`omnix.engine.recommend` are learned on the history
before the clock: at cut-offs ``as_of - 7 k`` days the features of every
household with an order in ``[cut-off, as_of)`` are labelled by the products
of its first such order, each row weighted by one over that order's size so
that the fit aims at the share of the next order that is found (the recall
the evaluation measures). Associations used in training come from the orders
before the earliest cut-off. The population figures the scoring reads are
kept as arrays over the product vocabulary (:class:`PopulationTables`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

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
    PairCounts,
    neighbour_frame,
    neighbours_of,
    pair_counts,
)
from omnix.engine.features import PreparedLines, check_as_of, check_tz, prepared_for
from omnix.engine.keys import IntArray, derived, isin, positions
from omnix.engine.logistic import LogisticFit, fit_logistic
from omnix.engine.recommend_cohorts import cohort_popularity
from omnix.engine.rhythm import Columns

FloatArray = npt.NDArray[np.float64]

__all__ = ["PopulationTables", "Recommender", "fit_recommender", "order_baskets"]

_MIN_CLASS = 20
_L2 = 1.0
# Negative training rows kept: one in this many (see _sample).
_REPURCHASE_SAMPLE = 8
_DISCOVERY_SAMPLE = 32
_SAMPLE_SEED = 11
_SAMPLE_ABOVE = 50_000
# Columns of repurchase_arrays that are per customer or global, not per pair.
_PER_CUSTOMER = ("orders_before", "total_orders")
# The columns discovery_candidates reads from the bought pairs.
_DISCOVERY_COLUMNS = ("w_order", "household_w_order", "household_orders")


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


def order_baskets(prepared: PreparedLines) -> Baskets:
    """The orders of the prepared lines, coded once per prepared lines."""
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
    baskets = order_baskets(prepared)
    vocabulary = baskets.products.len()
    table = repurchase_arrays(baskets, microseconds(as_of_utc))
    stats = product_stats(table, baskets.pair_product[table["pair"]], vocabulary)
    sellable_row = positions(products, "product_id", baskets.products)
    earliest = microseconds(as_of_utc - timedelta(days=step_days * windows))
    # Associations are counted first over the orders before the earliest
    # cut-off, which is what training may use (an order being predicted must
    # never inform the association that predicts it); the few orders since
    # are then added for the associations served to customers. This runs on
    # the calling thread: fit_population_models already keeps both cores of
    # the machine it was measured on busy (the recommender beside the other
    # models), and a third thread only competed for them (measured there,
    # with other jobs running, a fit took 5-10% more CPU time with it and no
    # less wall time).
    early = _early_counts(baskets, earliest)
    repurchase, discovery = _training_rows(
        baskets,
        lambda: neighbours_of(early),
        sellable_row >= 0,
        as_of_utc,
        windows,
        step_days,
    )
    neighbours = neighbours_of(_all_counts(baskets, early, earliest))
    cohorts, popular_by_cohort = cohort_popularity(
        prepared.frame, customers, products, as_of_utc
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
        repurchase_fit=_fit_or_none(*repurchase, REPURCHASE_FEATURES),
        discovery_fit=_fit_or_none(*discovery, DISCOVERY_FEATURES),
        tables=PopulationTables(
            stats=stats,
            neighbours=neighbours,
            popular=popular,
            sellable_row=sellable_row,
        ),
    )


Rows = tuple[list[FloatArray], list[npt.NDArray[np.bool_]], list[FloatArray]]


def _frequent(baskets: Baskets) -> IntArray:
    counts = np.bincount(baskets.item_product, minlength=baskets.products.len())
    return np.flatnonzero(counts >= MIN_ORDERS)


def _early_counts(baskets: Baskets, earliest: int) -> PairCounts:
    """Pair counts over the orders before ``earliest`` (the training ones)."""
    early = baskets.order_time[baskets.item_order] < earliest
    return pair_counts(
        baskets.item_order[early],
        baskets.item_product[early],
        baskets.products.len(),
        _frequent(baskets),
    )


def _all_counts(baskets: Baskets, early: PairCounts, earliest: int) -> PairCounts:
    """The early counts plus those of the orders since: every order's."""
    late = baskets.order_time[baskets.item_order] >= earliest
    recent = pair_counts(
        baskets.item_order[late],
        baskets.item_product[late],
        baskets.products.len(),
        early.columns,
    )
    return PairCounts(
        n_orders=early.n_orders + recent.n_orders,
        orders=early.orders + recent.orders,
        columns=early.columns,
        together=(early.together + recent.together).tocsr(),
    )


@dataclass(frozen=True, eq=False)
class _Window:
    """One training cut-off's bought pairs of the households it labels.

    ``pairs`` holds only the columns the discovery candidates read
    (:data:`_DISCOVERY_COLUMNS`).
    """

    pairs: Columns
    customer: IntArray
    product: IntArray
    stats: ProductStats
    truth: IntArray
    weight: FloatArray


def _training_rows(
    baskets: Baskets,
    training_neighbours: Callable[[], Neighbours],
    sellable: npt.NDArray[np.bool_],
    as_of: datetime,
    windows: int,
    step_days: int,
) -> tuple[Rows, Rows]:
    """Labelled, sampled and weighted rows of both regressions, every cut-off.

    The repurchase rows come first; the discovery rows need the training
    associations, which ``training_neighbours`` gives (called only when a
    cut-off has rows).
    """
    vocabulary = baskets.products.len()
    span = max(vocabulary, 1)
    now = microseconds(as_of)
    repurchase: Rows = ([], [], [])
    discovery: Rows = ([], [], [])
    cuts: list[tuple[int, _Window]] = []
    for k in range(1, windows + 1):
        cutoff = microseconds(as_of - timedelta(days=step_days * k))
        cut = repurchase_arrays(baskets, cutoff)
        items, weight = next_orders(baskets, cut["orders_before"], cutoff, now)
        customer = baskets.pair_customer[cut["pair"]]
        served = weight[customer] > 0
        if int(cut["total_orders"][0]) == 0 or not served.any():
            continue
        product = baskets.pair_product[cut["pair"]]
        in_next = np.zeros(baskets.pairs, bool)
        in_next[items] = True
        rows = np.flatnonzero(served)
        window = _Window(
            pairs={name: cut[name][rows] for name in _DISCOVERY_COLUMNS},
            customer=customer[served],
            product=product[served],
            stats=product_stats(cut, product, vocabulary),
            truth=baskets.pair_customer[items] * span + baskets.pair_product[items],
            weight=weight,
        )
        label = in_next[cut["pair"]][served]
        # One random stream per cut-off and kind, whatever the order of work.
        draw = np.random.default_rng([_SAMPLE_SEED, k, 0]).random(label.size)
        keep, sample_weight = _sample(
            label, weight[window.customer], _REPURCHASE_SAMPLE, draw
        )
        # Only the sampled rows' columns are gathered, straight from the cut.
        kept = rows[keep]
        repurchase[0].append(
            repurchase_design(
                {
                    name: column[kept]
                    for name, column in cut.items()
                    if name not in _PER_CUSTOMER
                },
                window.stats,
                product[kept],
            )
        )
        repurchase[1].append(label[keep])
        repurchase[2].append(sample_weight)
        cuts.append((k, window))

    neighbours = training_neighbours() if cuts else None
    for k, window in cuts:
        assert neighbours is not None
        candidates = discovery_candidates(
            window.pairs,
            window.customer,
            window.product,
            window.product,
            neighbours,
            popular_products(window.stats, sellable),
            vocabulary,
        )
        label = isin(
            candidates["customer"] * span + candidates["product"], window.truth
        )
        draw = np.random.default_rng([_SAMPLE_SEED, k, 1]).random(label.size)
        keep, sample_weight = _sample(
            label, window.weight[candidates["customer"]], _DISCOVERY_SAMPLE, draw
        )
        discovery[0].append(
            discovery_design(
                {name: column[keep] for name, column in candidates.items()},
                window.stats,
            )
        )
        discovery[1].append(label[keep])
        discovery[2].append(sample_weight)
    return repurchase, discovery
