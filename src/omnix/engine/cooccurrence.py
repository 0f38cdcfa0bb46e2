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

import numpy as np
import polars as pl
from scipy import sparse

__all__ = ["MIN_ORDERS", "MIN_TOGETHER", "NEIGHBOURS", "product_neighbours"]

MIN_ORDERS = 30
MIN_TOGETHER = 5
NEIGHBOURS = 20


def _empty() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "anchor_id": pl.Utf8,
            "product_id": pl.Utf8,
            "together": pl.Int64,
            "confidence": pl.Float64,
            "lift": pl.Float64,
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
    n_orders = baskets["order_id"].n_unique()
    counts = baskets.group_by("product_id").agg(pl.len().alias("orders"))
    frequent = counts.filter(pl.col("orders") >= min_orders).sort("product_id")
    if frequent.height < 2 or n_orders == 0:
        return _empty()
    index = frequent.with_row_index("column")
    coded = baskets.join(index, on="product_id").with_columns(
        pl.col("order_id").cast(pl.Categorical).to_physical().alias("row")
    )
    rows = coded["row"].to_numpy()
    columns = coded["column"].to_numpy()
    incidence = sparse.csr_matrix(
        (np.ones(rows.size, np.float32), (rows, columns)),
        shape=(int(rows.max()) + 1, frequent.height),
    )
    together = sparse.triu(incidence.T @ incidence, k=1).tocoo()
    keep = together.data >= min_together
    first, second = together.row[keep], together.col[keep]
    n_ab = together.data[keep].astype(np.float64)
    orders = frequent["orders"].to_numpy().astype(np.float64)
    ids = frequent["product_id"].to_numpy()
    lift = n_orders * n_ab / (orders[first] * orders[second])
    # Both directions: (a -> b) and (b -> a) share the lift, not the confidence.
    pairs = pl.DataFrame(
        {
            "anchor_id": np.concatenate([ids[first], ids[second]]),
            "product_id": np.concatenate([ids[second], ids[first]]),
            "together": np.concatenate([n_ab, n_ab]).astype(np.int64),
            "confidence": np.concatenate([n_ab / orders[first], n_ab / orders[second]]),
            "lift": np.concatenate([lift, lift]),
        },
        schema_overrides={"anchor_id": pl.Utf8, "product_id": pl.Utf8},
    )
    return (
        pairs.sort(["anchor_id", "lift", "product_id"], descending=[False, True, False])
        .group_by("anchor_id", maintain_order=True)
        .head(neighbours)
    )
