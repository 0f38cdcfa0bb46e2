"""Section 6 DTOs: CostAnalytics and TopCustomerCost, which the guide names
without defining."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from omnix.schemas import ApiModel

TimeRange = Literal["day", "week", "month"]


class CostFigures(ApiModel):
    """What a set of analysis calls consumed and cost.

    A call is one row of the usage ledger: a failed LLM call and the local
    engine's fallback answer are two calls. Costs are US dollars at the price
    in force when each call was made; an unpriced call's cost is unknown, so
    it is counted apart and never as zero.
    """

    calls: int = Field(description="Analysis calls in the window.")
    successful_calls: int
    failed_calls: int = Field(description="Calls whose analyser gave no answer.")
    fallback_calls: int = Field(
        description="Calls answered by the local engine after another failed."
    )
    input_tokens: int
    output_tokens: int
    cached_tokens: int = Field(description="Prompt tokens read from a cache.")
    total_tokens: int
    total_cost: float = Field(description="USD over the priced calls.")
    priced_calls: int
    unpriced_calls: int = Field(
        description="Calls of models without a price: their cost is unknown and "
        "not included in totalCost."
    )
    unpriced_tokens: int
    cost_per_analysis: float | None = Field(
        description="totalCost / pricedCalls; null without priced calls."
    )
    average_latency_ms: float | None


class CostBreakdown(CostFigures):
    """The figures of one model, analysis type or segment."""

    key: str = Field(
        description="Model id, analysis type, or segment id ('unsegmented' for "
        "customers without a segment)."
    )
    name: str | None = Field(default=None, description="Display name, if any.")


class DailyCost(ApiModel):
    """One UTC day of the window."""

    date: date
    calls: int
    failed_calls: int
    total_tokens: int
    total_cost: float
    unpriced_calls: int


class CostAnalytics(ApiModel):
    """Cost of the analyses of one customer, or of everyone (overview).

    Calls are windowed by when they were made (wall clock: that is when
    providers bill). Customer spend is windowed by business time, the same
    number of days up to the clock's "now" (pinned in the demo): without a
    pinned clock both windows are the same days.
    """

    scope: Literal["customer", "overview"]
    customer_id: str | None = None
    time_range: TimeRange | None = None
    days: int = Field(description="Length of the window in days.")
    period_start: datetime
    period_end: datetime
    currency: Literal["USD"] = "USD"
    totals: CostFigures
    by_model: list[CostBreakdown] = Field(description="Most expensive first.")
    by_analysis_type: list[CostBreakdown]
    by_segment: list[CostBreakdown] = Field(
        description="By each customer's current segment."
    )
    customer_spend: float = Field(
        description="Value of the purchases in the window (quantity × price)."
    )
    spend_period_start: datetime
    spend_period_end: datetime
    cost_to_spend_ratio: float | None = Field(
        description="totalCost / customerSpend; null without spend."
    )
    time_series: list[DailyCost] = Field(description="Every day of the window.")


class TopCustomerCost(ApiModel):
    """One customer's analysis cost in the window, for the ranking."""

    customer_id: str
    segment_id: str | None = None
    segment_name: str | None = None
    calls: int
    failed_calls: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    total_tokens: int
    total_cost: float
    unpriced_calls: int
    cost_per_analysis: float | None
    customer_spend: float
    cost_to_spend_ratio: float | None
    last_analysis_at: datetime
