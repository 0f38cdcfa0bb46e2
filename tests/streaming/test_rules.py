"""The insight rules: golden values, a seeded simulation, the priority table."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from scipy import stats

from omnix.streaming.rules import (
    ANOMALY_Z,
    MIN_LOG_MAD,
    OrderLine,
    basket_anomaly,
    migration_priority,
    modified_z_score,
    new_department,
    unusual_hour,
)

AT = datetime(2017, 12, 30, 18, tzinfo=UTC)
LINE = OrderLine("H1", "e-1", "o-1", AT)


def test_modified_z_score_matches_scipy_normal_scaled_mad() -> None:
    """Iglewicz & Hoaglin's M equals (x - median) / (MAD / 0.6745), which is
    SciPy's ``median_abs_deviation(scale="normal")`` up to 0.6745's rounding
    (SciPy scales by 1 / Phi^-1(3/4) = 1.482602...)."""
    rng = np.random.default_rng(11)
    values = np.exp(rng.normal(3.0, 0.4, size=60))
    basket = 75.0
    z, typical = modified_z_score(basket, values.tolist())
    logs = np.log(values)
    scale = stats.median_abs_deviation(logs, scale="normal")
    expected = (np.log(basket) - np.median(logs)) / scale
    assert z == pytest.approx(expected, rel=2e-4)
    assert typical == pytest.approx(np.exp(np.median(logs)))


def test_modified_z_score_by_hand() -> None:
    """Logs 0, 1, 2 (median 1, MAD 1): a value of e^4 scores 0.6745 * 3."""
    others = [1.0, float(np.e), float(np.e**2)]
    z, typical = modified_z_score(float(np.e**4), others)
    assert z == pytest.approx(0.6745 * 3)
    assert typical == pytest.approx(np.e)
    # Identical baskets: the spread is floored, not zero.
    z, _ = modified_z_score(20.0 * np.exp(0.5), [20.0] * 10)
    assert z == pytest.approx(0.6745 * 0.5 / MIN_LOG_MAD)
    with pytest.raises(ValueError, match="value"):
        modified_z_score(0.0, others)


def test_seeded_households_flag_inflated_baskets_and_rarely_normal_ones() -> None:
    """Log-normal households (sigma 0.3): a basket five times the usual
    (log 5 = 5.4 sigma) is flagged nearly always; an ordinary one about as
    often as a normal variable passes 3.5 (2.3e-4), inflated a little by
    estimating median and MAD from 30 orders."""
    rng = np.random.default_rng(2024)
    households, history = 4_000, 30
    false_alarms = caught = 0
    for _ in range(households):
        centre = rng.uniform(np.log(10), np.log(150))
        past = np.exp(rng.normal(centre, 0.3, size=history)).tolist()
        ordinary = float(np.exp(rng.normal(centre, 0.3)))
        inflated = float(np.exp(centre) * 5)
        false_alarms += (
            basket_anomaly(LINE, basket_value=ordinary, other_orders=past) is not None
        )
        caught += (
            basket_anomaly(LINE, basket_value=inflated, other_orders=past) is not None
        )
    assert caught / households > 0.97
    assert false_alarms / households < 0.005


def test_basket_priorities() -> None:
    usual = [20.0, 22.0, 18.0, 21.0, 19.0, 20.5, 19.5, 20.0, 23.0, 17.0]
    assert basket_anomaly(LINE, basket_value=22.0, other_orders=usual) is None
    assert basket_anomaly(LINE, basket_value=99.0, other_orders=usual[:7]) is None
    found = {}
    for value in (34.0, 45.0, 400.0):
        draft = basket_anomaly(LINE, basket_value=value, other_orders=usual)
        assert draft is not None
        assert draft.data["robustZ"] >= ANOMALY_Z
        found[value] = (draft.priority, draft.action_required)
    assert found == {
        34.0: ("medium", False),
        45.0: ("high", True),
        400.0: ("critical", True),
    }


def test_habits_need_twenty_orders() -> None:
    counts = [0] * 24
    counts[10] = 19
    assert unusual_hour(LINE, hour=3, hour_counts=counts) is None
    counts[10] = 20
    draft = unusual_hour(LINE, hour=3, hour_counts=counts)
    assert draft is not None
    assert draft.data["usualHours"] == [10]
    assert draft.key == "hour:H1:o-1"
    counts[4] = 1  # one order within the hour: not unusual
    assert unusual_hour(LINE, hour=3, hour_counts=counts) is None

    seen = {"Grocery": 300}
    assert (
        new_department(
            LINE,
            department="Pharmacy",
            product_id="ASPIRIN",
            department_counts=seen,
            orders_before=19,
        )
        is None
    )
    draft = new_department(
        LINE,
        department="Pharmacy",
        product_id="ASPIRIN",
        department_counts=seen,
        orders_before=20,
    )
    assert draft is not None
    assert (draft.priority, draft.action_required) == ("low", False)


@pytest.mark.parametrize(
    ("from_id", "to_id", "impact", "expected"),
    [
        ("champions", "at_risk", -0.6, ("critical", True)),
        ("loyal_customers", "hibernating", -0.3, ("high", True)),
        ("potential_loyalists", "hibernating", -0.2, ("medium", True)),
        ("at_risk", "champions", 0.5, ("high", True)),
        ("lost", "new_customers", 0.3, ("high", True)),
        ("loyal_customers", "champions", 0.1, ("medium", True)),
        ("new_customers", "potential_loyalists", 0.1, ("low", False)),
    ],
)
def test_migration_priorities(
    from_id: str, to_id: str, impact: float, expected: tuple[str, bool]
) -> None:
    assert migration_priority(from_id, to_id, impact) == expected
