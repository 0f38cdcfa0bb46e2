"""Integer codes for ids, and positions of ids in population tables.

The engine's heavy steps (grouping a population's million lines by household
and product, or one household's few thousand) run on integer codes with
NumPy: a grouped sum is one ``bincount``, where a Polars group-by on two
string columns costs a hash of every string and, on a small frame, a fixed
overhead that dominates the work.

Population tables (the catalogue, product statistics) are read for one
customer's few hundred products at a time. :func:`positions` finds their
rows through a dictionary built once per table and kept while the table
lives, instead of filtering a hundred thousand rows on every call.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

IntArray = npt.NDArray[np.int64]

__all__ = [
    "IntArray",
    "dense_codes",
    "distinct_sorted",
    "gather",
    "positions",
    "rank_within",
    "sort_order",
]


def sort_order(values: IntArray) -> IntArray:
    """Positions that sort ``values``, ties in their original order.

    Polars sorts integers several times faster than ``numpy.argsort`` (and
    ``numpy.unique`` slower still); the order is stable, so every grouped
    sum that follows adds its terms in the same order on every run.
    """
    frame = pl.DataFrame({"value": values}).with_row_index("position")
    ordered = frame.sort("value", maintain_order=True).get_column("position")
    return ordered.to_numpy().astype(np.int64)


def lexsort(*keys: npt.NDArray[Any]) -> IntArray:
    """Positions sorting rows by ``keys[0]``, then ``keys[1]``, ...

    ``numpy.lexsort`` (which takes its keys last-first) makes one stable
    pass per key; Polars sorts on all keys at once, several times faster
    on a few hundred thousand rows. Ties on every key keep their order.
    """
    frame = pl.DataFrame({f"k{i}": key for i, key in enumerate(keys)})
    ordered = frame.with_row_index("position").sort(
        [f"k{i}" for i in range(len(keys))], maintain_order=True
    )
    return ordered.get_column("position").to_numpy().astype(np.int64)


def rank_within(groups: IntArray) -> IntArray:
    """Position of each row within its run of equal ``groups`` (sorted)."""
    new_group = np.diff(groups, prepend=-1) != 0 if groups.size else groups > 0
    starts = np.flatnonzero(new_group)
    return np.arange(groups.size) - starts[np.cumsum(new_group) - 1]


def isin(values: IntArray, members: IntArray) -> npt.NDArray[np.bool_]:
    """Whether each of ``values`` is one of ``members`` (a hash lookup)."""
    found = pl.Series(values).is_in(pl.Series(members).implode())
    return found.to_numpy().astype(bool)


def distinct_sorted(values: IntArray) -> IntArray:
    """The distinct values, ascending."""
    # Stable (radix or merge) sorting is quick on the already sorted runs
    # this is mostly called on.
    ordered = np.sort(values, kind="stable")
    if ordered.size:
        ordered = ordered[np.diff(ordered, prepend=ordered[0] - 1) != 0]
    return ordered


def dense_codes(values: pl.Series) -> tuple[IntArray, pl.Series]:
    """Codes ``0..k-1`` for the distinct values, numbered in sorted order.

    Returns ``(codes, distinct)`` with ``distinct[codes[i]] == values[i]``.
    Numbering in sorted order (not in order of appearance) keeps every
    result that depends on row order the same whatever order the lines
    came in. Nulls are not expected (the prepared lines have none).
    """
    if values.len() == 0:
        return np.zeros(0, np.int64), values.clear()
    # The categorical cast hashes each string once; only the distinct values
    # are then sorted, which is cheap next to sorting every line. Its
    # physical codes are bounded integers, so the distinct ones are found by
    # marking a table rather than by sorting the lines.
    physical = values.cast(pl.Categorical).to_physical().to_numpy().astype(np.int64)
    size = int(physical.max()) + 1
    some_row = np.empty(size, np.int64)
    some_row[physical] = np.arange(physical.size)
    present = np.zeros(size, bool)
    present[physical] = True
    codes = np.flatnonzero(present)
    distinct = values.gather(some_row[codes])
    order = distinct.arg_sort().to_numpy()
    rank = np.empty(size, np.int64)
    rank[codes[order]] = np.arange(order.size)
    return rank[physical], distinct.gather(order)


class _Index:
    """Row of each id in one table column; dropped when the table is."""

    def __init__(self, column: pl.Series) -> None:
        ids = column.cast(pl.Utf8).to_list()
        # The first row of an id wins, as a left join on unique keys would.
        self.row: dict[str | None, int] = {}
        for row, key in enumerate(ids):
            self.row.setdefault(key, row)


# Above this many ids, a join costs less than looking each one up.
_JOIN_ABOVE = 5_000
_INDEXES: dict[tuple[int, str], tuple[weakref.ref[pl.DataFrame], _Index]] = {}


def _index(table: pl.DataFrame, column: str) -> _Index:
    key = (id(table), column)
    cached = _INDEXES.get(key)
    if cached is not None and cached[0]() is table:
        return cached[1]
    index = _Index(table.get_column(column))
    # The entry goes when the table is collected, so an id never outlives it.
    reference = weakref.ref(table, lambda _: _INDEXES.pop(key, None))
    _INDEXES[key] = (reference, index)
    return index


def positions(table: pl.DataFrame, column: str, ids: Sequence[str | None]) -> IntArray:
    """Row of each of ``ids`` in ``table[column]``, -1 where absent.

    For a few thousand ids, a dictionary built on the first call for a
    table and reused while that table object lives (tables are treated as
    immutable: the engine never changes a frame in place); for more, one
    hash join.
    """
    if len(ids) > _JOIN_ABOVE:
        wanted = pl.DataFrame({"key": pl.Series(ids, dtype=pl.Utf8)})
        rows = (
            table.select(pl.col(column).cast(pl.Utf8).alias("key"))
            .with_row_index("row")
            .unique("key", keep="first", maintain_order=True)
        )
        found = wanted.join(rows, on="key", how="left", maintain_order="left")
        return found.get_column("row").fill_null(-1).to_numpy().astype(np.int64)
    row = _index(table, column).row
    return np.fromiter((row.get(i, -1) for i in ids), np.int64, len(ids))


def gather(column: pl.Series, rows: IntArray) -> pl.Series:
    """``column[rows]`` with nulls where ``rows`` is -1."""
    missing = rows < 0
    taken = column.gather(np.where(missing, 0, rows)) if column.len() else None
    if taken is None:
        return pl.Series(column.name, [None] * rows.size, dtype=column.dtype)
    if missing.any():
        taken = taken.scatter(np.flatnonzero(missing), None)
    return taken
