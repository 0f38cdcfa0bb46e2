"""Held-out evaluation: the scoring rules on hand-made cases, the truth and
baselines on a tiny raw history, and (slow) the full run on Complete Journey
against DESIGN.md's figures and the targets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import product

import numpy as np
import polars as pl
import pytest

from omnix.evaluation.baselines import recommendation_baselines, replenishment_baselines
from omnix.evaluation.metrics import alert_scores, mean_recall, rank_auc
from omnix.evaluation.truth import held_out_truth

SPLIT = datetime(2024, 3, 1, tzinfo=UTC)


def test_auc_equals_the_share_of_correctly_ordered_pairs() -> None:
    rng = np.random.default_rng(0)
    score = rng.integers(0, 5, 60).astype(float)  # many ties
    positive = rng.random(60) < 0.4
    pairs = [
        1.0 if s > t else 0.5 if s == t else 0.0
        for (s, p), (t, q) in product(zip(score, positive, strict=True), repeat=2)
        if p and not q
    ]
    assert rank_auc(score, positive) == pytest.approx(np.mean(pairs))
    assert rank_auc([1.0, 2.0, 3.0], [False, False, True]) == 1.0
    assert rank_auc(np.zeros(4), [True, False, True, False]) == 0.5
    assert rank_auc([1.0, 2.0], [True, True]) is None
    with pytest.raises(ValueError, match="same length"):
        rank_auc([1.0], [True, False])


def test_alert_scores_by_hand() -> None:
    scores = alert_scores(
        [True, True, False, False, True], [True, False, True, False, True]
    )
    assert scores["precision"] == pytest.approx(2 / 3)
    assert scores["recall"] == pytest.approx(2 / 3)
    assert scores["f1"] == pytest.approx(2 / 3)
    assert scores["alerts"] == 3
    assert alert_scores([False], [False])["f1"] == 0.0


def test_mean_recall_by_hand() -> None:
    truth = pl.DataFrame(
        {"customer_id": ["a", "a", "b", "c"], "product_id": ["x", "y", "x", "z"]}
    )
    recommended = pl.DataFrame(
        {"customer_id": ["a", "b", "b"], "product_id": ["x", "x", "w"]}
    )
    # a finds 1 of 2, b 1 of 1, c (no recommendations) 0 of 1.
    assert mean_recall(truth, recommended) == pytest.approx((0.5 + 1.0 + 0.0) / 3)


def raw(rows: list[tuple[str, str, str, float]]) -> pl.DataFrame:
    """(customer, order, product, days from SPLIT) as raw lines."""
    return pl.DataFrame(
        [(c, o, p, SPLIT + timedelta(days=d)) for c, o, p, d in rows],
        schema={
            "customer_id": pl.Utf8,
            "order_id": pl.Utf8,
            "product_id": pl.Utf8,
            "purchased_at": pl.Datetime("us", "UTC"),
        },
        orient="row",
    )


ROWS = [
    # h1 buys milk every 10 days (last 5 days before the split), bread every
    # 4 days (last 20 days before), eggs twice.
    *[("h1", f"m{i}", "milk", -45.0 + 10 * i) for i in range(5)],
    *[("h1", f"b{i}", "bread", -32.0 + 4 * i) for i in range(4)],
    ("h1", "e0", "eggs", -30.0),
    ("h1", "e1", "eggs", -20.0),
    ("h1", "n1", "milk", 3.5),
    ("h1", "n1", "eggs", 3.5),
    ("h1", "n2", "bread", 30.0),
    # h2 comes back after the split only with new products.
    ("h2", "x0", "milk", -3.0),
    ("h2", "x1", "tea", 1.0),
    ("h2", "x2", "milk", 2.0),
]


def test_truth_picks_first_orders_and_eligible_pairs() -> None:
    truth = held_out_truth(raw(ROWS), SPLIT, "UTC", horizon_days=14, min_days=3)
    baskets = truth.next_basket.sort("customer_id", "product_id").rows()
    assert baskets == [("h1", "eggs"), ("h1", "milk"), ("h2", "tea")]
    pairs = {
        (r["customer_id"], r["product_id"]): r
        for r in truth.pairs.iter_rows(named=True)
    }
    assert set(pairs) == {("h1", "milk"), ("h1", "bread")}
    assert pairs[("h1", "milk")]["positive"] is True
    assert pairs[("h1", "bread")]["positive"] is False
    assert (
        pairs[("h1", "bread")]["first_after_day"] == (SPLIT + timedelta(days=30)).date()
    )


def test_baselines_by_hand() -> None:
    lines = raw(ROWS)
    truth = held_out_truth(lines, SPLIT, "UTC", horizon_days=14, min_days=3)
    result = replenishment_baselines(truth)
    # milk: intervals 10,10,10,10, elapsed 5 -> conditional date 5 days after
    # the split; bread: intervals 4,4,4, elapsed 20 -> none longer, split + 4.
    # Both alert; milk is the positive and bread ranks first (4 < 5): AUC 0.
    assert result["replenishment_auc"]["conditional_median"] == 0.0
    assert result["replenishment_f1"]["conditional_median_rule"] == pytest.approx(2 / 3)
    assert result["replenishment_f1"]["alert_every_pair"] == pytest.approx(2 / 3)
    # Mean-interval dates: milk -5 + 10 = 5, bread max(-20 + 4, 0) = 0; actual 3, 30.
    assert result["next_purchase_mae_days"]["last_plus_mean_interval"] == pytest.approx(
        (2 + 30) / 2
    )
    assert result["next_purchase_mae_days"]["constant_7_days"] == pytest.approx(
        (4 + 23) / 2
    )
    recall = recommendation_baselines(
        lines.filter(pl.col("purchased_at") < SPLIT), truth
    )
    # Popular: milk (6 lines), bread (4), eggs (2): h1 finds 2 of 2, h2 0 of 1.
    assert recall["popularity"] == pytest.approx(0.5)
    assert recall["personal_then_popular"] == pytest.approx(0.5)


@pytest.mark.slow
def test_complete_journey_meets_the_targets_beside_design_baselines() -> None:
    from omnix.evaluation import TARGETS, run_evaluation

    result = run_evaluation()
    details, baselines = result["details"], result["baselines"]
    # The metric code reproduces the figures DESIGN.md quotes for this split.
    assert details["eligible_pairs"] == 83_652
    assert details["positive_rate"] == pytest.approx(0.153, abs=0.001)
    assert details["pairs_bought_again"] == 30_399
    recall = baselines["recall_at_10"]
    assert recall["popularity"] == pytest.approx(0.086, abs=0.002)
    assert recall["personal_top_frequency"] == pytest.approx(0.160, abs=0.002)
    assert recall["personal_then_popular"] == pytest.approx(0.161, abs=0.002)
    auc = baselines["replenishment_auc"]
    assert auc["last_plus_mean_interval"] == pytest.approx(0.43, abs=0.01)
    assert auc["conditional_median"] == pytest.approx(0.61, abs=0.01)
    f1 = baselines["replenishment_f1"]
    assert f1["alert_every_pair"] == pytest.approx(0.265, abs=0.002)
    assert f1["conditional_median_rule"] == pytest.approx(0.288, abs=0.002)
    mae = baselines["next_purchase_mae_days"]
    assert mae["constant_7_days"] == pytest.approx(16.9, abs=0.1)
    assert mae["last_plus_mean_interval"] == pytest.approx(23.1, abs=0.1)
    # And the engine clears every target.
    for name, target in TARGETS.items():
        if name == "activity_auc" and result[name] is None:
            continue  # the activity model is another module's; absent here
        assert result[name] >= target, name
    assert 0 < result["next_purchase_mae_days"] < mae["last_plus_mean_interval"]
