"""Replenishment scorer and alerts on a seeded shop and hand-made histories."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from omnix.engine.replenishment import (
    ReplenishmentScorer,
    alerts_of,
    fit_replenishment_scorer,
    replenishment_alerts,
    replenishment_outlook,
)
from omnix.evaluation.metrics import rank_auc
from tests.engine.conftest import START, Shop, lines_from


@pytest.fixture(scope="module")
def scorer(shop: Shop) -> ReplenishmentScorer:
    return fit_replenishment_scorer(shop.history, shop.split, "UTC")


def test_scorer_learns_from_the_earlier_windows(scorer: ReplenishmentScorer) -> None:
    assert scorer.fit is not None
    assert scorer.training_pairs > 500
    assert dict(scorer.thresholds).keys() == {7, 14}
    assert all(0.0 < t < 1.0 for _, t in scorer.thresholds)
    # Thresholds between the trained horizons are interpolated.
    low, high = sorted(t for _, t in scorer.thresholds)
    assert low <= scorer.threshold(10) <= high


def test_held_out_ranking_beats_chance_by_far(
    shop: Shop, scorer: ReplenishmentScorer
) -> None:
    outlook = replenishment_outlook(
        shop.history, scorer, shop.split, "UTC", horizon_days=14
    )
    later = shop.future.filter(pl.col("purchased_at") < shop.split + timedelta(days=14))
    bought = later.select("customer_id", "product_id").unique()
    scored = outlook.filter(pl.col("purchase_days") >= 3).join(
        bought.with_columns(pl.lit(True).alias("bought")),
        on=["customer_id", "product_id"],
        how="left",
    )
    positive = scored["bought"].fill_null(False).to_numpy()
    auc = rank_auc(scored["probability"].to_numpy(), positive)
    assert auc is not None
    assert auc > 0.8
    alerted = scored["alert"].to_numpy()
    precision = (alerted & positive).sum() / max(alerted.sum(), 1)
    assert precision > positive.mean()


def test_alerts_are_the_same_for_one_customer_or_everyone(
    shop: Shop, scorer: ReplenishmentScorer
) -> None:
    everyone = replenishment_alerts(shop.history, scorer, shop.split, "UTC")
    customer = everyone["customer_id"][0]
    alone = replenishment_alerts(
        shop.history.filter(pl.col("customer_id") == customer),
        scorer,
        shop.split,
        "UTC",
    )
    mine = everyone.filter(pl.col("customer_id") == customer)
    assert alone["product_id"].to_list() == mine["product_id"].to_list()
    assert alone["probability"].to_numpy() == pytest.approx(
        mine["probability"].to_numpy()
    )


def test_alert_fields_follow_the_rules(shop: Shop, scorer: ReplenishmentScorer) -> None:
    alerts = replenishment_alerts(shop.history, scorer, shop.split, "UTC")
    assert alerts.height > 0
    assert (alerts["purchase_days"] >= 2).all()
    assert set(alerts["urgency"].unique()) <= {"overdue", "due", "soon"}
    assert (alerts["suggested_quantity"] >= 1).all()
    assert (alerts["probability"] >= scorer.threshold(7)).all()
    rank = {"overdue": 0, "due": 1, "soon": 2}
    for _, group in alerts.group_by("customer_id"):
        order = [rank[u] for u in group["urgency"]]
        assert order == sorted(order)
    (first, *_) = alerts_of(alerts.head(1))
    assert first.reason.startswith("Bought on ")


def test_urgency_classes_from_the_run_out_date(scorer: ReplenishmentScorer) -> None:
    rows = [("c1", "weekly-late", 7.0 * i) for i in range(8)]  # last day 49
    rows += [("c1", "weekly-due", 7.0 * i + 4) for i in range(8)]  # last day 53
    rows += [("c1", "monthly", 30.0 * i - 10) for i in range(3)]  # last day 50
    rows += [("c1", "once", 50.0)]
    lines = lines_from(rows, quantity=2.0)
    outlook = replenishment_outlook(lines, scorer, START + timedelta(days=58), "UTC")
    urgency = dict(outlook.select("product_id", "urgency").iter_rows())
    assert urgency["weekly-late"] == "overdue"
    assert urgency["weekly-due"] == "due"
    assert urgency["monthly"] == "soon"
    once = outlook.filter(pl.col("product_id") == "once").row(0, named=True)
    assert once["alert"] is False
    assert 0.0 <= once["probability"] <= 1.0
    assert (outlook["suggested_quantity"] == 2).all()


def test_thin_history_falls_back_to_the_lognormal_probability() -> None:
    lines = lines_from([("c1", "milk", 7.0 * i) for i in range(6)])
    clock = START + timedelta(days=40)
    scorer = fit_replenishment_scorer(lines, clock, "UTC")
    assert scorer.fit is None
    assert scorer.threshold(7) == 0.5
    outlook = replenishment_outlook(lines, scorer, clock, "UTC")
    milk = outlook.row(0, named=True)
    assert 0.5 < milk["probability"] <= 1.0  # weekly, 5 days since: due now
    assert milk["alert"] is True
    assert np.isfinite(outlook["confidence"].to_numpy()).all()


def test_no_lines_no_alerts(scorer: ReplenishmentScorer) -> None:
    alerts = replenishment_alerts(lines_from([]), scorer, START, "UTC")
    assert alerts.height == 0
    assert "urgency" in alerts.columns


def test_bad_parameters_raise(scorer: ReplenishmentScorer) -> None:
    lines = lines_from([("c1", "milk", 0.0)])
    with pytest.raises(ValueError, match="horizon_days"):
        replenishment_outlook(lines, scorer, START + timedelta(days=3), horizon_days=0)
    with pytest.raises(ValueError, match="step_days"):
        fit_replenishment_scorer(lines, START + timedelta(days=3), step_days=7)


def test_weighted_threshold_counts_a_sampled_row_as_many() -> None:
    from omnix.engine.replenishment_fit import _best_f1_threshold

    rng = np.random.default_rng(8)
    probability = rng.random(400)
    label = rng.random(400) < probability
    weight = rng.integers(1, 4, 400).astype(float)
    expanded = np.repeat(np.arange(400), weight.astype(int))
    assert _best_f1_threshold(probability, label, weight) == _best_f1_threshold(
        probability[expanded], label[expanded], np.ones(expanded.size)
    )


def test_sampled_negatives_keep_every_positive_and_the_ranking(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    import omnix.engine.replenishment_fit as fitting

    full = fitting.fit_replenishment_scorer(shop.history, shop.split, "UTC")
    # The seeded shop is small: sample it, but lightly enough to learn from.
    monkeypatch.setattr(fitting, "_SAMPLE_ABOVE", 0)
    monkeypatch.setattr(fitting, "_NEGATIVE_SAMPLE", 2)
    monkeypatch.setattr(fitting, "_SINGLE_DAY_SAMPLE", 2)
    sampled = fitting.fit_replenishment_scorer(shop.history, shop.split, "UTC")
    assert full.fit is not None
    assert sampled.fit is not None
    # Fewer rows, the same positives, and weights that stand for the rest.
    assert sampled.fit.n_rows < full.fit.n_rows
    positives = [s.fit.positive_rate * s.fit.n_rows for s in (full, sampled)]
    assert positives[1] == pytest.approx(positives[0])
    assert sampled.training_pairs == pytest.approx(full.training_pairs, rel=0.1)
    outlook = [
        replenishment_outlook(shop.history, scorer, shop.split, "UTC")["probability"]
        for scorer in (full, sampled)
    ]
    agreement = np.corrcoef(outlook[0].to_numpy(), outlook[1].to_numpy())[0, 1]
    assert agreement > 0.95
