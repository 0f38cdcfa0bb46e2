"""The orders of every household and the products in them, as NumPy arrays.

The next-basket recommender counts orders, not days: how many of a
household's orders held a product, how long ago, how many orders since.
:class:`Baskets` codes the prepared lines once: orders sorted by household
and time, and the distinct (order, product) items sorted by (household,
product) pair and then by time. At any cut-off, a household's orders before
it are a prefix of its orders, and a pair's items before it a prefix of its
items, so the features at several training cut-offs
(:func:`repurchase_arrays`) are grouped sums over the same arrays.

An order belongs to the time of its first line: a basket is either wholly
before a cut-off or wholly after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt
import polars as pl

from omnix.engine.keys import IntArray, column_codes, sort_order
from omnix.engine.rhythm import Columns

FloatArray = npt.NDArray[np.float64]

__all__ = [
    "Baskets",
    "FAST_ORDER_DECAY",
    "LONG_HALF_LIFE",
    "ORDER_DECAY",
    "SHORT_HALF_LIFE",
    "baskets_of",
    "microseconds",
    "next_orders",
    "repurchase_arrays",
]

# Decay per order back in time, and half-lives in days, for the weighted
# counts; 0.97 per order scored best among 0.8-0.99 on Complete Journey.
ORDER_DECAY = 0.97
FAST_ORDER_DECAY = 0.90
SHORT_HALF_LIFE = 30.0
LONG_HALF_LIFE = 120.0
_DAY_US = 86_400_000_000


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def microseconds(instant: datetime) -> int:
    """An aware instant as microseconds since the epoch (the lines' unit).

    A naive instant is read as UTC, as the lines' timestamps are. Integer
    arithmetic on the timedelta is exact (a float timestamp is not).
    """
    aware = instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)
    return (aware - _EPOCH) // _MICROSECOND


@dataclass(frozen=True, eq=False)
class Baskets:
    """Orders and their distinct products, coded (see the module docstring).

    Orders are sorted by customer, time and order id; ``order_start`` is
    each customer's first order and ``order_rank`` an order's position among
    its customer's orders (0 = oldest). Items are sorted by pair, then
    order; ``pair_start`` is each pair's first item.
    """

    customers: pl.Series
    products: pl.Series
    order_customer: IntArray
    order_time: IntArray
    order_start: IntArray
    order_rank: IntArray
    item_order: IntArray
    item_product: IntArray
    item_pair: IntArray
    pair_customer: IntArray
    pair_product: IntArray
    pair_start: IntArray

    @property
    def pairs(self) -> int:
        return int(self.pair_start.size)


def baskets_of(prepared: pl.DataFrame) -> Baskets:
    """Code the prepared lines into :class:`Baskets`."""
    customer, customers = column_codes(prepared, "customer_id")
    product, products = column_codes(prepared, "product_id")
    order_raw, order_ids = column_codes(prepared, "order_id")
    time = prepared.get_column("purchased_at").cast(pl.Int64).to_numpy()
    orders = order_ids.len()
    owner = np.zeros(orders, np.int64)
    owner[order_raw] = customer
    started = np.full(orders, np.iinfo(np.int64).max)
    np.minimum.at(started, order_raw, time)
    # Orders by customer, then time, then id (codes follow the ids' order).
    sequence = np.lexsort((np.arange(orders), started, owner))
    order_of_raw = np.empty(orders, np.int64)
    order_of_raw[sequence] = np.arange(orders)
    order_customer = owner[sequence]
    customer_orders = np.bincount(order_customer, minlength=customers.len())
    order_start = np.concatenate(([0], np.cumsum(customer_orders)[:-1]))
    order_rank = np.arange(orders) - order_start[order_customer]

    n_products = max(products.len(), 1)
    pair_raw = customer * n_products + product
    order = order_of_raw[order_raw]
    item_key = pair_raw * max(orders, 1) + order
    ordered = item_key[sort_order(item_key)]
    if ordered.size:
        ordered = ordered[np.diff(ordered, prepend=ordered[0] - 1) != 0]
    item_pair_raw = ordered // max(orders, 1)
    new_pair = np.diff(item_pair_raw, prepend=-1) != 0
    pair_start = np.flatnonzero(new_pair)
    pair_raw_start = item_pair_raw[pair_start]
    return Baskets(
        customers=customers,
        products=products,
        order_customer=order_customer,
        order_time=started[sequence],
        order_start=order_start,
        order_rank=order_rank,
        item_order=ordered % max(orders, 1),
        item_product=item_pair_raw % n_products,
        item_pair=np.cumsum(new_pair) - 1,
        pair_customer=pair_raw_start // n_products,
        pair_product=pair_raw_start % n_products,
        pair_start=pair_start,
    )


def repurchase_arrays(baskets: Baskets, cutoff: int) -> Columns:
    """Order-based features of every pair with an order before ``cutoff``.

    ``cutoff`` is in microseconds since the epoch. Per pair present:
    ``pair``, orders_with, w_order, w_fast, w_short, w_long (decayed counts
    of the orders holding the product), orders_since, days_since,
    days_since_first, and the customer's household_orders,
    household_w_order, household_w_short, household_w_long and
    household_days_since. ``orders_before`` (per customer) and
    ``total_orders`` come along for the product statistics and labels.
    """
    customers = baskets.customers.len()
    before = baskets.order_time < cutoff
    orders_before = np.bincount(baskets.order_customer[before], minlength=customers)
    orders_ago = (
        orders_before[baskets.order_customer] - 1 - baskets.order_rank
    ).astype(np.float64)
    age = (cutoff - baskets.order_time) / _DAY_US
    weights = {
        "w_order": ORDER_DECAY**orders_ago,
        "w_fast": FAST_ORDER_DECAY**orders_ago,
        "w_short": 0.5 ** (age / SHORT_HALF_LIFE),
        "w_long": 0.5 ** (age / LONG_HALF_LIFE),
    }
    owner = baskets.order_customer[before]

    item_in = before[baskets.item_order]
    item_pair = baskets.item_pair[item_in]
    item_order = baskets.item_order[item_in]
    count = np.bincount(item_pair, minlength=baskets.pairs)
    present = np.flatnonzero(count)
    with_product = count[present]
    first = baskets.pair_start[present]
    # A pair's items before the cut-off are a prefix of its items (by time).
    latest = baskets.item_order[first + with_product - 1]
    customer = baskets.pair_customer[present]
    household_days_since = np.full(customers, np.inf)
    if owner.size:
        # The customer's latest order before the cut-off is its youngest.
        last_order = baskets.order_start + orders_before - 1
        has = orders_before > 0
        household_days_since[has] = age[last_order[has]]
    table: Columns = {
        "pair": present,
        "orders_with": with_product,
        "orders_since": orders_ago[latest],
        "days_since": age[latest],
        "days_since_first": age[baskets.item_order[first]],
        "household_orders": orders_before[customer],
        "household_days_since": household_days_since[customer],
        "orders_before": orders_before,
        "total_orders": np.array([int(before.sum())]),
    }
    # One buffer takes each weight per item in turn: a fresh array of a
    # population's million items costs more in page faults than the gather.
    per_item = np.empty(item_order.size)
    for name, weight in weights.items():
        np.take(weight, item_order, out=per_item)
        table[name] = np.bincount(item_pair, per_item, minlength=baskets.pairs)[present]
        if name != "w_fast":
            household = np.bincount(owner, weight[before], minlength=customers)
            table[f"household_{name}"] = household[customer]
    return table


def next_orders(
    baskets: Baskets, orders_before: IntArray, start: int, end: int
) -> tuple[IntArray, FloatArray]:
    """Items of each customer's first order in ``[start, end)``.

    ``orders_before`` counts each customer's orders before ``start``
    (from :func:`repurchase_arrays` at ``start``). Returns the pair index
    of every item of those orders, and per customer the weight one over
    the order's number of products (zero without such an order).
    """
    customers = baskets.customers.len()
    orders = baskets.order_time.size
    candidate = baskets.order_start + orders_before
    total = np.bincount(baskets.order_customer, minlength=customers)
    has = orders_before < total
    has[has] = (baskets.order_time[candidate[has]] >= start) & (
        baskets.order_time[candidate[has]] < end
    )
    chosen = np.zeros(orders, bool)
    chosen[candidate[has]] = True
    items = np.flatnonzero(chosen[baskets.item_order])
    size = np.bincount(
        baskets.order_customer[baskets.item_order[items]], minlength=customers
    )
    weight = np.where(size > 0, 1.0 / np.maximum(size, 1), 0.0)
    return baskets.item_pair[items], weight
