"""Recommendations: association golden values, the fitted recommender on a
seeded shop, inactive products, cold starts by cohort."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from omnix.engine.cooccurrence import product_neighbours
from omnix.engine.recommend import (
    Recommender,
    fit_recommender,
    recommend,
    recommendations_of,
)
from omnix.evaluation.metrics import mean_recall
from tests.engine.conftest import START, Shop, lines_from


def test_lift_and_confidence_by_hand() -> None:
    orders = pl.DataFrame(
        {
            "order_id": ["o1", "o1", "o2", "o2", "o3", "o3", "o4", "o5"],
            "product_id": ["a", "b", "a", "b", "a", "c", "b", "c"],
        }
    )
    pairs = product_neighbours(orders, min_orders=1, min_together=1)
    by_pair = {
        (r["anchor_id"], r["product_id"]): r for r in pairs.iter_rows(named=True)
    }
    # 5 orders; a in 3, b in 3, c in 2; a+b together in 2, a+c in 1, b+c never.
    assert by_pair[("a", "b")]["lift"] == pytest.approx(5 * 2 / (3 * 3))
    assert by_pair[("a", "b")]["confidence"] == pytest.approx(2 / 3)
    assert by_pair[("a", "c")]["lift"] == pytest.approx(5 * 1 / (3 * 2))
    assert by_pair[("a", "c")]["confidence"] == pytest.approx(1 / 3)
    assert by_pair[("c", "a")]["confidence"] == pytest.approx(1 / 2)
    assert ("b", "c") not in by_pair
    # Best lift first within an anchor.
    assert pairs.filter(pl.col("anchor_id") == "a")["product_id"].to_list() == [
        "b",
        "c",
    ]


def test_rare_products_and_pairs_are_left_out() -> None:
    orders = pl.DataFrame({"order_id": ["o1", "o1"], "product_id": ["a", "b"]})
    assert product_neighbours(orders).height == 0


@pytest.fixture(scope="module")
def recommender(shop: Shop) -> Recommender:
    return fit_recommender(shop.history, shop.catalogue, shop.customers, shop.split)


def test_recommendations_are_well_formed(shop: Shop, recommender: Recommender) -> None:
    assert recommender.repurchase_fit is not None
    frame = recommend(recommender, shop.history, shop.split, k=5)
    bought = shop.history.select("customer_id", "product_id").unique()
    assert frame["customer_id"].n_unique() == shop.history["customer_id"].n_unique()
    for _, group in frame.group_by("customer_id"):
        assert group["rank"].to_list() == list(range(1, group.height + 1))
        assert group.height == 5
        assert group["score"].to_list() == sorted(
            group["score"].to_list(), reverse=True
        )
    assert frame["score"].is_between(0.0, 1.0).all()
    kinds = frame.join(
        bought.with_columns(pl.lit(True).alias("had")),
        on=["customer_id", "product_id"],
        how="left",
    )
    repurchase = kinds.filter(pl.col("kind") == "repurchase")
    discovery = kinds.filter(pl.col("kind") == "discovery")
    assert repurchase["had"].fill_null(False).all()
    assert discovery["had"].is_null().all()
    assert repurchase["reason"].str.starts_with("You bought this in ").all()
    (first, *_) = recommendations_of(frame.head(1))
    assert first.rank == 1


def test_next_orders_are_found_better_than_by_popularity(
    shop: Shop, recommender: Recommender
) -> None:
    first = (
        shop.future.sort("purchased_at")
        .group_by("customer_id")
        .agg(pl.col("order_id").first())
    )
    truth = (
        shop.future.join(first, on=["customer_id", "order_id"])
        .select("customer_id", "product_id")
        .unique()
    )
    ours = recommend(recommender, shop.history, shop.split, k=5)
    popular = shop.history.group_by("product_id").len().sort("len", descending=True)
    everyone = (
        truth.select("customer_id")
        .unique()
        .join(popular.head(5).select("product_id"), how="cross")
    )
    assert mean_recall(truth, ours) > mean_recall(truth, everyone) + 0.1


def test_one_customer_gets_the_same_as_in_the_population(
    shop: Shop, recommender: Recommender
) -> None:
    everyone = recommend(recommender, shop.history, shop.split, k=5)
    alone = recommend(
        recommender,
        shop.history.filter(pl.col("customer_id") == "h007"),
        shop.split,
        k=5,
    )
    mine = everyone.filter(pl.col("customer_id") == "h007")
    assert alone["product_id"].to_list() == mine["product_id"].to_list()


def test_inactive_products_are_never_recommended(shop: Shop) -> None:
    top = (
        shop.history.group_by("product_id")
        .len()
        .sort("len", descending=True)["product_id"][0]
    )
    catalogue = shop.catalogue.with_columns(
        pl.when(pl.col("product_id") == top)
        .then(False)
        .otherwise(pl.col("active"))
        .alias("active")
    )
    fitted = fit_recommender(
        shop.history, catalogue, shop.customers, shop.split, windows=1
    )
    frame = recommend(
        fitted,
        shop.history,
        shop.split,
        k=10,
        customers=pl.concat(
            [
                shop.customers.select("customer_id"),
                pl.DataFrame({"customer_id": ["new"]}),
            ]
        ),
    )
    assert top not in frame["product_id"].to_list()
    assert frame.filter(pl.col("customer_id") == "new").height == 10


def test_newcomers_get_what_their_cohort_buys(
    shop: Shop, recommender: Recommender
) -> None:
    newcomers = pl.DataFrame(
        {
            "customer_id": ["kid-family", "anonymous"],
            "household_composition": ["2 Adults Kids", None],
            "age_group": [None, None],
        }
    )
    frame = recommend(recommender, lines_from([]), shop.split, k=3, customers=newcomers)
    family = frame.filter(pl.col("customer_id") == "kid-family")
    anonymous = frame.filter(pl.col("customer_id") == "anonymous")
    # Every simulated family with kids buys p00.
    assert "p00" in family["product_id"].to_list()
    assert family["reason"][0] == "Popular with households like yours (2 Adults Kids)"
    assert anonymous["reason"][0] == "Popular with shoppers this month"
    assert (frame["kind"] == "discovery").all()
    assert anonymous.height == 3


def test_bad_input_raises(shop: Shop, recommender: Recommender) -> None:
    with pytest.raises(ValueError, match="k"):
        recommend(recommender, shop.history, shop.split, k=0)
    with pytest.raises(ValueError, match="active"):
        fit_recommender(shop.history, shop.catalogue.drop("active"), None, shop.split)


def test_history_after_the_clock_is_ignored(
    shop: Shop, recommender: Recommender
) -> None:
    before = recommend(recommender, shop.history, shop.split, k=5)
    with_future = recommend(
        recommender, pl.concat([shop.history, shop.future]), shop.split, k=5
    )
    assert before.drop("score").equals(with_future.drop("score"))
    # Parallel sums may differ in the last bits, nothing more.
    assert before["score"].to_numpy() == pytest.approx(with_future["score"].to_numpy())
    assert START + timedelta(days=1) < shop.split
