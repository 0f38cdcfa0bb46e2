"""Demographic estimates: learned where purchases carry a signal, the declared
mode (with its share as confidence) where they do not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from omnix.engine.demographics import (
    MIN_EDGE,
    estimate_demographics,
    fit_demographics,
    income_level,
)
from omnix.engine.features import prepare_lines

CLOCK = datetime(2024, 6, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("bracket", "level"),
    [
        ("Under 15K", "low"),
        ("15-24K", "low"),
        ("25-34K", "low"),
        ("35-49K", "middle"),
        ("75-99K", "middle"),
        ("100-124K", "high"),
        ("250K+", "high"),
        ("middle", "middle"),
        ("unknown", None),
        (None, None),
    ],
)
def test_income_brackets_become_levels(bracket: str | None, level: str | None) -> None:
    assert income_level(bracket) == level


def shoppers(n: int, seed: int, signal: bool) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``n`` households of 40 lines; with ``signal``, families buy baby food."""
    rng = np.random.default_rng(seed)
    kids = rng.random(n) < 0.4
    rows = []
    for h in range(n):
        baby_share = (0.3 if kids[h] else 0.02) if signal else 0.15
        for i in range(40):
            category = "BABY FOODS" if rng.random() < baby_share else f"AISLE {i % 5}"
            rows.append(
                (
                    f"h{h}",
                    f"h{h}-{i // 4}",
                    f"{category}-{i % 3}",
                    CLOCK - timedelta(days=100 - i),
                    1.0,
                    float(rng.uniform(1, 5)),
                    category,
                    "GROCERY",
                    "National",
                )
            )
    lines = pl.DataFrame(
        rows,
        schema=[
            "customer_id",
            "order_id",
            "product_id",
            "purchased_at",
            "quantity",
            "price",
            "category",
            "department",
            "brand",
        ],
        orient="row",
    )
    customers = pl.DataFrame(
        {
            "customer_id": [f"h{h}" for h in range(n)],
            "household_composition": [
                "2 Adults Kids" if k else "2 Adults No Kids" for k in kids
            ],
            "income_level": ["35-49K"] * n,
        }
    )
    return prepare_lines(lines, CLOCK, "UTC"), customers


def test_a_real_signal_is_learned_and_used() -> None:
    prepared, customers = shoppers(300, seed=1, signal=True)
    model = fit_demographics(prepared, customers)
    composition = model.attribute("household_composition")
    assert composition.uses_model
    assert composition.cv_accuracy > composition.mode_accuracy + 0.2
    estimates = estimate_demographics(model, prepared).join(customers, on="customer_id")
    right = (
        estimates["household_composition"] == estimates["household_composition_right"]
    )
    assert right.mean() > 0.85
    assert (estimates["household_composition_source"] == "model").all()
    assert estimates["household_composition_confidence"].is_between(0.0, 1.0).all()


def test_without_signal_the_mode_answers_with_its_share() -> None:
    prepared, customers = shoppers(200, seed=2, signal=False)
    model = fit_demographics(prepared, customers)
    composition = model.attribute("household_composition")
    assert not composition.uses_model
    estimates = estimate_demographics(model, prepared)
    assert (estimates["household_composition"] == composition.mode).all()
    share = (customers["household_composition"] == composition.mode).mean()
    assert estimates["household_composition_confidence"][0] == pytest.approx(share)
    assert (estimates["household_composition_source"] == "population_mode").all()
    # A single declared value is all the model can say about income.
    income = model.attribute("income_level")
    assert income.mode == "middle"
    assert income.mode_share == 1.0


def test_customers_with_few_lines_get_the_mode() -> None:
    prepared, customers = shoppers(300, seed=3, signal=True)
    model = fit_demographics(prepared, customers)
    newcomer = prepared.filter(pl.col("customer_id") == "h0").head(5)
    (row,) = estimate_demographics(model, newcomer).iter_rows(named=True)
    assert row["household_composition_source"] == "population_mode"


def test_too_few_declared_customers_leave_the_mode() -> None:
    prepared, customers = shoppers(20, seed=4, signal=True)
    model = fit_demographics(prepared, customers)
    composition = model.attribute("household_composition")
    assert composition.fit is None
    assert not composition.uses_model
    assert model.attribute("age_group").declared == 0
    with pytest.raises(ValueError, match="unknown"):
        model.attribute("shoe_size")


@pytest.mark.slow
def test_complete_journey_estimates_never_lose_to_the_mode() -> None:
    from omnix.evaluation.data import load_complete_journey

    frames = load_complete_journey()
    clock = datetime(2017, 11, 1, tzinfo=UTC)
    model = fit_demographics(
        prepare_lines(frames.lines, clock, "UTC"), frames.customers
    )
    for attribute in model.attributes:
        assert attribute.declared > 500
        if attribute.uses_model:
            assert attribute.cv_accuracy >= attribute.mode_accuracy + MIN_EDGE
    # Purchases do tell households with kids from those without.
    assert model.attribute("household_composition").uses_model
