"""Prompts for the three LLM analysis types, built from computed features.

A prompt carries the household's aggregates (``CustomerFeatures``) and
nothing else: no customer id, name, e-mail or address. Each builder returns
the system text, the user text and the answer schema narrowed to this
request, ready for ``LLMProvider.complete_json``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from omnix.analysers.answers import (
    AnalysisType,
    ConsumptionPredictionAnswer,
    CustomerProfileAnswer,
    RecommendationAnswer,
)
from omnix.analysers.features import CustomerFeatures, ProductRhythm

# Bounds on what one prompt carries, so its token cost stays predictable; the
# most regularly bought products and the first candidates (in the caller's
# order, which should be its ranking) are kept.
MAX_RHYTHMS_IN_PROMPT = 60
MAX_CANDIDATES_IN_PROMPT = 80
MAX_CATEGORIES_IN_PROMPT = 25

_SYSTEM = """\
You are a retail analyst for a supermarket chain. You receive aggregate \
statistics about the grocery purchases of one household. They are anonymous: \
you do not know who the household is, and you must not guess.

Rules:
- Reply with one JSON object and nothing else (no Markdown, no comments).
- The object must validate against this JSON Schema:
{schema}
- Use only product ids and category names that appear in the input.
- Dates are calendar dates written YYYY-MM-DD.
- Each reason is one short sentence based on the figures given."""

_CONSUMPTION_TASK = """\
Today is {as_of}. For each product under "product_rhythms", predict the date \
on which the household will next buy it: not before today, and judged from \
the gaps between its purchase days and the date of its last purchase. When a \
product is overdue, predict a date soon after today. "confidence" is your \
probability, from 0 to 1, that the household buys the product within 7 days \
of the predicted date. Give one prediction per product."""

_RECOMMENDATION_TASK = """\
Today is {as_of}. Choose up to {limit} products from "candidates" to \
recommend to this household, best first. A candidate with \
"previously_bought": true can only be a "repurchase"; one with \
"previously_bought": false can only be a "discovery". Prefer repurchases \
whose rhythm in "product_rhythms" says they are due, and discoveries in the \
categories the household spends most on. "score" is your probability, from 0 \
to 1, that the household buys the product in the next 14 days."""

_PROFILE_TASK = """\
Describe this household's shopping profile.
- preferredCategories: up to 5 categories from "category_shares", largest \
spend first.
- shoppingFrequency: "daily" if it shops on most days, "weekly" for about \
one to three shopping days a week, "monthly" for a few a month, \
"irregular" when the gaps vary widely.
- pricePreference: from "price_percentile" (below 0.4 budget, above 0.6 \
premium, otherwise mid-range).
- plannedShopper: a steady weekday ("weekday_concentration") and steady \
baskets; brandLoyal: a high "top_brand_share"; seasonalShopper: a high \
"monthly_spend_cv"; bulkBuyer: many units per line or large baskets.
- demographics are estimates from purchases alone. When the statistics \
carry little signal, answer "unknown" for the age group and income level \
and give a low confidence.
- confidence: your overall confidence in the profile, from 0 to 1."""


class InsufficientFeaturesError(ValueError):
    """The features hold too little for this analysis type to ask anything."""


@dataclass(frozen=True)
class AnalysisPrompt:
    """What to send for one analysis and how to check what comes back."""

    analysis_type: AnalysisType
    system: str
    prompt: str
    answer_schema: type[BaseModel]
    # The products the answer may name (empty for a profile).
    product_ids: tuple[str, ...]


def build_prompt(
    analysis_type: AnalysisType,
    features: CustomerFeatures | Mapping[str, Any],
    *,
    max_recommendations: int = 10,
) -> AnalysisPrompt:
    """The prompt for ``analysis_type``; bad features raise ``ValueError``."""
    checked = _checked(features)
    if analysis_type == "consumption_prediction":
        return consumption_prediction_prompt(checked)
    if analysis_type == "recommendation_generation":
        return recommendation_prompt(checked, max_items=max_recommendations)
    if analysis_type == "customer_profiling":
        return customer_profiling_prompt(checked)
    raise ValueError(f"unknown analysis_type {analysis_type!r}")


def consumption_prediction_prompt(
    features: CustomerFeatures | Mapping[str, Any],
) -> AnalysisPrompt:
    """Ask for the next purchase date of each regularly bought product."""
    checked = _checked(features)
    rhythms = _top_rhythms(
        [r for r in checked.product_rhythms if r.distinct_purchase_days >= 2]
    )
    if not rhythms:
        raise InsufficientFeaturesError(
            "no product was bought on two distinct days: there is no interval "
            "to predict from"
        )

    payload = {
        "as_of": checked.as_of.isoformat(),
        "distinct_purchase_days": checked.distinct_purchase_days,
        "product_rhythms": [_dump(r) for r in rhythms],
    }
    ids = tuple(r.product_id for r in rhythms)
    schema = ConsumptionPredictionAnswer.restricted_to(ids, checked.as_of)
    return _assemble(
        "consumption_prediction",
        schema,
        _CONSUMPTION_TASK.format(as_of=checked.as_of.isoformat()),
        payload,
        ids,
    )


def recommendation_prompt(
    features: CustomerFeatures | Mapping[str, Any], *, max_items: int = 10
) -> AnalysisPrompt:
    """Ask for repurchase and discovery recommendations among the candidates."""
    if max_items < 1:
        raise ValueError("max_items must be at least 1")
    checked = _checked(features)
    candidates = checked.candidates[:MAX_CANDIDATES_IN_PROMPT]
    if not candidates:
        raise InsufficientFeaturesError("there are no candidate products")

    payload: dict[str, Any] = {
        "as_of": checked.as_of.isoformat(),
        "segment": checked.segment,
        "category_shares": [
            _dump(c) for c in checked.category_shares[:MAX_CATEGORIES_IN_PROMPT]
        ],
        "product_rhythms": [_dump(r) for r in _top_rhythms(checked.product_rhythms)],
        "candidates": [_dump(c) for c in candidates],
    }
    ids = tuple(c.product_id for c in candidates)
    bought = [c.product_id for c in candidates if c.previously_bought]
    limit = min(max_items, len(candidates))
    schema = RecommendationAnswer.restricted_to(ids, bought, limit)
    task = _RECOMMENDATION_TASK.format(as_of=checked.as_of.isoformat(), limit=limit)
    return _assemble("recommendation_generation", schema, task, payload, ids)


def customer_profiling_prompt(
    features: CustomerFeatures | Mapping[str, Any],
) -> AnalysisPrompt:
    """Ask for the guide's CustomerProfile judged from the aggregates."""
    checked = _checked(features)
    if checked.order_count == 0 or not checked.category_shares:
        raise InsufficientFeaturesError("the household has no orders to profile")

    payload = checked.model_dump(
        mode="json",
        exclude={"product_rhythms", "candidates", "category_shares"},
        exclude_none=True,
    )
    shares = checked.category_shares[:MAX_CATEGORIES_IN_PROMPT]
    payload["category_shares"] = [_dump(c) for c in shares]
    schema = CustomerProfileAnswer.restricted_to(c.category for c in shares)
    return _assemble("customer_profiling", schema, _PROFILE_TASK, payload, ())


def to_customer_profile(
    customer_id: str,
    features: CustomerFeatures | Mapping[str, Any],
    answer: Mapping[str, Any],
) -> dict[str, Any]:
    """The guide's ``CustomerProfile`` from a validated profiling answer.

    The customer id never went to the provider and the average order value
    is a computed figure, so both are filled in here rather than asked for.
    """
    checked = _checked(features)
    profile = CustomerProfileAnswer.model_validate(answer)
    body = profile.model_dump(mode="json", by_alias=True)
    average = checked.order_value.mean if checked.order_value is not None else 0.0
    body["spendingPatterns"] = {
        "averageOrderValue": round(average, 2),
        **body["spendingPatterns"],
    }
    return {"customerId": customer_id, **body}


def _assemble(
    analysis_type: AnalysisType,
    schema: type[BaseModel],
    task: str,
    payload: Mapping[str, Any],
    product_ids: tuple[str, ...],
) -> AnalysisPrompt:
    schema_text = json.dumps(schema.model_json_schema(by_alias=True))
    facts = json.dumps(
        {key: value for key, value in payload.items() if value is not None},
        separators=(",", ":"),
    )
    return AnalysisPrompt(
        analysis_type=analysis_type,
        system=_SYSTEM.format(schema=schema_text),
        prompt=f"{task}\n\nHousehold statistics:\n{facts}",
        answer_schema=schema,
        product_ids=product_ids,
    )


def _checked(features: CustomerFeatures | Mapping[str, Any]) -> CustomerFeatures:
    if isinstance(features, CustomerFeatures):
        return features
    return CustomerFeatures.model_validate(features)


def _top_rhythms(rhythms: list[ProductRhythm]) -> list[ProductRhythm]:
    ranked = sorted(rhythms, key=lambda r: (-r.distinct_purchase_days, r.product_id))
    return ranked[:MAX_RHYTHMS_IN_PROMPT]


def _dump(part: BaseModel) -> dict[str, Any]:
    return part.model_dump(mode="json", exclude_none=True)
