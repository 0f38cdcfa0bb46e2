"""Integer codes for ids, and positions of ids in population tables.

The engine's heavy steps (grouping a population's million lines by household
and product, or one household's few thousand) run on integer codes with
NumPy: a grouped sum is one ``bincount``, where a Polars group-by on two
string columns costs a hash of every string and, on a small frame, a fixed
overhead that dominates the work.

Population tables (the catalogue, product statistics) are read for one
customer's few hundred products at a time. :func:`positions` finds their
rows through an index built once per table and kept while the table lives,
instead of filtering a hundred thousand rows on every call; tables derived
from a frame are kept the same way (:func:`derived`).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt
import polars as pl

IntArray = npt.NDArray[np.int64]
T = TypeVar("T")

__all__ = [
    "IntArray",
    "column_codes",
    "dense_codes",
    "derived",
    "distinct_sorted",
    "gather",
    "grouped",
    "isin",
    "lexsort",
    "positions",
    "rank_within",
    "sort_order",
    "take",
    "top_rows",
]


# Below this many rows, NumPy's per-call cost is lower than Polars'.
_SMALL = 20_000


def sort_order(values: IntArray) -> IntArray:
    """Positions that sort ``values``, ties in their original order.

    Polars sorts a population's integers several times faster than
    ``numpy.argsort`` (and ``numpy.unique`` slower still), but costs a fixed
    fraction of a millisecond that NumPy does not on one household's few
    thousand. The order is stable, so every grouped sum that follows adds
    its terms in the same order on every run.
    """
    if values.size < _SMALL:
        return np.argsort(values, kind="stable").astype(np.int64)
    frame = pl.DataFrame({"value": values}).with_row_index("position")
    ordered = frame.sort("value", maintain_order=True).get_column("position")
    return ordered.to_numpy().astype(np.int64)


def grouped(key: IntArray) -> tuple[IntArray, IntArray]:
    """The distinct keys (ascending) and the group of each row among them.

    Keys spanning a range not much wider than the rows are counted into a
    table (no sorting at all); wider ones are ranked by Polars.
    """
    if key.size == 0:
        return key.copy(), np.zeros(0, np.int64)
    low = int(key.min())
    width = int(key.max()) - low + 1
    if width <= 2 * key.size + 65_536:
        present = np.bincount(key - low, minlength=width) > 0
        remap = np.cumsum(present) - 1
        return np.flatnonzero(present) + low, remap[key - low]
    if key.size < _SMALL:
        distinct, group = np.unique(key, return_inverse=True)
        return distinct.astype(np.int64), group.ravel().astype(np.int64)
    group = pl.Series(key).rank("dense").to_numpy().astype(np.int64) - 1
    distinct = np.empty(int(group.max()) + 1, np.int64)
    distinct[group] = key
    return distinct, group


def lexsort(*keys: npt.NDArray[Any], stable: bool = True) -> IntArray:
    """Positions sorting rows by ``keys[0]``, then ``keys[1]``, ...

    ``numpy.lexsort`` (which takes its keys last-first) makes one stable
    pass per key; Polars sorts on all keys at once, several times faster
    on a few hundred thousand rows. With ``stable``, rows tied on every key
    keep their order; without it (for keys that never tie) the sort is
    faster still. Below a few thousand rows NumPy's fixed cost is lower.
    """
    if keys[0].size < _SMALL:
        return np.lexsort(keys[::-1]).astype(np.int64)
    frame = pl.DataFrame({f"k{i}": key for i, key in enumerate(keys)})
    ordered = frame.with_row_index("position").sort(
        [f"k{i}" for i in range(len(keys))], maintain_order=stable
    )
    return ordered.get_column("position").to_numpy().astype(np.int64)


def top_rows(group: IntArray, keys: Sequence[npt.NDArray[Any]], k: int) -> IntArray:
    """The rows with the ``k`` largest ``keys`` (compared in turn) per group.

    Returned in order of group, then keys from the largest. On a
    population, a Polars group-wise top-k picks the rows before any sorting,
    several times cheaper than sorting every row.
    """
    if group.size >= _SMALL:
        names = [f"k{i}" for i in range(len(keys))]
        frame = pl.DataFrame(
            {"group": group, **dict(zip(names, keys, strict=True))}
        ).with_row_index("row")
        chosen = (
            frame.group_by("group")
            .agg(pl.col("row").top_k_by(names, k))
            .get_column("row")
            .explode()
            .to_numpy()
            .astype(np.int64)
        )
    else:
        chosen = np.arange(group.size)
    order = lexsort(group[chosen], *(-key[chosen] for key in keys), stable=False)
    ranked = chosen[order]
    return ranked[rank_within(group[ranked]) < k]


def rank_within(groups: IntArray) -> IntArray:
    """Position of each row within its run of equal ``groups`` (sorted)."""
    new_group = np.diff(groups, prepend=-1) != 0 if groups.size else groups > 0
    starts = np.flatnonzero(new_group)
    return np.arange(groups.size) - starts[np.cumsum(new_group) - 1]


def isin(values: IntArray, members: IntArray) -> npt.NDArray[np.bool_]:
    """Whether each of ``values`` is one of ``members`` (a hash lookup)."""
    if values.size + members.size < _SMALL:
        return np.isin(values, members)
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

    Returns ``(codes, distinct)`` with ``distinct[codes[i]] == values[i]``;
    a null value gets the code -1 and is not among ``distinct``. Numbering
    in sorted order (not in order of appearance) keeps every result that
    depends on row order the same whatever order the lines came in.
    """
    present = values.drop_nulls() if values.null_count() else values
    if present.len() == 0:
        return np.full(values.len(), -1, np.int64), present
    if values.len() < _SMALL:
        # A binary search among the sorted distinct values costs less than
        # the categorical cast's fixed overhead on a household's lines. One
        # select finds and sorts them (each Polars call costs tens of
        # microseconds whatever its size).
        distinct = present.to_frame().select(pl.first().unique().sort()).to_series()
        dense = distinct.search_sorted(values).to_numpy().astype(np.int64)
        if present.len() < values.len():
            dense[values.is_null().to_numpy()] = -1
        return dense, distinct
    # The categorical cast hashes each string once; only the distinct values
    # are then sorted, which is cheap next to sorting every line. Its
    # physical codes are bounded integers, so the distinct ones are found by
    # marking a table rather than by sorting the lines.
    physical = values.cast(pl.Categorical).to_physical()
    missing = physical.is_null().to_numpy() if present.len() < values.len() else None
    codes = physical.fill_null(0).to_numpy().astype(np.int64)
    size = int(codes.max()) + 1
    rows = np.arange(codes.size) if missing is None else np.flatnonzero(~missing)
    some_row = np.empty(size, np.int64)
    some_row[codes[rows]] = rows
    seen = np.zeros(size, bool)
    seen[codes[rows]] = True
    used = np.flatnonzero(seen)
    distinct = values.gather(some_row[used])
    order = distinct.arg_sort().to_numpy()
    rank = np.empty(size, np.int64)
    rank[used[order]] = np.arange(order.size)
    dense = rank[codes]
    if missing is not None:
        dense[missing] = -1
    return dense, distinct.gather(order)


_CACHES: dict[int, tuple[weakref.ref[pl.DataFrame], dict[str, Any]]] = {}


def derived(frame: pl.DataFrame, name: str, build: Callable[[pl.DataFrame], T]) -> T:
    """``build(frame)``, computed once per frame object and kept while it lives.

    The analyses of one customer (or the fits of one population) all start
    from the same prepared frame; whichever needs a table derived from it
    first (codes, purchase days, baskets) builds it, and the rest reuse it.
    Frames are treated as immutable: the engine never changes one in place.
    """
    key = id(frame)
    entry = _CACHES.get(key)
    if entry is None or entry[0]() is not frame:
        # The entry goes when the frame is collected, so an id never outlives it.
        entry = (weakref.ref(frame, lambda _: _CACHES.pop(key, None)), {})
        _CACHES[key] = entry
    tables = entry[1]
    if name not in tables:
        tables[name] = build(frame)
    return cast(T, tables[name])


def column_codes(frame: pl.DataFrame, column: str) -> tuple[IntArray, pl.Series]:
    """:func:`dense_codes` of a column, computed once per frame."""
    return derived(
        frame, f"codes:{column}", lambda f: dense_codes(f.get_column(column))
    )


@dataclass(frozen=True, eq=False)
class _HashIndex:
    """A table column's ids by hash: sorted hashes and the row of each.

    ``ids`` holds the ids as Python strings (None for a null), so that the
    check of the few hundred rows found is a NumPy comparison rather than
    two Polars expressions, each costing more than the search itself.
    """

    ids: npt.NDArray[np.object_]
    hashes: npt.NDArray[np.uint64]
    rows: IntArray


def _hash_index(table: pl.DataFrame, column: str) -> _HashIndex:
    def build(frame: pl.DataFrame) -> _HashIndex:
        ids = frame.get_column(column).cast(pl.Utf8)
        hashes = ids.hash(seed=_SEED).to_numpy()
        # Stable, so the first row of a repeated id comes first, as a left
        # join on unique keys would pick it.
        rows = np.argsort(hashes, kind="stable").astype(np.int64)
        return _HashIndex(np.asarray(ids.to_numpy(), object), hashes[rows], rows)

    return derived(table, f"hash-index:{column}", build)


# Above this many ids, a join costs less than looking each one up.
_JOIN_ABOVE = 5_000
_SEED = 20_240_101


def positions(
    table: pl.DataFrame, column: str, ids: Sequence[str | None] | pl.Series
) -> IntArray:
    """Row of each of ``ids`` in ``table[column]``, -1 where absent.

    For a few thousand ids, a binary search among the column's hashes,
    sorted once per table and kept while that table object lives, then a
    check of the ids found (so two ids sharing a hash cannot be confused);
    for more, one hash join. A search over eight bytes per row stays fast
    when other work has pushed the table out of the cache, where a Python
    dictionary of a hundred thousand strings does not.
    """
    wanted = ids if isinstance(ids, pl.Series) else pl.Series(ids, dtype=pl.Utf8)
    wanted = wanted.cast(pl.Utf8)
    if wanted.len() > _JOIN_ABOVE:
        rows = (
            table.select(pl.col(column).cast(pl.Utf8).alias("key"))
            .with_row_index("row")
            .unique("key", keep="first", maintain_order=True)
        )
        joined = wanted.to_frame("key").join(
            rows, on="key", how="left", maintain_order="left"
        )
        return joined.get_column("row").fill_null(-1).to_numpy().astype(np.int64)
    index = _hash_index(table, column)
    if index.hashes.size == 0:
        return np.full(wanted.len(), -1, np.int64)
    hashes = wanted.hash(seed=_SEED).to_numpy()
    at = np.minimum(np.searchsorted(index.hashes, hashes), index.hashes.size - 1)
    row = index.rows[at]
    names = np.asarray(wanted.to_numpy(), object)
    # A null id is never found, even where the table holds a null.
    known = (
        wanted.is_not_null().to_numpy()
        if wanted.null_count()
        else np.ones(names.size, bool)
    )
    same = np.asarray(index.ids[row] == names, bool) & known
    found = np.where(same, row, -1).astype(np.int64)
    clash = ~same & (index.hashes[at] == hashes) & known
    for missed in np.flatnonzero(clash):
        # Another id shares this hash: look along the run of equal hashes.
        run = index.rows[np.flatnonzero(index.hashes == hashes[missed])]
        match = np.asarray(index.ids[run] == names[missed], bool)
        if match.any():
            found[missed] = run[np.argmax(match)]
    return found


def take(column: pl.Series, rows: npt.NDArray[Any]) -> pl.Series:
    """``column.gather(rows)`` for non-negative positions, by indexing.

    ``Series.gather`` runs as an expression on a one-column frame, a fixed
    cost of tens of microseconds that indexing with an integer array does
    not pay; a household's analysis gathers a couple of dozen columns.
    """
    return column[np.asarray(rows, np.int64)]


def gather(column: pl.Series, rows: IntArray) -> pl.Series:
    """``column[rows]`` with nulls where ``rows`` is -1."""
    missing = rows < 0
    taken = take(column, np.where(missing, 0, rows)) if column.len() else None
    if taken is None:
        return pl.Series(column.name, [None] * rows.size, dtype=column.dtype)
    if missing.any():
        taken = taken.scatter(np.flatnonzero(missing), None)
    return taken
