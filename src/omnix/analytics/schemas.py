"""Section 2 DTOs: the guide's interfaces, completed where it leaves them open."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from omnix.schemas import ApiModel, InputModel, JsonNumber

Urgency = Literal["overdue", "due", "soon"]
RecommendationKind = Literal["repurchase", "discovery"]


class ConsumptionPattern(ApiModel):
    """How often a household buys one product, and when it will next."""

    product_id: str
    product_name: str
    category: str
    average_days_between_purchases: float
    median_days_between_purchases: float
    predicted_next_purchase_date: date = Field(
        description="Store-local date; accounts for the time already elapsed."
    )
    days_until_next_purchase: int = Field(description="Negative when overdue.")
    last_purchase_date: date
    purchase_days: int = Field(description="Distinct days the product was bought.")
    typical_quantity: float
    confidence: float = Field(ge=0, le=1)
    seasonal_variation: bool
    insufficient_data: bool = Field(
        description="True when the rhythm is borrowed from similar buyers."
    )


class CategoryConsumptionPattern(ApiModel):
    """The same rhythm for a whole category (any product of it)."""

    category: str
    average_days_between_purchases: float
    median_days_between_purchases: float
    predicted_next_purchase_date: date
    days_until_next_purchase: int
    last_purchase_date: date
    purchase_days: int
    confidence: float = Field(ge=0, le=1)
    seasonal_variation: bool


class ReplenishmentAlert(ApiModel):
    """A product predicted to run out within the horizon."""

    product_id: str
    product_name: str
    category: str
    urgency: Urgency = Field(
        description="overdue: past its usual date; due: within 3 days; soon: later "
        "in the horizon."
    )
    probability: float = Field(ge=0, le=1, description="Repurchase within the horizon.")
    suggested_quantity: int
    last_purchase_date: date
    expected_run_out_date: date
    predicted_next_purchase_date: date
    typical_interval_days: float
    confidence: float = Field(ge=0, le=1)
    reason: str


class Recommendation(ApiModel):
    product_id: str
    product_name: str
    category: str | None
    brand: str | None = None
    kind: RecommendationKind
    score: float = Field(
        ge=0, description="Higher is better; comparable within a list."
    )
    reason: str


class RecommendationList(ApiModel):
    recommendations: list[Recommendation]
    confidence: float = Field(ge=0, le=1)
    model_id: str


class SpendingPatterns(ApiModel):
    average_order_value: float
    preferred_categories: list[str]
    shopping_frequency: Literal["daily", "weekly", "monthly", "irregular"]
    price_preference: Literal["budget", "mid-range", "premium"]


class BehavioralInsights(ApiModel):
    planned_shopper: bool
    brand_loyal: bool
    seasonal_shopper: bool
    bulk_buyer: bool


class EstimatedDemographics(ApiModel):
    estimated_age_group: str
    estimated_income_level: str
    family_size: int
    lifestyle: list[str]
    age_group_confidence: float = Field(ge=0, le=1)
    income_level_confidence: float = Field(ge=0, le=1)
    family_size_confidence: float = Field(ge=0, le=1)
    source: Literal["declared", "estimated", "population"] = Field(
        description="declared: what the household said; estimated: learned from "
        "purchases; population: the most common declared answer (weak signal)."
    )


class CustomerProfile(ApiModel):
    """The guide's CustomerProfile: what the purchases say about a household."""

    customer_id: str
    spending_patterns: SpendingPatterns
    behavioral_insights: BehavioralInsights
    demographics: EstimatedDemographics


class Activity(ApiModel):
    """Buy-till-you-die outlook (BG/NBD with a learned calibration)."""

    p_alive: float = Field(ge=0, le=1)
    expected_purchases_30d: float = Field(ge=0)
    p_buy_60d: float = Field(ge=0, le=1)
    recency_days: float | None = None
    insufficient_data: bool = False


class PurchasePrediction(ApiModel):
    product_id: str
    predicted_date: date
    confidence: float = Field(ge=0, le=1)
    reason: str


class AIAnalysisResult(ApiModel):
    """One complete analysis of a household, as stored in its history."""

    analysis_id: str | None = Field(
        default=None, description="Set once the analysis is stored (POST analyze)."
    )
    customer_id: str
    model_id: str
    model_name: str
    consumption_patterns: list[ConsumptionPattern]
    category_patterns: list[CategoryConsumptionPattern]
    customer_profile: CustomerProfile
    recommendations: list[Recommendation]
    replenishment_alerts: list[ReplenishmentAlert]
    activity: Activity
    confidence: float = Field(ge=0, le=1)
    computed_at: datetime = Field(description="Wall-clock time of the computation.")
    data_cutoff: datetime = Field(
        description="Business 'now': only purchases before it were used."
    )
    processing_time_ms: float


class RevenuePoint(ApiModel):
    """One period of the store's revenue (every household's orders)."""

    period_start: date = Field(description="Store-local first day of the period.")
    period_end: date = Field(description="Store-local first day after the period.")
    revenue: float = Field(description="Value of the orders started in the period.")
    orders: int = Field(ge=0)
    complete: bool = Field(description="False for the period still running.")
    target: float | None = Field(
        description="Set by a manager, or derived from the comparable periods "
        "before (see targetSource); null when neither is possible."
    )
    target_source: Literal["set", "trailing_mean"] | None = Field(
        description="set: a manager's target; trailing_mean: the mean revenue of "
        "the comparable periods before (same weekday of the 4 weeks before, the "
        "4 weeks before, the 3 months before) raised by growthGoal."
    )


class RevenueSeries(ApiModel):
    granularity: Literal["day", "week", "month"]
    timezone: str = Field(description="The store time zone periods follow.")
    growth_goal: float = Field(
        description="Share added to the trailing mean in derived targets."
    )
    points: list[RevenuePoint] = Field(description="Oldest first.")


class RevenueTargetBody(InputModel):
    amount: JsonNumber = Field(
        ge=0.01, le=1e12, description="The period's revenue target, in money units."
    )


class RevenueTarget(ApiModel):
    """A manager's revenue target for one period."""

    granularity: Literal["day", "week", "month"]
    period_start: date
    amount: float
    set_by: str = Field(description="User id of who set it last.")
    updated_at: datetime


class InventoryLine(ApiModel):
    """Expected purchases of one product within the horizon."""

    product_id: str
    product_name: str
    category: str | None
    expected_units: float = Field(
        ge=0, description="Sum over households of P(buy) x typical quantity."
    )
    households: float = Field(
        ge=0, description="Expected number of households buying (sum of P(buy))."
    )
    alerted_households: int = Field(
        ge=0, description="Households whose replenishment alert for it fires."
    )


class InventoryCategory(ApiModel):
    category: str
    expected_units: float = Field(ge=0)
    households: float = Field(ge=0)
    alerted_households: int = Field(ge=0)


class InventoryForecast(ApiModel):
    """Units the replenishment predictions expect households to buy."""

    horizon_days: int
    as_of: datetime = Field(description="Business 'now' the forecast starts at.")
    total_expected_units: float = Field(
        ge=0, description="Over every product, not only the listed ones."
    )
    products: list[InventoryLine] = Field(description="Most expected units first.")
    categories: list[InventoryCategory] = Field(
        description="Most expected units first."
    )
