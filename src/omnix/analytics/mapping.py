"""Engine results to API DTOs."""

from __future__ import annotations

from datetime import date

from omnix.analytics import schemas
from omnix.engine.activity import ActivityScore
from omnix.engine.consumption import ConsumptionPattern
from omnix.engine.profile import CustomerProfile
from omnix.engine.recommend import Recommendation
from omnix.engine.replenishment import ReplenishmentAlert


def pattern_dto(pattern: ConsumptionPattern) -> schemas.ConsumptionPattern:
    return schemas.ConsumptionPattern(
        product_id=pattern.product_id or "",
        product_name=pattern.product_name,
        category=pattern.category,
        average_days_between_purchases=round(pattern.average_days_between_purchases, 2),
        median_days_between_purchases=round(pattern.median_days_between_purchases, 2),
        predicted_next_purchase_date=pattern.predicted_next_purchase_date,
        days_until_next_purchase=pattern.days_until_next_purchase,
        last_purchase_date=pattern.last_purchase_date,
        purchase_days=pattern.purchase_days,
        typical_quantity=round(pattern.typical_quantity, 2),
        confidence=round(pattern.confidence, 4),
        seasonal_variation=pattern.seasonal_variation,
        insufficient_data=pattern.insufficient_data,
    )


def category_dto(pattern: ConsumptionPattern) -> schemas.CategoryConsumptionPattern:
    return schemas.CategoryConsumptionPattern(
        category=pattern.category,
        average_days_between_purchases=round(pattern.average_days_between_purchases, 2),
        median_days_between_purchases=round(pattern.median_days_between_purchases, 2),
        predicted_next_purchase_date=pattern.predicted_next_purchase_date,
        days_until_next_purchase=pattern.days_until_next_purchase,
        last_purchase_date=pattern.last_purchase_date,
        purchase_days=pattern.purchase_days,
        confidence=round(pattern.confidence, 4),
        seasonal_variation=pattern.seasonal_variation,
    )


def alert_dto(alert: ReplenishmentAlert) -> schemas.ReplenishmentAlert:
    return schemas.ReplenishmentAlert(
        product_id=alert.product_id,
        product_name=alert.product_name,
        category=alert.category,
        urgency=alert.urgency,
        probability=round(alert.probability, 4),
        suggested_quantity=alert.suggested_quantity,
        last_purchase_date=alert.last_purchase_date,
        expected_run_out_date=alert.expected_run_out_date,
        predicted_next_purchase_date=alert.predicted_next_purchase_date,
        typical_interval_days=round(alert.typical_interval_days, 2),
        confidence=round(alert.confidence, 4),
        reason=alert.reason,
    )


def recommendation_dto(
    recommendation: Recommendation, brand: str | None = None
) -> schemas.Recommendation:
    return schemas.Recommendation(
        product_id=recommendation.product_id,
        product_name=recommendation.product_name,
        category=recommendation.category,
        brand=brand,
        kind=recommendation.kind,
        score=round(max(recommendation.score, 0.0), 6),
        reason=recommendation.reason,
    )


def profile_dto(profile: CustomerProfile) -> schemas.CustomerProfile:
    spending, behaviour, people = (
        profile.spending_patterns,
        profile.behavioral_insights,
        profile.demographics,
    )
    sources = {source for _field, source in people.sources}
    if "declared" in sources:
        source = "declared"
    elif all(name.startswith("population") for name in sources):
        source = "population"
    else:
        source = "estimated"
    return schemas.CustomerProfile(
        customer_id=profile.customer_id,
        spending_patterns=schemas.SpendingPatterns(
            average_order_value=round(spending.average_order_value, 2),
            preferred_categories=list(spending.preferred_categories),
            shopping_frequency=spending.shopping_frequency,
            price_preference=spending.price_preference,
        ),
        behavioral_insights=schemas.BehavioralInsights(
            planned_shopper=behaviour.planned_shopper,
            brand_loyal=behaviour.brand_loyal,
            seasonal_shopper=behaviour.seasonal_shopper,
            bulk_buyer=behaviour.bulk_buyer,
        ),
        demographics=schemas.EstimatedDemographics(
            estimated_age_group=people.estimated_age_group,
            estimated_income_level=people.estimated_income_level,
            family_size=people.family_size,
            lifestyle=list(people.lifestyle),
            age_group_confidence=round(people.age_group_confidence, 4),
            income_level_confidence=round(people.income_level_confidence, 4),
            family_size_confidence=round(people.family_size_confidence, 4),
            source=source,
        ),
    )


def activity_dto(score: ActivityScore | None) -> schemas.Activity:
    if score is None or score.insufficient_data:
        return schemas.Activity(
            p_alive=0.0,
            expected_purchases_30d=0.0,
            p_buy_60d=0.0,
            insufficient_data=True,
        )
    return schemas.Activity(
        p_alive=round(score.p_alive or 0.0, 4),
        expected_purchases_30d=round(score.expected_purchases_30d or 0.0, 4),
        p_buy_60d=round(score.p_buy_60d or 0.0, 4),
        recency_days=score.recency_days,
    )


def days_between(start: date, end: date) -> int:
    return (end - start).days
