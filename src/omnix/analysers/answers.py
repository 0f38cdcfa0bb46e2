"""What an LLM must answer for each analysis type, as pydantic schemas.

Field names follow the API guide (camelCase aliases). Each schema can be
narrowed to one request with ``restricted_to``: the answer is then also
checked against what was sent (product ids among the candidates, dates not
before the analysis date, categories the household actually buys), so a
hallucinated id fails validation and is retried like malformed JSON.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Annotated, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

AnalysisType = Literal[
    "consumption_prediction", "customer_profiling", "recommendation_generation"
]
ANALYSIS_TYPES: tuple[AnalysisType, ...] = (
    "consumption_prediction",
    "customer_profiling",
    "recommendation_generation",
)

# Further ahead than a year, a "next purchase" is not a replenishment.
MAX_PREDICTION_HORIZON = timedelta(days=366)


class _AnswerPart(BaseModel):
    # Extra keys a model adds are ignored rather than failing the answer.
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        extra="ignore",
        frozen=True,
    )


Reason = Annotated[str, Field(min_length=1, max_length=500)]
UnitScore = Annotated[float, Field(ge=0.0, le=1.0)]


class PredictedPurchase(_AnswerPart):
    product_id: str
    predicted_next_purchase_date: date
    confidence: UnitScore
    reason: Reason


class ConsumptionPredictionAnswer(_AnswerPart):
    """When the household will next buy each product it buys repeatedly."""

    predictions: list[PredictedPurchase]

    candidate_ids: ClassVar[frozenset[str] | None] = None
    as_of: ClassVar[date | None] = None

    @classmethod
    def restricted_to(cls, product_ids: Iterable[str], as_of: date) -> type[Self]:
        """This schema, accepting only the given products and dates from as_of."""
        ids, day = frozenset(product_ids), as_of

        class Restricted(cls):  # type: ignore[valid-type,misc]
            model_config = ConfigDict(title=cls.__name__)
            candidate_ids = ids
            as_of = day

        return Restricted

    @model_validator(mode="after")
    def _check_against_request(self) -> Self:
        seen: set[str] = set()
        for item in self.predictions:
            _check_candidate(item.product_id, self.candidate_ids, seen)
            if self.as_of is not None and not (
                self.as_of
                <= item.predicted_next_purchase_date
                <= self.as_of + MAX_PREDICTION_HORIZON
            ):
                raise ValueError(
                    f"predictedNextPurchaseDate {item.predicted_next_purchase_date} "
                    f"for {item.product_id} is not within a year from {self.as_of}"
                )
        return self


class RecommendedProduct(_AnswerPart):
    product_id: str
    kind: Literal["repurchase", "discovery"]
    score: UnitScore
    reason: Reason


class RecommendationAnswer(_AnswerPart):
    """Products to suggest: ones to buy again and ones to discover."""

    recommendations: list[RecommendedProduct] = Field(min_length=1)

    candidate_ids: ClassVar[frozenset[str] | None] = None
    bought_ids: ClassVar[frozenset[str] | None] = None
    max_items: ClassVar[int | None] = None

    @classmethod
    def restricted_to(
        cls, candidate_ids: Iterable[str], bought_ids: Iterable[str], max_items: int
    ) -> type[Self]:
        """This schema, accepting only the candidates, each with the right kind."""
        ids, bought, limit = frozenset(candidate_ids), frozenset(bought_ids), max_items

        class Restricted(cls):  # type: ignore[valid-type,misc]
            model_config = ConfigDict(title=cls.__name__)
            candidate_ids = ids
            bought_ids = bought
            max_items = limit

        return Restricted

    @model_validator(mode="after")
    def _check_against_request(self) -> Self:
        if self.max_items is not None and len(self.recommendations) > self.max_items:
            raise ValueError(
                f"{len(self.recommendations)} recommendations, at most "
                f"{self.max_items} were asked for"
            )
        seen: set[str] = set()
        for item in self.recommendations:
            _check_candidate(item.product_id, self.candidate_ids, seen)
            if self.bought_ids is None:
                continue
            # "repurchase" means the household bought it before; anything else
            # is a discovery. A mislabelled kind would mislead the dashboard.
            expected = (
                "repurchase" if item.product_id in self.bought_ids else "discovery"
            )
            if item.kind != expected:
                raise ValueError(
                    f"{item.product_id} must be a {expected} recommendation"
                )
        return self


class SpendingPatterns(_AnswerPart):
    preferred_categories: list[str] = Field(min_length=1, max_length=5)
    shopping_frequency: Literal["daily", "weekly", "monthly", "irregular"]
    price_preference: Literal["budget", "mid-range", "premium"]


class BehavioralInsights(_AnswerPart):
    planned_shopper: bool
    brand_loyal: bool
    seasonal_shopper: bool
    bulk_buyer: bool


class EstimatedDemographics(_AnswerPart):
    estimated_age_group: str = Field(min_length=1, max_length=40)
    estimated_income_level: str = Field(min_length=1, max_length=40)
    family_size: int = Field(ge=1, le=12)
    lifestyle: list[str] = Field(default_factory=list, max_length=5)


class CustomerProfileAnswer(_AnswerPart):
    """The guide's CustomerProfile as judged from aggregates.

    ``customerId`` is never sent to a provider, and ``averageOrderValue`` is
    computed rather than asked for; ``to_customer_profile`` in
    ``omnix.analysers.prompts`` adds both.
    """

    spending_patterns: SpendingPatterns
    behavioral_insights: BehavioralInsights
    demographics: EstimatedDemographics
    confidence: UnitScore

    known_categories: ClassVar[frozenset[str] | None] = None

    @classmethod
    def restricted_to(cls, categories: Iterable[str]) -> type[Self]:
        """This schema, accepting only categories the household buys."""
        known = frozenset(categories)

        class Restricted(cls):  # type: ignore[valid-type,misc]
            model_config = ConfigDict(title=cls.__name__)
            known_categories = known

        return Restricted

    @model_validator(mode="after")
    def _check_against_request(self) -> Self:
        if self.known_categories is None:
            return self
        unknown = [
            category
            for category in self.spending_patterns.preferred_categories
            if category not in self.known_categories
        ]
        if unknown:
            raise ValueError(f"preferredCategories not in the input: {unknown}")
        return self


def _check_candidate(
    product_id: str, candidate_ids: frozenset[str] | None, seen: set[str]
) -> None:
    if candidate_ids is not None and product_id not in candidate_ids:
        raise ValueError(f"productId {product_id!r} is not among the candidates")
    if product_id in seen:
        raise ValueError(f"productId {product_id!r} appears twice")
    seen.add(product_id)
