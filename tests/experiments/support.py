"""Helpers: create tests through the API, move business time, read the ledger."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select

from omnix.analysers.registry import (
    BEDROCK_HAIKU_ID,
    BEDROCK_SONNET_ID,
    INTERVAL_BASELINE_ID,
    LOCAL_ENGINE_ID,
    AnalyserInfo,
    AnalyserRegistry,
    interval_baseline,
    local_engine,
)
from omnix.analysers.runtime import analyser_runtime, install_runtime
from omnix.clock import Clock
from omnix.context import AppContext
from omnix.costs.models import AnalysisUsage
from omnix.experiments.models import ABTestCall

BASE = "/v1/ab-tests"
CUTOFF = datetime(2017, 11, 1, tzinfo=UTC)
LATER = datetime(2018, 1, 1, tzinfo=UTC)
HOUSEHOLDS = [f"H{n}" for n in range(10)]


def body(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "testName": "Engine against baseline",
        "modelA": LOCAL_ENGINE_ID,
        "modelB": INTERVAL_BASELINE_ID,
        "analysisType": "full_analysis",
        "trafficSplit": 0.5,
        "durationDays": 14,
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


async def create(
    client: httpx.AsyncClient, headers: dict[str, str], **overrides: Any
) -> str:
    response = await client.post(BASE, json=body(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    test_id: str = response.json()["testId"]
    return test_id


def set_now(context: AppContext, instant: datetime) -> None:
    """Move business "now" for every later request of the app."""
    context.clock = Clock(instant)


async def analyse(
    client: httpx.AsyncClient, headers: dict[str, str], households: list[str]
) -> list[str]:
    """Ask each household's full analysis; the model ids that answered."""
    answered = []
    for household in households:
        response = await client.get(
            f"/v1/customers/{household}/ai-analysis", headers=headers
        )
        assert response.status_code == 200, response.text
        answered.append(response.json()["modelId"])
    return answered


async def ledger(context: AppContext) -> list[AnalysisUsage]:
    async with context.db.session() as session:
        rows = await session.scalars(select(AnalysisUsage).order_by(AnalysisUsage.id))
        return list(rows)


async def stored_calls(context: AppContext) -> list[ABTestCall]:
    async with context.db.session() as session:
        rows = await session.scalars(select(ABTestCall).order_by(ABTestCall.id))
        return list(rows)


def with_llm_models(context: AppContext, *, configured: bool) -> None:
    """A registry whose Bedrock Haiku and Sonnet count as available.

    Their provider model id stays unset, so a call to them fails as
    "unavailable" and the local engine answers: no provider is ever reached.
    """

    def llm(analyser_id: str, name: str) -> AnalyserInfo:
        return AnalyserInfo(
            id=analyser_id,
            name=name,
            provider="bedrock",
            description="Test double",
            available=configured,
            unavailable_reason=None
            if configured
            else "OMNIX_BEDROCK_REGION is not set",
            kind="llm",
        )

    registry = AnalyserRegistry(
        [
            local_engine(),
            interval_baseline(),
            llm(BEDROCK_HAIKU_ID, "Claude Haiku on Amazon Bedrock"),
            llm(BEDROCK_SONNET_ID, "Claude Sonnet on Amazon Bedrock"),
        ],
        LOCAL_ENGINE_ID,
    )
    install_runtime(
        context, dataclasses.replace(analyser_runtime(context), registry=registry)
    )


async def create_with_both_arms(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    households: list[str],
    split: float = 0.5,
    **overrides: Any,
) -> str:
    """A test whose random id puts at least one of ``households`` in each arm.

    Ids are random, so a handful of households can all land in one arm
    (1 in 512 for ten at 0.5); such a test is deactivated and made again.
    """
    from omnix.experiments.buckets import arm_for

    while True:
        test_id = await create(client, headers, trafficSplit=split, **overrides)
        if len({arm_for(test_id, h, split) for h in households}) == 2:
            return test_id
        await client.put(f"{BASE}/{test_id}/deactivate", headers=headers)
