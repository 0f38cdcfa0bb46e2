"""Validated LLM answers mapped onto the engine's result types.

An LLM-backed analysis answers with the same value objects as the local
engines, so the endpoints and the stored history do not care who answered.
Facts (purchase days, gaps, last purchase, order value) come from the
features that were sent; predictions, scores, reasons and judgements come
from the answer. Declared demographics stay as declared: the provider never
saw them, and a fact beats a guess.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from omnix.analysers.answers import (
    ConsumptionPredictionAnswer,
    CustomerProfileAnswer,
    RecommendationAnswer,
)
from omnix.analysers.features import CustomerFeatures
from omnix.engine.consumption import ConsumptionPattern
from omnix.engine.features import UNCATEGORISED
from omnix.engine.profile import (
    BehavioralInsights,
    CustomerProfile,
    DemographicEstimate,
    SpendingPatterns,
)
from omnix.engine.recommend import Recommendation
from omnix.engine.replenishment import ReplenishmentAlert

DUE_WITHIN_DAYS = 3
_URGENCY_ORDER = {"overdue": 0, "due": 1, "soon": 2}


def consumption_results(
    customer_id: str,
    features: CustomerFeatures,
    answer: dict[str, Any],
    horizon_days: int,
) -> tuple[list[ConsumptionPattern], list[ReplenishmentAlert], float]:
    """Product patterns, alerts within the horizon and the mean confidence."""
    parsed = ConsumptionPredictionAnswer.model_validate(answer)
    rhythms = {r.product_id: r for r in features.product_rhythms}
    today = features.as_of
    patterns, alerts = [], []
    for item in parsed.predictions:
        rhythm = rhythms[item.product_id]
        median = rhythm.median_interval_days or rhythm.mean_interval_days or 0.0
        days_until = (item.predicted_next_purchase_date - today).days
        name = rhythm.product_name or rhythm.product_id
        category = rhythm.category or UNCATEGORISED
        quantity = rhythm.mean_quantity or 1.0
        patterns.append(
            ConsumptionPattern(
                customer_id=customer_id,
                level="product",
                product_id=item.product_id,
                product_name=name,
                category=category,
                purchase_days=rhythm.distinct_purchase_days,
                average_days_between_purchases=rhythm.mean_interval_days or median,
                median_days_between_purchases=median,
                last_purchase_date=rhythm.last_purchase_date,
                predicted_next_purchase_date=item.predicted_next_purchase_date,
                days_until_next_purchase=days_until,
                confidence=item.confidence,
                seasonal_variation=False,
                typical_quantity=quantity,
                insufficient_data=False,
            )
        )
        if days_until >= horizon_days:
            continue
        usual = rhythm.last_purchase_date + timedelta(days=round(median))
        alerts.append(
            ReplenishmentAlert(
                customer_id=customer_id,
                product_id=item.product_id,
                product_name=name,
                category=category,
                urgency=_urgency(usual, today, days_until),
                probability=item.confidence,
                suggested_quantity=max(1, round(quantity)),
                last_purchase_date=rhythm.last_purchase_date,
                expected_run_out_date=usual,
                predicted_next_purchase_date=item.predicted_next_purchase_date,
                typical_interval_days=median,
                confidence=item.confidence,
                reason=item.reason,
            )
        )
    patterns.sort(key=lambda p: (p.days_until_next_purchase, p.product_name))
    alerts.sort(
        key=lambda a: (_URGENCY_ORDER[a.urgency], a.predicted_next_purchase_date)
    )
    confidences = [p.confidence for p in patterns]
    return patterns, alerts, _mean(confidences)


def _urgency(usual: date, today: date, days_until: int) -> str:
    if usual < today:
        return "overdue"
    return "due" if days_until <= DUE_WITHIN_DAYS else "soon"


def recommendation_results(
    customer_id: str, features: CustomerFeatures, answer: dict[str, Any]
) -> tuple[list[Recommendation], float]:
    """Recommendations in the answer's order, and their mean score."""
    parsed = RecommendationAnswer.model_validate(answer)
    candidates = {c.product_id: c for c in features.candidates}
    items = []
    for rank, item in enumerate(parsed.recommendations, start=1):
        candidate = candidates[item.product_id]
        items.append(
            Recommendation(
                customer_id=customer_id,
                rank=rank,
                product_id=item.product_id,
                product_name=candidate.product_name or item.product_id,
                category=candidate.category,
                kind=item.kind,
                score=item.score,
                reason=item.reason,
            )
        )
    return items, _mean([item.score for item in items])


def profile_result(
    local: CustomerProfile, features: CustomerFeatures, answer: dict[str, Any]
) -> tuple[CustomerProfile, float]:
    """The answer's profile, keeping what the household declared."""
    parsed = CustomerProfileAnswer.model_validate(answer)
    spending, behaviour = parsed.spending_patterns, parsed.behavioral_insights
    people = parsed.demographics
    declared = {
        name for name, source in local.demographics.sources if source == "declared"
    }
    known = local.demographics
    estimate = DemographicEstimate(
        estimated_age_group=known.estimated_age_group
        if "age_group" in declared
        else people.estimated_age_group,
        estimated_income_level=known.estimated_income_level
        if "income_level" in declared
        else people.estimated_income_level,
        family_size=known.family_size
        if "household_size" in declared
        else people.family_size,
        lifestyle=tuple(people.lifestyle),
        age_group_confidence=1.0 if "age_group" in declared else parsed.confidence,
        income_level_confidence=1.0
        if "income_level" in declared
        else parsed.confidence,
        family_size_confidence=1.0
        if "household_size" in declared
        else parsed.confidence,
        sources=tuple(
            (name, "declared" if name in declared else "llm")
            for name in ("age_group", "income_level", "household_size")
        ),
    )
    average = features.order_value.mean if features.order_value is not None else 0.0
    profile = replace(
        local,
        spending_patterns=SpendingPatterns(
            average_order_value=round(average, 2),
            preferred_categories=tuple(spending.preferred_categories),
            shopping_frequency=spending.shopping_frequency,
            price_preference=spending.price_preference,
        ),
        behavioral_insights=BehavioralInsights(
            planned_shopper=behaviour.planned_shopper,
            brand_loyal=behaviour.brand_loyal,
            seasonal_shopper=behaviour.seasonal_shopper,
            bulk_buyer=behaviour.bulk_buyer,
        ),
        demographics=estimate,
        insufficient_data=False,
    )
    return profile, parsed.confidence


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0
