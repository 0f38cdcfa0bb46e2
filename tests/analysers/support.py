"""Helpers for the end-to-end analyser tests: configure a context's analysers,
and answer a provider request the way a cooperative LLM would.

The answers are built from what the request itself carries (the product ids,
candidates and categories in the prompt's JSON), so they pass the narrowed
answer schemas whatever the household, and in whichever order concurrent
requests arrive.
"""

from __future__ import annotations

import json
from typing import Any

from omnix.analysers.completion import RetryPolicy
from omnix.analysers.runtime import build_runtime, install_runtime
from omnix.context import AppContext
from tests.analysers.conftest import ReceivedRequest, ScriptedReply

FAST_RETRIES = RetryPolicy(max_attempts=3, base_backoff_s=0.01, max_backoff_s=0.05)
OPENAI_MODEL = "qwen2.5:7b-instruct"
USAGE = (1200, 300, 0)  # input, output, cached tokens per completion


def configure(context: AppContext, **settings: Any) -> None:
    """Apply settings (as OMNIX_* would) and rebuild the context's analysers."""
    context.settings = context.settings.model_copy(update=settings)
    install_runtime(
        context,
        build_runtime(
            context.settings.provider_settings,
            context.settings.default_analyser,
            retry_policy=FAST_RETRIES,
        ),
    )


def texts_of(request: ReceivedRequest) -> tuple[str, str]:
    """(system, user) text of an OpenAI, Anthropic or Bedrock request."""
    body = request.body
    if "inferenceConfig" in body:  # Bedrock Converse
        return body["system"][0]["text"], body["messages"][0]["content"][0]["text"]
    if "max_tokens" in body and "system" in body:  # Anthropic Messages
        return body["system"], body["messages"][0]["content"]
    messages = body["messages"]  # OpenAI chat completions
    return messages[0]["content"], messages[1]["content"]


def facts_of(prompt: str) -> dict[str, Any]:
    facts: dict[str, Any] = json.loads(prompt.split("Household statistics:\n", 1)[1])
    return facts


def answer_for(system: str, prompt: str) -> dict[str, Any]:
    """A valid answer to whichever analysis the prompt asks for."""
    facts = facts_of(prompt)
    if "ConsumptionPredictionAnswer" in system:
        return {
            "predictions": [
                {
                    "productId": rhythm["product_id"],
                    "predictedNextPurchaseDate": "2018-01-03",
                    "confidence": 0.7,
                    "reason": "Bought about weekly and last bought a week ago.",
                }
                for rhythm in facts["product_rhythms"]
            ]
        }
    if "RecommendationAnswer" in system:
        return {
            "recommendations": [
                {
                    "productId": candidate["product_id"],
                    "kind": "repurchase"
                    if candidate["previously_bought"]
                    else "discovery",
                    "score": 0.6,
                    "reason": "Fits what this household buys.",
                }
                for candidate in facts["candidates"][:2]
            ]
        }
    return {
        "spendingPatterns": {
            "preferredCategories": [facts["category_shares"][0]["category"]],
            "shoppingFrequency": "weekly",
            "pricePreference": "budget",
        },
        "behavioralInsights": {
            "plannedShopper": True,
            "brandLoyal": True,
            "seasonalShopper": False,
            "bulkBuyer": False,
        },
        "demographics": {
            "estimatedAgeGroup": "unknown",
            "estimatedIncomeLevel": "unknown",
            "familySize": 2,
            "lifestyle": [],
        },
        "confidence": 0.35,
    }


def wire_reply(request: ReceivedRequest, text: str) -> ScriptedReply:
    """``text`` wrapped in the reply format of the provider that asked."""
    fresh, output, cached = USAGE
    body = request.body
    if "inferenceConfig" in body:
        return ScriptedReply(
            200,
            {
                "output": {
                    "message": {"role": "assistant", "content": [{"text": text}]}
                },
                "stopReason": "end_turn",
                "usage": {
                    "inputTokens": fresh,
                    "outputTokens": output,
                    "totalTokens": fresh + output,
                },
                "metrics": {"latencyMs": 10},
            },
        )
    if "max_tokens" in body and "system" in body:
        return ScriptedReply(
            200,
            {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": fresh, "output_tokens": output},
            },
        )
    return ScriptedReply(
        200,
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": fresh,
                "completion_tokens": output,
                "total_tokens": fresh + output,
            },
        },
    )


def cooperative(request: ReceivedRequest) -> ScriptedReply:
    """A responder that answers every analysis correctly."""
    system, prompt = texts_of(request)
    return wire_reply(request, json.dumps(answer_for(system, prompt)))


def chatty(request: ReceivedRequest) -> ScriptedReply:
    """A responder whose every answer is prose, never JSON."""
    return wire_reply(request, "I would rather not answer in JSON today.")
