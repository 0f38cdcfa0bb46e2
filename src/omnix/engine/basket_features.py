"""Order-level features for the next-basket recommender.

Recommendation is scored as "will this product be in the customer's next
order?", so the features count orders rather than days
(:func:`omnix.engine.baskets.repurchase_arrays`): how many of the
customer's orders held the product, the same count with older orders weighed
down (per order and per day), how many orders and days since it was last
bought, and population statistics of the product (buyers, repeat share,
recent trend, share of all orders). Discovery candidates (products the
customer never bought) are reached from the customer's staple products
through :class:`omnix.engine.cooccurrence.Neighbours`, or are the products
most bought by everyone lately.

Population figures live in arrays indexed by a product vocabulary (the
population's products, sorted by id); a customer's products are mapped to
it once, and a product outside it (-1) reads neutral figures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from omnix.engine.cooccurrence import Neighbours
from omnix.engine.keys import IntArray, distinct_sorted, isin, lexsort, top_rows
from omnix.engine.rhythm import Columns

FloatArray = npt.NDArray[np.float64]

__all__ = [
    "ANCHORS",
    "DISCOVERY_FEATURES",
    "POPULAR_CANDIDATES",
    "REPURCHASE_FEATURES",
    "ProductStats",
    "discovery_candidates",
    "discovery_design",
    "popular_products",
    "product_stats",
    "repurchase_design",
]

REPURCHASE_FEATURES = (
    "log_orders_with",
    "log_share_of_orders",
    "log_decayed_share",
    "log_decayed_orders",
    "log_fast_decayed_orders",
    "log_recent_days_weight",
    "log_long_days_weight",
    "log_long_days_share",
    "log_recent_days_share",
    "log_orders_since",
    "log_days_since",
    "log_days_since_over_gap",
    "log_household_days_since",
    "log_product_buyers",
    "product_repeat_share",
    "bought_once",
    "product_trend",
)
DISCOVERY_FEATURES = (
    "log_association",
    "log_best_lift",
    "log_product_order_share",
    "product_trend",
    "log_household_orders",
    "from_popular",
    "log_product_buyers",
)
ANCHORS = 15
POPULAR_CANDIDATES = 30
_REPEAT_PRIOR = 5.0


@dataclass(frozen=True, eq=False)
class ProductStats:
    """Population statistics per product of a vocabulary.

    ``repeat_share`` is the share of the product's buyers with two orders
    of it or more, pulled towards the population's share with five
    pseudo-buyers; ``order_share`` the share of all orders holding it;
    ``trend`` the log ratio of its 30-day to its 120-day decayed orders;
    ``recent_weight`` its 30-day decayed orders.
    """

    buyers: FloatArray
    repeat_share: FloatArray
    order_share: FloatArray
    trend: FloatArray
    recent_weight: FloatArray


def product_stats(table: Columns, product: IntArray, products: int) -> ProductStats:
    """Statistics from :func:`~omnix.engine.baskets.repurchase_arrays`.

    ``product`` is the vocabulary code of each pair in ``table``.
    """
    orders_with = table["orders_with"]
    repeat = (orders_with >= 2).astype(np.float64)
    overall = float(repeat.mean()) if repeat.size else 0.0
    buyers = np.bincount(product, minlength=products).astype(np.float64)
    repeaters = np.bincount(product, repeat, minlength=products)
    orders = np.bincount(product, orders_with, minlength=products)
    short = np.bincount(product, table["w_short"], minlength=products)
    long = np.bincount(product, table["w_long"], minlength=products)
    total = max(int(table["total_orders"][0]), 1)
    return ProductStats(
        buyers=buyers,
        repeat_share=(repeaters + _REPEAT_PRIOR * overall) / (buyers + _REPEAT_PRIOR),
        order_share=orders / total,
        trend=np.log((short + 1.0) / (long + 1.0)),
        recent_weight=np.asarray(short, np.float64),
    )


def popular_products(stats: ProductStats, sellable: npt.NDArray[np.bool_]) -> IntArray:
    """The :data:`POPULAR_CANDIDATES` sellable products most bought lately."""
    candidates = np.flatnonzero(sellable & (stats.buyers > 0))
    order = np.lexsort((candidates, -stats.recent_weight[candidates]))
    return candidates[order[:POPULAR_CANDIDATES]]


def _product_columns(
    stats: ProductStats, product: IntArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Buyers, repeat share, order share and trend; neutral outside the vocabulary.

    A product the population never bought has no buyers, no order share, no
    trend, and the mean repeat share of the products alongside it.
    """
    known = product >= 0
    at = np.where(known, product, 0)
    repeat_share = np.where(known, stats.repeat_share[at], np.nan)
    fill = float(np.nanmean(repeat_share)) if known.any() else 0.0
    return (
        np.where(known, stats.buyers[at], 0.0),
        np.where(known, repeat_share, fill),
        np.where(known, stats.order_share[at], 0.0),
        np.where(known, stats.trend[at], 0.0),
    )


def repurchase_design(
    table: Columns, stats: ProductStats, product: IntArray
) -> FloatArray:
    """Feature matrix (columns :data:`REPURCHASE_FEATURES`) of bought pairs.

    ``product`` is the vocabulary code of each pair (-1 outside it).
    """
    buyers, repeat_share, _, trend = _product_columns(stats, product)
    orders_with = table["orders_with"].astype(np.float64)
    days_since = table["days_since"]
    gap = (table["days_since_first"] - days_since) / np.maximum(orders_with - 1, 1)
    w_order, w_short, w_long = table["w_order"], table["w_short"], table["w_long"]
    tiny = 1e-6
    return np.column_stack(
        [
            np.log(orders_with),
            np.log(orders_with / np.maximum(table["household_orders"], 1.0)),
            np.log(w_order / np.maximum(table["household_w_order"], tiny)),
            np.log(w_order + tiny),
            np.log(table["w_fast"] + tiny),
            np.log(w_short + tiny),
            np.log(w_long + tiny),
            np.log((w_long + tiny) / (table["household_w_long"] + tiny)),
            np.log((w_short + tiny) / (table["household_w_short"] + tiny)),
            np.log1p(table["orders_since"]),
            np.log1p(days_since),
            np.log1p(days_since) - np.log1p(gap),
            np.log1p(table["household_days_since"]),
            np.log1p(buyers),
            repeat_share,
            (orders_with == 1).astype(np.float64),
            trend,
        ]
    )


def discovery_candidates(
    table: Columns,
    customer: IntArray,
    local_product: IntArray,
    product: IntArray,
    neighbours: Neighbours,
    popular: IntArray,
    products: int,
) -> Columns:
    """Products each customer never bought, reached from staples or popularity.

    ``table`` holds the customers' bought pairs, with their ``customer``
    codes, product codes in the customers' own numbering (sorted by id, for
    ties) and in the vocabulary (``product``, -1 outside it). Each
    customer's :data:`ANCHORS` products with the largest order-decayed
    weight lead to their neighbours; the association of a candidate is the
    sum over anchors of the anchor's decayed share of the customer's orders
    times ``P(candidate | anchor)``, and the anchor giving most is kept for
    the reason. The ``popular`` products are offered to every customer who
    has not bought them, with the association they happen to have (zero when
    none). Returns customer, product (vocabulary), association, best_lift,
    anchor (-1 when popular only), from_popular and household_orders.
    """
    # Each customer's products by weight, ties to the smaller id.
    anchors = top_rows(customer, [table["w_order"], -local_product], ANCHORS)
    anchors = anchors[product[anchors] >= 0]
    share = table["w_order"][anchors] / table["household_w_order"][anchors]
    owner, partner = neighbours.of(product[anchors])

    span = max(products, 1)
    known = product >= 0
    bought = customer[known] * span + product[known]
    key = customer[anchors][owner] * span + neighbours.product[partner]
    fresh = ~isin(key, bought)
    key, owner, partner = key[fresh], owner[fresh], partner[fresh]
    contribution = share[owner] * neighbours.confidence[partner]
    lift, anchor = neighbours.lift[partner], product[anchors][owner]
    by_key = lexsort(key, -contribution)
    key = key[by_key]
    starts = np.flatnonzero(np.diff(key, prepend=-1))
    associated = key[starts]

    customers = distinct_sorted(customer)
    offered = (customers[:, None] * span + popular[None, :]).ravel()
    offered = offered[~isin(offered, bought)]
    every = distinct_sorted(np.concatenate([associated, offered]))
    found = isin(every, associated)
    at = np.searchsorted(associated, every[found])
    association = np.zeros(every.size)
    best_lift = np.ones(every.size)
    best_anchor = np.full(every.size, -1)
    if starts.size:
        association[found] = np.add.reduceat(contribution[by_key], starts)[at]
        best_lift[found] = np.maximum.reduceat(lift[by_key], starts)[at]
        best_anchor[found] = anchor[by_key][starts][at]
    household_orders = np.zeros(int(customer.max()) + 1 if customer.size else 0)
    household_orders[customer] = table["household_orders"]
    return {
        "customer": every // span,
        "product": every % span,
        "association": association,
        "best_lift": best_lift,
        "anchor": best_anchor,
        "from_popular": isin(every, offered),
        "household_orders": household_orders[every // span],
    }


def discovery_design(candidates: Columns, stats: ProductStats) -> FloatArray:
    """Feature matrix (columns :data:`DISCOVERY_FEATURES`) of candidates."""
    buyers, _, order_share, trend = _product_columns(stats, candidates["product"])
    return np.column_stack(
        [
            np.log(candidates["association"] + 1e-4),
            np.log(np.maximum(candidates["best_lift"], 1e-3)),
            np.log(order_share + 1e-6),
            trend,
            np.log(np.maximum(candidates["household_orders"], 1.0)),
            candidates["from_popular"].astype(np.float64),
            np.log1p(buyers),
        ]
    )
