"""The price table: known prices, unpriced models, overrides, versions by date."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from omnix.analysers.completion import CompletionUsage
from omnix.analysers.pricing import (
    Cost,
    Unpriced,
    build_price_table,
    cost_of,
    parse_price_overrides,
)

AT = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
MILLION_EACH = CompletionUsage(1_000_000, 1_000_000, 1_000_000)


def _cost(result: Cost | Unpriced) -> Cost:
    assert isinstance(result, Cost), result
    return result


def test_claude_3_haiku_list_prices() -> None:
    # 2,000 input and 500 output tokens: 2000 * 0.25e-6 + 500 * 1.25e-6.
    usage = CompletionUsage(2_000, 500, 0)

    cost = _cost(cost_of("anthropic.claude-3-haiku-20240307-v1:0", usage, AT))

    assert cost.total_usd == Decimal("0.001125")
    assert cost.price_version == "2024-03-claude-3-haiku"


def test_sonnet_cached_reads_cost_a_tenth_of_input() -> None:
    cost = _cost(cost_of("claude-3-5-sonnet-20240620", MILLION_EACH, AT))

    assert (cost.input_usd, cost.output_usd, cost.cached_usd) == (
        Decimal(3),
        Decimal(15),
        Decimal("0.30"),
    )
    assert cost.total_usd == Decimal("18.30")


def test_bedrock_inference_profiles_bill_like_the_base_model() -> None:
    base = _cost(cost_of("anthropic.claude-3-5-sonnet-20240620-v1:0", MILLION_EACH, AT))
    profile = _cost(
        cost_of("eu.anthropic.claude-3-5-sonnet-20240620-v1:0", MILLION_EACH, AT)
    )

    assert profile.total_usd == base.total_usd


def test_unknown_model_is_unpriced_not_free() -> None:
    result = cost_of("gpt-imaginary", CompletionUsage(10, 10, 0), AT)

    assert result == Unpriced(
        model_id="gpt-imaginary", reason="no price for gpt-imaginary"
    )


def test_local_engines_cost_nothing() -> None:
    cost = _cost(cost_of("local:replenishment", MILLION_EACH, AT))

    assert cost.total_usd == 0
    assert cost.price_version == "local-engines"


def test_price_versions_are_chosen_by_date() -> None:
    overrides = {
        "claude-3-haiku-20240307": [
            {
                "input": 0.25,
                "output": 1.25,
                "effective_from": "2024-03-13",
                "version": "v1",
            },
            {
                "input": 0.20,
                "output": 1.00,
                "effective_from": "2025-01-01",
                "version": "v2",
            },
        ]
    }
    table = build_price_table(overrides)
    usage = CompletionUsage(1_000_000, 0, 0)

    before = _cost(table.cost_of("claude-3-haiku-20240307", usage, date(2024, 12, 31)))
    on_change = _cost(table.cost_of("claude-3-haiku-20240307", usage, date(2025, 1, 1)))
    too_early = table.cost_of("claude-3-haiku-20240307", usage, date(2024, 1, 1))

    assert (before.price_version, before.total_usd) == ("v1", Decimal("0.25"))
    assert (on_change.price_version, on_change.total_usd) == ("v2", Decimal("0.20"))
    assert isinstance(too_early, Unpriced)
    assert "in force on 2024-01-01" in too_early.reason


def test_the_utc_day_decides_which_version_applies() -> None:
    table = build_price_table(
        {
            "m": [
                {
                    "input": 1,
                    "output": 1,
                    "effective_from": "2025-01-01",
                    "version": "new",
                }
            ]
        }
    )
    # 23:30 on 31 December in New York is already 1 January in UTC.
    new_york = timezone(timedelta(hours=-5))
    late_evening = datetime(2024, 12, 31, 23, 30, tzinfo=new_york)

    cost = _cost(table.cost_of("m", CompletionUsage(1, 0, 0), late_evening))

    assert cost.price_version == "new"
    with pytest.raises(ValueError, match="timezone-aware"):
        table.cost_of("m", CompletionUsage(1, 0, 0), datetime(2025, 1, 2))


def test_override_from_json_text_replaces_the_built_in_price() -> None:
    text = json.dumps(
        {"anthropic.claude-3-haiku-20240307-v1:0": {"input": 0.5, "output": 2}}
    )

    table = build_price_table(text)
    cost = _cost(
        table.cost_of("anthropic.claude-3-haiku-20240307-v1:0", MILLION_EACH, AT)
    )

    # No cached-read price given: cached tokens cost the full input price.
    assert cost.total_usd == Decimal("3.0")
    assert cost.price_version == "override"
    untouched = _cost(table.cost_of("claude-3-haiku-20240307", MILLION_EACH, AT))
    assert untouched.total_usd == Decimal("1.53")


def test_override_from_a_file_prices_a_self_hosted_model(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps({"llama3.1:*": {"input": 0, "output": 0, "version": "self-hosted"}})
    )

    table = build_price_table(str(path))

    assert _cost(table.cost_of("llama3.1:8b", MILLION_EACH, AT)).total_usd == 0
    assert isinstance(table.cost_of("llama3.2:3b", MILLION_EACH, AT), Unpriced)


def test_exact_id_wins_over_a_prefix() -> None:
    table = build_price_table(
        {
            "acme-*": {"input": 1, "output": 1, "version": "family"},
            "acme-large": {"input": 9, "output": 9, "version": "large"},
        }
    )

    assert (
        _cost(table.cost_of("acme-small", MILLION_EACH, AT)).price_version == "family"
    )
    assert _cost(table.cost_of("acme-large", MILLION_EACH, AT)).price_version == "large"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ("{not json", "not valid JSON"),
        ("/nonexistent/prices.json", "cannot read"),
        ("[]", "JSON object"),
        ({"m": {"input": -1, "output": 1}}, "'m'"),
        ({"m": {"input": 1}}, "'m'"),
        ({"m": {"input": 1, "output": 1, "surprise": 2}}, "'m'"),
    ],
)
def test_bad_overrides_name_the_problem(overrides: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_price_overrides(overrides)  # type: ignore[arg-type]


def test_two_prices_on_one_date_are_refused() -> None:
    same_day = [{"input": 1, "output": 1}, {"input": 2, "output": 2}]
    with pytest.raises(ValueError, match="same date"):
        build_price_table({"m": same_day})


def test_negative_token_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        cost_of("claude-3-haiku-20240307", CompletionUsage(-1, 0, 0), AT)
