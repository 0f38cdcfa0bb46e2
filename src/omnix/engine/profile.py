"""The customer profile of the integration guide's ``CustomerProfile``.

Spending patterns, behavioural insights and demographics of each customer,
from their purchase lines, the population norms (:mod:`omnix.engine.
profile_metrics`) and the demographic estimates (:mod:`omnix.engine.
demographics`). The rules, all documented in docs/ANALYTICS.md:

* ``shopping_frequency`` from the gaps between shopping days: ``daily`` when
  the median gap is at most 1.5 days, ``weekly`` up to 10, ``monthly`` up to
  45; ``irregular`` beyond, with fewer than three shopping days, or when the
  gaps vary more than twice their mean.
* ``price_preference`` from the spend-weighted price percentile of the
  products bought within their categories: the population's lower third is
  ``budget``, the upper third ``premium``.
* ``planned_shopper``: more products per order than the population median
  and fewer visits per week than its median (few, large trips).
* ``brand_loyal``: over categories bought on three days or more, the top
  brand's (or product's) share of the category's days is in the population's
  top quarter.
* ``seasonal_shopper``: at least half the spend falls in one stretch of three
  months, for a customer with at least 270 days of history.
* ``bulk_buyer``: units per line in the population's top fifth.
* ``lifestyle``: a tag when the customer's spend share on its categories is
  in the population's top quarter (and above 1%); ``busy-parent`` joins
  ``family-with-kids`` (declared or estimated kids, or baby products) with
  ``convenience-seeker``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl

from omnix.engine.demographics import (
    DemographicsModel,
    estimate_demographics,
    income_level,
)
from omnix.engine.features import PreparedLines, check_as_of, prepare_lines
from omnix.engine.profile_metrics import (
    LIFESTYLE_PATTERNS,
    SEASONAL_MIN_TENURE_DAYS,
    ProfileNorms,
    profile_metrics,
)

__all__ = [
    "BehavioralInsights",
    "CustomerProfile",
    "DemographicEstimate",
    "SpendingPatterns",
    "customer_profiles",
]

SEASONAL_SHARE = 0.5


@dataclass(frozen=True)
class SpendingPatterns:
    average_order_value: float
    preferred_categories: tuple[str, ...]
    shopping_frequency: str
    price_preference: str


@dataclass(frozen=True)
class BehavioralInsights:
    planned_shopper: bool
    brand_loyal: bool
    seasonal_shopper: bool
    bulk_buyer: bool


@dataclass(frozen=True)
class DemographicEstimate:
    """Estimated demographics; each confidence is the chance of being right."""

    estimated_age_group: str
    estimated_income_level: str
    family_size: int
    lifestyle: tuple[str, ...]
    age_group_confidence: float
    income_level_confidence: float
    family_size_confidence: float
    sources: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class CustomerProfile:
    customer_id: str
    spending_patterns: SpendingPatterns
    behavioral_insights: BehavioralInsights
    demographics: DemographicEstimate
    orders: int
    insufficient_data: bool


def _frequency(row: dict[str, object]) -> str:
    days = row["shopping_days"]
    gap = row["median_gap_days"]
    if not isinstance(days, int) or days < 3 or not isinstance(gap, float | int):
        return "irregular"
    variation = row["gap_variation"]
    if isinstance(variation, float) and variation > 2.0:
        return "irregular"
    if gap <= 1.5:
        return "daily"
    if gap <= 10:
        return "weekly"
    return "monthly" if gap <= 45 else "irregular"


def _number(row: dict[str, object], name: str, default: float = 0.0) -> float:
    value = row.get(name)
    return float(value) if isinstance(value, int | float) else default


def _family_size(value: str | None) -> int:
    digits = "".join(ch for ch in (value or "") if ch.isdigit())
    return int(digits) if digits else 0


def _declared(customers: pl.DataFrame | None) -> dict[str, dict[str, str | None]]:
    if customers is None or "customer_id" not in customers.columns:
        return {}
    wanted = ["age_group", "income_level", "household_size", "household_composition"]
    present = [c for c in wanted if c in customers.columns]
    rows = customers.select(pl.col("customer_id").cast(pl.Utf8), *present).iter_rows(
        named=True
    )
    return {str(row["customer_id"]): row for row in rows}


def _pick(
    estimate: dict[str, object], declared: dict[str, str | None], name: str
) -> tuple[str, float, str]:
    """The declared value when there is one, else the estimate."""
    value = declared.get(name)
    if name == "income_level":
        value = income_level(value)
    if value is not None:
        return str(value), 1.0, "declared"
    return (
        str(estimate.get(name, "unknown")),
        _number(estimate, f"{name}_confidence"),
        str(estimate.get(f"{name}_source", "population_mode")),
    )


def _demographics(
    estimate: dict[str, object],
    declared: dict[str, str | None],
    metrics: dict[str, object],
    norms: ProfileNorms,
) -> DemographicEstimate:
    age = _pick(estimate, declared, "age_group")
    income = _pick(estimate, declared, "income_level")
    size = _pick(estimate, declared, "household_size")
    composition = _pick(estimate, declared, "household_composition")
    tags = [
        tag
        for tag in LIFESTYLE_PATTERNS
        if _number(metrics, f"share_{tag}") >= norms.lifestyle_cuts.get(tag, 1.0)
    ]
    if "Kids" in composition[0] and "No Kids" not in composition[0]:
        tags.append("family-with-kids")
    tags = list(dict.fromkeys(tags))
    if "family-with-kids" in tags and "convenience-seeker" in tags:
        tags.append("busy-parent")
    return DemographicEstimate(
        estimated_age_group=age[0],
        estimated_income_level=income[0],
        family_size=_family_size(size[0]),
        lifestyle=tuple(tags),
        age_group_confidence=age[1],
        income_level_confidence=income[1],
        family_size_confidence=size[1],
        sources=(
            ("age_group", age[2]),
            ("income_level", income[2]),
            ("household_size", size[2]),
            ("household_composition", composition[2]),
        ),
    )


def customer_profiles(
    lines: pl.DataFrame | PreparedLines,
    norms: ProfileNorms,
    demographics: DemographicsModel,
    as_of: datetime,
    tz: str = "UTC",
    *,
    customers: pl.DataFrame | None = None,
) -> list[CustomerProfile]:
    """Profiles of the customers in ``customers`` (default: those in ``lines``).

    Declared demographics in ``customers`` are reported as such (confidence
    1); missing ones are estimated. A customer without lines gets a profile
    with ``insufficient_data=True``, zero order value, ``irregular``
    frequency, ``mid-range`` prices and population-mode demographics.
    """
    prepared = prepare_lines(lines, check_as_of(as_of), tz)
    metrics = {
        row["customer_id"]: row
        for row in profile_metrics(
            prepared, norms.price_ranks, norms.loyalty_on_brand
        ).iter_rows(named=True)
    }
    estimates = {
        row["customer_id"]: row
        for row in estimate_demographics(demographics, prepared).iter_rows(named=True)
    }
    modes: dict[str, object] = {}
    for model in demographics.attributes:
        modes[model.attribute] = model.mode
        modes[f"{model.attribute}_confidence"] = model.mode_share
        modes[f"{model.attribute}_source"] = "population_mode"
    declared = _declared(customers)
    ids = sorted(declared) if customers is not None else sorted(metrics)
    low, high = norms.price_cuts
    profiles = []
    for customer_id in ids:
        row = metrics.get(customer_id, {})
        price = _number(row, "price_index", 0.5)
        seasonal = (
            _number(row, "tenure_days") >= SEASONAL_MIN_TENURE_DAYS
            and _number(row, "busiest_quarter_share") >= SEASONAL_SHARE
        )
        profiles.append(
            CustomerProfile(
                customer_id=customer_id,
                spending_patterns=SpendingPatterns(
                    average_order_value=round(_number(row, "average_order_value"), 2),
                    preferred_categories=tuple(row.get("preferred_categories") or ()),
                    shopping_frequency=_frequency(row) if row else "irregular",
                    price_preference=(
                        "mid-range"
                        if not row
                        else "budget"
                        if price < low
                        else "premium"
                        if price > high
                        else "mid-range"
                    ),
                ),
                behavioral_insights=BehavioralInsights(
                    planned_shopper=bool(row)
                    and _number(row, "products_per_order")
                    > norms.products_per_order_median
                    and _number(row, "visits_per_week") < norms.visits_per_week_median,
                    brand_loyal=bool(row)
                    and _number(row, "loyalty_index") > norms.loyalty_cut,
                    seasonal_shopper=seasonal,
                    bulk_buyer=bool(row)
                    and _number(row, "units_per_line") > norms.bulk_cut,
                ),
                demographics=_demographics(
                    estimates.get(customer_id, modes),
                    declared.get(customer_id, {}),
                    row,
                    norms,
                ),
                orders=int(_number(row, "orders")),
                insufficient_data=not row,
            )
        )
    return profiles
