"""Item-to-item association from baskets: which products travel together.

For products ``a`` and ``b`` over the orders of the population, with ``n``
orders, ``n_a`` orders holding ``a`` and ``n_ab`` holding both:

* confidence ``P(b | a) = n_ab / n_a``;
* lift ``P(a, b) / (P(a) P(b)) = n n_ab / (n_a n_b)``, above 1 when the two
  are bought together more often than chance.

These are the association-rule measures of Agrawal, Imielinski & Swami
(SIGMOD 1993) and Brin, Motwani, Ullman & Tsur (SIGMOD 1997, "interest").
Only products in at least :data:`MIN_ORDERS` orders take part and only pairs
seen together in :data:`MIN_TOGETHER` orders are kept, so that a lift is not
read off a handful of coincidences; each product keeps its
:data:`NEIGHBOURS` best partners by lift. The order-by-product incidence
matrix is sparse, and ``B^T B`` gives every pair count in one product.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy import sparse

from omnix.engine.keys import IntArray, dense_codes, top_rows

FloatArray = npt.NDArray[np.float64]

__all__ = [
    "MIN_ORDERS",
    "MIN_TOGETHER",
    "NEIGHBOURS",
    "Neighbours",
    "PairCounts",
    "neighbour_arrays",
    "neighbour_frame",
    "neighbours_of",
    "pair_counts",
    "product_neighbours",
]

MIN_ORDERS = 30
MIN_TOGETHER = 5
NEIGHBOURS = 20


@dataclass(frozen=True, eq=False)
class Neighbours:
    """Each product's best partners, grouped by anchor (codes of a vocabulary).

    The partners of anchor ``a`` are rows ``start[a]:start[a + 1]``, best
    lift first.
    """

    start: IntArray
    product: IntArray
    together: IntArray
    confidence: FloatArray
    lift: FloatArray

    def of(self, anchors: IntArray) -> tuple[IntArray, IntArray]:
        """(position in ``anchors``, partner row) for every partner reached."""
        first, last = self.start[anchors], self.start[anchors + 1]
        counts = last - first
        owner = np.repeat(np.arange(anchors.size), counts)
        offset = np.arange(int(counts.sum())) - np.repeat(
            np.cumsum(counts) - counts, counts
        )
        return owner, first[owner] + offset


@dataclass(frozen=True, eq=False)
class PairCounts:
    """Orders holding each product, and each pair of frequent products.

    ``together`` is the symmetric matrix ``B^T B`` of the order-by-product
    incidence ``B`` over the ``columns`` products (a vocabulary's codes);
    ``orders`` counts every product's orders and ``n_orders`` all orders.
    """

    n_orders: int
    orders: IntArray
    columns: IntArray
    together: sparse.csr_matrix


def pair_counts(
    order: IntArray, product: IntArray, products: int, columns: IntArray
) -> PairCounts:
    """Count orders per product and per pair among ``columns`` (sorted codes).

    ``order`` and ``product`` are codes of distinct (order, product) items.
    """
    n_orders = int(np.count_nonzero(np.bincount(order))) if order.size else 0
    column = np.full(products, -1)
    column[columns] = np.arange(columns.size)
    keep = column[product] >= 0
    # Rows of B^T are products, so the product is one sparse self-product;
    # orders without any of the columns' products add nothing.
    rows = int(order.max()) + 1 if order.size else 1
    incidence = sparse.csr_matrix(
        (
            np.ones(int(keep.sum()), np.int32),
            (column[product[keep]], order[keep]),
        ),
        shape=(columns.size, rows),
    )
    return PairCounts(
        n_orders=n_orders,
        orders=np.bincount(product, minlength=products),
        columns=columns,
        together=(incidence @ incidence.T).tocsr(),
    )


def neighbours_of(
    counts: PairCounts,
    *,
    min_orders: int = MIN_ORDERS,
    min_together: int = MIN_TOGETHER,
    neighbours: int = NEIGHBOURS,
) -> Neighbours:
    """The strongest partners by lift of each product with enough orders."""
    products = counts.orders.size
    frequent = counts.orders[counts.columns] >= min_orders
    if int(frequent.sum()) < 2 or counts.n_orders == 0:
        return Neighbours(
            np.zeros(products + 1, np.int64),
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            np.zeros(0),
            np.zeros(0),
        )
    matrix = counts.together
    # Only entries seen together often enough, above the diagonal.
    entry = np.flatnonzero(matrix.data >= min_together)
    row = np.searchsorted(matrix.indptr, entry, side="right") - 1
    col = matrix.indices[entry]
    upper = (row < col) & frequent[row] & frequent[col]
    first, second = counts.columns[row[upper]], counts.columns[col[upper]]
    n_ab = matrix.data[entry[upper]].astype(np.float64)
    orders = counts.orders.astype(np.float64)
    lift = counts.n_orders * n_ab / (orders[first] * orders[second])
    # Both directions: (a -> b) and (b -> a) share the lift, not the confidence.
    anchor = np.concatenate([first, second])
    partner = np.concatenate([second, first])
    both_lift = np.concatenate([lift, lift])
    ranked = top_rows(anchor, [both_lift, -partner], neighbours)
    anchor = anchor[ranked]
    n_both = np.concatenate([n_ab, n_ab])[ranked]
    return Neighbours(
        start=np.searchsorted(anchor, np.arange(products + 1), side="left"),
        product=partner[ranked],
        together=n_both.astype(np.int64),
        confidence=n_both / orders[anchor],
        lift=both_lift[ranked],
    )


def neighbour_arrays(
    order: IntArray,
    product: IntArray,
    products: int,
    *,
    min_orders: int = MIN_ORDERS,
    min_together: int = MIN_TOGETHER,
    neighbours: int = NEIGHBOURS,
) -> Neighbours:
    """The strongest partners of each product by lift, from distinct items.

    ``order`` and ``product`` are codes of the distinct (order, product)
    items; products are ``0..products-1``.
    """
    columns = np.flatnonzero(np.bincount(product, minlength=products) >= min_orders)
    return neighbours_of(
        pair_counts(order, product, products, columns),
        min_orders=min_orders,
        min_together=min_together,
        neighbours=neighbours,
    )


def neighbour_frame(table: Neighbours, ids: pl.Series) -> pl.DataFrame:
    """:class:`Neighbours` as a frame of ids (the :func:`product_neighbours` form)."""
    anchor = np.repeat(np.arange(table.start.size - 1), np.diff(table.start))
    return pl.DataFrame(
        {
            "anchor_id": ids.gather(anchor).cast(pl.Utf8),
            "product_id": ids.gather(table.product).cast(pl.Utf8),
            "together": table.together,
            "confidence": table.confidence,
            "lift": table.lift,
        }
    )


def product_neighbours(
    order_lines: pl.DataFrame,
    *,
    min_orders: int = MIN_ORDERS,
    min_together: int = MIN_TOGETHER,
    neighbours: int = NEIGHBOURS,
) -> pl.DataFrame:
    """The strongest partners of each product by lift.

    Parameters
    ----------
    order_lines : polars.DataFrame
        At least ``order_id`` and ``product_id``; duplicates are ignored.

    Returns
    -------
    polars.DataFrame
        anchor_id, product_id, together (orders holding both), confidence
        ``P(product | anchor)`` and lift, at most ``neighbours`` rows per
        anchor, best lift first.
    """
    baskets = order_lines.select(
        pl.col("order_id").cast(pl.Utf8), pl.col("product_id").cast(pl.Utf8)
    ).unique()
    order, _ = dense_codes(baskets.get_column("order_id"))
    product, ids = dense_codes(baskets.get_column("product_id"))
    table = neighbour_arrays(
        order,
        product,
        ids.len(),
        min_orders=min_orders,
        min_together=min_together,
        neighbours=neighbours,
    )
    return neighbour_frame(table, ids)
