"""Integer coding, grouping and lookups: the NumPy path for a household's few
thousand rows and the Polars path for a population's million give the same
answers as a plain reference."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl
import pytest

from omnix.engine import keys
from omnix.engine.features import records
from omnix.engine.keys import (
    column_codes,
    dense_codes,
    derived,
    grouped,
    isin,
    lexsort,
    positions,
    sort_order,
)


@pytest.fixture(params=["numpy", "polars"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test once on each path: everything small, or everything large."""
    monkeypatch.setattr(keys, "_SMALL", 10**9 if request.param == "numpy" else 0)
    return str(request.param)


def test_dense_codes_number_the_sorted_distinct_values(path: str) -> None:
    values = pl.Series(["pear", None, "apple", "pear", "fig", None, "apple"])
    codes, distinct = dense_codes(values)
    assert distinct.to_list() == ["apple", "fig", "pear"]
    assert codes.tolist() == [2, -1, 0, 2, 1, -1, 0]
    codes, distinct = dense_codes(pl.Series([None, None], dtype=pl.Utf8))
    assert codes.tolist() == [-1, -1]
    assert distinct.len() == 0


def test_grouped_matches_numpy_unique(path: str) -> None:
    rng = np.random.default_rng(3)
    # One narrow key range (counted into a table) and one wide (ranked).
    for key in (rng.integers(0, 50, 400), rng.integers(0, 10**12, 400)):
        distinct, group = grouped(key)
        expected, inverse = np.unique(key, return_inverse=True)
        assert distinct.tolist() == expected.tolist()
        assert group.tolist() == inverse.ravel().tolist()


def test_sorting_and_membership_match_numpy(path: str) -> None:
    rng = np.random.default_rng(5)
    first = rng.integers(0, 5, 300)
    second = rng.random(300).round(1)
    third = np.arange(300)[::-1]
    assert lexsort(first, second, third).tolist() == (
        np.lexsort((third, second, first)).tolist()
    )
    # Ties on every key keep their order.
    assert lexsort(first, second).tolist() == np.lexsort((second, first)).tolist()
    assert sort_order(first).tolist() == np.argsort(first, kind="stable").tolist()
    members = rng.integers(0, 40, 30)
    values = rng.integers(0, 60, 200)
    assert isin(values, members).tolist() == np.isin(values, members).tolist()


def test_positions_find_rows_or_minus_one(monkeypatch: pytest.MonkeyPatch) -> None:
    table = pl.DataFrame({"product_id": ["b", "a", "c", "a"], "name": list("wxyz")})
    wanted = ["a", "zz", "c", "b", None]
    by_dictionary = positions(table, "product_id", wanted)
    monkeypatch.setattr(keys, "_JOIN_ABOVE", 0)
    by_join = positions(table, "product_id", wanted)
    # The first row of a repeated id wins, as a left join on unique keys.
    assert by_dictionary.tolist() == [1, -1, 2, 0, -1]
    assert by_join.tolist() == by_dictionary.tolist()


def test_derived_tables_live_with_their_frame() -> None:
    frame = pl.DataFrame({"product_id": ["b", "a", "b"]})
    built: list[int] = []

    def build(source: pl.DataFrame) -> int:
        built.append(source.height)
        return source.height

    assert derived(frame, "height", build) == 3
    assert derived(frame, "height", build) == 3
    assert built == [3]
    assert column_codes(frame, "product_id")[0].tolist() == [1, 0, 1]
    other = frame.clone()
    assert derived(other, "height", build) == 3
    assert built == [3, 3]


@dataclass(frozen=True)
class _Row:
    name: str
    count: int
    day: date


def test_records_equal_constructed_value_objects() -> None:
    frame = pl.DataFrame(
        {"name": ["a", "b"], "count": [1, 2], "day": [date(2024, 1, 1), None]}
    )
    made = records(_Row, frame)
    assert made == [_Row("a", 1, date(2024, 1, 1)), _Row("b", 2, None)]  # type: ignore[arg-type]
    assert hash(made[0]) == hash(_Row("a", 1, date(2024, 1, 1)))
    with pytest.raises(AttributeError):
        made[0].name = "c"  # type: ignore[misc]


def test_positions_tell_apart_ids_that_share_a_hash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    table = pl.DataFrame({"product_id": ["a", "b", "c"]})
    real_hash = pl.Series.hash

    def colliding(series: pl.Series, seed: int = 0) -> pl.Series:
        # Every id hashes alike: only the check of the ids found can tell.
        return real_hash(series, seed=seed) * 0

    monkeypatch.setattr(pl.Series, "hash", colliding)
    assert positions(table, "product_id", ["c", "a", "zz"]).tolist() == [2, 0, -1]


def test_top_rows_per_group_match_a_full_sort(path: str) -> None:
    rng = np.random.default_rng(9)
    group = np.sort(rng.integers(0, 12, 600))
    weight = rng.integers(0, 6, 600).astype(float)  # many ties
    tie_break = -np.arange(600)  # the earlier row wins a tie
    order = np.lexsort((np.arange(600), -weight, group))
    ranked = order[
        np.arange(600) - np.searchsorted(group[order], group[order], side="left") < 4
    ]
    chosen = keys.top_rows(group, [weight, tie_break], 4)
    assert chosen.tolist() == ranked.tolist()
