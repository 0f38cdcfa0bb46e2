"""Prompts carry only computed features; answers are held to what was sent."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from omnix.analysers.completion import ProviderError, RetryPolicy
from omnix.analysers.features import CustomerFeatures
from omnix.analysers.openai_chat import OpenAICompatibleProvider
from omnix.analysers.prompts import (
    InsufficientFeaturesError,
    build_prompt,
    to_customer_profile,
)
from omnix.analysers.settings import ProviderSettings

AS_OF = date(2018, 1, 1)


def _features(**changes: Any) -> dict[str, Any]:
    features: dict[str, Any] = {
        "as_of": "2018-01-01",
        "segment": "Loyal Customers",
        "tenure_days": 400,
        "order_count": 60,
        "distinct_purchase_days": 55,
        "days_since_last_order": 3,
        "mean_days_between_orders": 6.5,
        "order_value": {"mean": 41.2, "median": 35.0, "p90": 80.0, "std": 20.1},
        "mean_items_per_order": 14.0,
        "top_brand_share": 0.22,
        "price_percentile": 0.35,
        "monthly_spend_cv": 0.18,
        "weekday_concentration": 0.48,
        "category_shares": [
            {"category": "DAIRY", "spend_share": 0.31},
            {"category": "BAKERY", "spend_share": 0.12},
        ],
        "product_rhythms": [
            {
                "product_id": "milk-2l",
                "product_name": "Whole milk 2 l",
                "category": "DAIRY",
                "distinct_purchase_days": 30,
                "last_purchase_date": "2017-12-29",
                "mean_interval_days": 7.1,
                "median_interval_days": 7.0,
            },
            {
                "product_id": "bread",
                "category": "BAKERY",
                "distinct_purchase_days": 12,
                "last_purchase_date": "2017-12-20",
                "median_interval_days": 14.0,
            },
            {
                "product_id": "ginger",
                "distinct_purchase_days": 1,
                "last_purchase_date": "2017-03-02",
            },
        ],
        "candidates": [
            {"product_id": "milk-2l", "previously_bought": True, "popularity": 0.6},
            {"product_id": "oat-milk", "category": "DAIRY", "previously_bought": False},
            {"product_id": "bread", "previously_bought": True},
        ],
    }
    features.update(changes)
    return features


@pytest.mark.parametrize("leak", ["email", "name", "address", "customer_id"])
def test_personal_fields_are_refused(leak: str) -> None:
    with pytest.raises(ValidationError, match=leak):
        CustomerFeatures.model_validate(_features(**{leak: "Jane Doe"}))


def test_an_email_hidden_in_a_text_field_is_refused() -> None:
    candidates = [
        {
            "product_id": "x",
            "product_name": "jane@example.org",
            "previously_bought": False,
        }
    ]
    with pytest.raises(ValidationError, match="e-mail"):
        CustomerFeatures.model_validate(_features(candidates=candidates))


def test_consumption_prompt_sends_only_repeat_purchases() -> None:
    prompt = build_prompt("consumption_prediction", _features())

    sent = json.loads(prompt.prompt.split("Household statistics:\n", 1)[1])
    assert prompt.product_ids == ("milk-2l", "bread")
    assert [r["product_id"] for r in sent["product_rhythms"]] == ["milk-2l", "bread"]
    assert set(sent) == {"as_of", "distinct_purchase_days", "product_rhythms"}
    assert "2018-01-01" in prompt.prompt
    assert '"predictedNextPurchaseDate"' in prompt.system  # the schema is shown


def test_consumption_answer_must_name_sent_products_and_future_dates() -> None:
    schema = build_prompt("consumption_prediction", _features()).answer_schema
    good = {
        "productId": "milk-2l",
        "predictedNextPurchaseDate": "2018-01-05",
        "confidence": 0.7,
        "reason": "bought weekly, last on 29 December",
    }

    assert schema.model_validate({"predictions": [good]})
    for wrong in (
        {"productId": "ginger"},  # bought once: not sent, so not allowed
        {"predictedNextPurchaseDate": "2017-12-30"},  # before today
        {"predictedNextPurchaseDate": "2020-01-01"},  # not a replenishment
        {"confidence": 1.5},
    ):
        with pytest.raises(ValidationError):
            schema.model_validate({"predictions": [{**good, **wrong}]})
    with pytest.raises(ValidationError, match="twice"):
        schema.model_validate({"predictions": [good, good]})


def test_recommendation_kinds_follow_the_purchase_history() -> None:
    prompt = build_prompt(
        "recommendation_generation", _features(), max_recommendations=2
    )
    schema = prompt.answer_schema

    def item(product_id: str, kind: str) -> dict[str, Any]:
        return {"productId": product_id, "kind": kind, "score": 0.5, "reason": "r"}

    answer = schema.model_validate(
        {
            "recommendations": [
                item("milk-2l", "repurchase"),
                item("oat-milk", "discovery"),
            ]
        }
    )
    assert answer.model_dump(by_alias=True)["recommendations"][1]["kind"] == "discovery"
    with pytest.raises(ValidationError, match="must be a discovery"):
        schema.model_validate({"recommendations": [item("oat-milk", "repurchase")]})
    with pytest.raises(ValidationError, match="not among the candidates"):
        schema.model_validate({"recommendations": [item("caviar", "discovery")]})
    with pytest.raises(ValidationError, match="at most 2"):
        schema.model_validate(
            {
                "recommendations": [
                    item("milk-2l", "repurchase"),
                    item("bread", "repurchase"),
                    item("oat-milk", "discovery"),
                ]
            }
        )


def test_profile_prompt_and_the_guide_shaped_result() -> None:
    prompt = build_prompt("customer_profiling", _features())
    answer: dict[str, Any] = {
        "spendingPatterns": {
            "preferredCategories": ["DAIRY", "BAKERY"],
            "shoppingFrequency": "weekly",
            "pricePreference": "budget",
        },
        "behavioralInsights": {
            "plannedShopper": True,
            "brandLoyal": False,
            "seasonalShopper": False,
            "bulkBuyer": False,
        },
        "demographics": {
            "estimatedAgeGroup": "unknown",
            "estimatedIncomeLevel": "unknown",
            "familySize": 2,
            "lifestyle": [],
        },
        "confidence": 0.3,
    }
    validated = prompt.answer_schema.model_validate(answer).model_dump(by_alias=True)

    profile = to_customer_profile("household-42", _features(), validated)

    assert "product_rhythms" not in prompt.prompt
    assert profile["customerId"] == "household-42"
    assert profile["spendingPatterns"]["averageOrderValue"] == 41.2
    assert profile["spendingPatterns"]["shoppingFrequency"] == "weekly"
    assert profile["demographics"]["familySize"] == 2
    wrong = {**answer["spendingPatterns"], "preferredCategories": ["WINE"]}
    with pytest.raises(ValidationError, match="not in the input"):
        prompt.answer_schema.model_validate({**answer, "spendingPatterns": wrong})


@pytest.mark.parametrize(
    ("analysis_type", "changes"),
    [
        ("consumption_prediction", {"product_rhythms": []}),
        ("recommendation_generation", {"candidates": []}),
        ("customer_profiling", {"order_count": 0, "category_shares": []}),
    ],
)
def test_too_little_to_ask_is_reported(
    analysis_type: Any, changes: dict[str, Any]
) -> None:
    with pytest.raises(InsufficientFeaturesError):
        build_prompt(analysis_type, _features(**changes))


def test_unknown_analysis_type_is_refused() -> None:
    with pytest.raises(ValueError, match="analysis_type"):
        build_prompt("horoscope", _features())  # type: ignore[arg-type]


async def test_an_invented_product_is_retried_over_the_wire(
    provider_server: Any,
) -> None:
    prompt = build_prompt(
        "recommendation_generation", _features(), max_recommendations=3
    )
    invented = {
        "recommendations": [
            {"productId": "caviar", "kind": "discovery", "score": 0.9, "reason": "r"}
        ]
    }
    valid = {
        "recommendations": [
            {"productId": "bread", "kind": "repurchase", "score": 0.8, "reason": "due"}
        ]
    }
    for answer in (invented, valid):
        provider_server.reply(
            200,
            {
                "id": "c",
                "object": "chat.completion",
                "created": 0,
                "model": "m",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": json.dumps(answer)},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": 900,
                    "completion_tokens": 40,
                    "total_tokens": 940,
                },
            },
        )
    settings = ProviderSettings(
        openai_base_url=f"{provider_server.base_url}/v1", openai_model="m"
    )
    provider = OpenAICompatibleProvider(
        settings, retry_policy=RetryPolicy(base_backoff_s=0.01)
    )

    completion = await provider.complete_json(
        model_id="m",
        system=prompt.system,
        prompt=prompt.prompt,
        answer_schema=prompt.answer_schema,
        deadline_s=5.0,
    )
    await provider.aclose()

    assert completion.attempts == 2
    assert completion.content["recommendations"][0]["productId"] == "bread"
    # Exactly the built prompt went out: the provider adds nothing of its own.
    messages = provider_server.received[0].body["messages"]
    assert messages == [
        {"role": "system", "content": prompt.system},
        {"role": "user", "content": prompt.prompt},
    ]


async def test_the_last_invalid_answer_is_reported_as_malformed(
    provider_server: Any,
) -> None:
    prompt = build_prompt("consumption_prediction", _features())
    settings = ProviderSettings(
        openai_base_url=f"{provider_server.base_url}/v1", openai_model="m"
    )
    provider = OpenAICompatibleProvider(
        settings, retry_policy=RetryPolicy(max_attempts=1)
    )
    provider_server.reply(
        200,
        {
            "id": "c",
            "object": "chat.completion",
            "created": 0,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": '{"predictions": [{"productId": "ginger"}]}',
                    },
                    "finish_reason": "stop",
                }
            ],
        },
    )

    with pytest.raises(ProviderError) as raised:
        await provider.complete_json(
            model_id="m",
            system=prompt.system,
            prompt=prompt.prompt,
            answer_schema=prompt.answer_schema,
            deadline_s=5.0,
        )
    await provider.aclose()

    assert raised.value.kind == "malformed"
