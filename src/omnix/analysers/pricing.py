"""A versioned price table for LLM tokens, and the cost of one completion.

Prices are US dollars per million tokens, separately for input, output and
cached-read input, each entry valid from an ``effective_from`` date (UTC) and
named by a version string that is stored with every cost so old costs stay
explainable after a price change. A model with no price in force is reported
as ``Unpriced``, never as free; only the local engines cost nothing.

Overrides come from configuration as JSON (the text itself or the path of a
file holding it), mapping a model id to one price or a list of dated prices::

    {"anthropic.claude-3-haiku-20240307-v1:0":
        {"input": 0.25, "output": 1.25, "cached_read": 0.03,
         "effective_from": "2024-03-14", "version": "aws-2024-03"},
     "llama3.1:8b": {"input": 0, "output": 0, "version": "self-hosted"}}

The overrides of a model replace all its built-in prices. A model id ending
in ``*`` prices every id with that prefix; an exact id wins over a prefix.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from omnix.analysers.completion import CompletionUsage

_MILLION = Decimal(1_000_000)
_ALWAYS = date(1970, 1, 1)

LOCAL_ENGINE_PATTERN = "local:*"


@dataclass(frozen=True)
class ModelPrice:
    """USD per million tokens for a model id (or id prefix ending in ``*``)."""

    model_id: str
    version: str
    effective_from: date
    input_usd_per_mtok: Decimal
    output_usd_per_mtok: Decimal
    cached_read_usd_per_mtok: Decimal


@dataclass(frozen=True)
class Cost:
    """What a completion cost, and under which price version."""

    model_id: str
    price_version: str
    input_usd: Decimal
    output_usd: Decimal
    cached_usd: Decimal

    @property
    def total_usd(self) -> Decimal:
        return self.input_usd + self.output_usd + self.cached_usd


@dataclass(frozen=True)
class Unpriced:
    """No price in force for this model: the cost is unknown, not zero."""

    model_id: str
    reason: str


def _price(
    model_id: str,
    version: str,
    effective_from: date,
    input_usd: str,
    output_usd: str,
    cached_read_usd: str,
) -> ModelPrice:
    return ModelPrice(
        model_id=model_id,
        version=version,
        effective_from=effective_from,
        input_usd_per_mtok=Decimal(input_usd),
        output_usd_per_mtok=Decimal(output_usd),
        cached_read_usd_per_mtok=Decimal(cached_read_usd),
    )


def _claude_prices() -> list[ModelPrice]:
    # List prices at launch (Anthropic and Amazon Bedrock charge the same for
    # these two models). Haiku's cached read is Anthropic's published $0.03;
    # for Sonnet it is 10 % of the input price. Bedrock's cross-region
    # inference profiles ("us.", "eu.", "apac.") bill like the base model.
    haiku = ("2024-03-claude-3-haiku", date(2024, 3, 13), "0.25", "1.25", "0.03")
    sonnet = ("2024-06-claude-3.5-sonnet", date(2024, 6, 20), "3", "15", "0.30")
    prices = [
        _price("claude-3-haiku-20240307", *haiku),
        _price("claude-3-5-sonnet-20240620", *sonnet),
    ]
    for profile in ("", "us.", "eu.", "apac."):
        prices.append(
            _price(f"{profile}anthropic.claude-3-haiku-20240307-v1:0", *haiku)
        )
        prices.append(
            _price(f"{profile}anthropic.claude-3-5-sonnet-20240620-v1:0", *sonnet)
        )
    return prices


DEFAULT_PRICES: tuple[ModelPrice, ...] = (
    *_claude_prices(),
    # The local engines run in-process and spend no tokens.
    _price(LOCAL_ENGINE_PATTERN, "local-engines", _ALWAYS, "0", "0", "0"),
)


class PriceTable:
    """Prices by model id and date; immutable once built."""

    def __init__(self, prices: Iterable[ModelPrice]) -> None:
        by_model: dict[str, list[ModelPrice]] = {}
        for price in prices:
            by_model.setdefault(price.model_id, []).append(price)
        for model_id, entries in by_model.items():
            entries.sort(key=lambda p: p.effective_from)
            dates = [p.effective_from for p in entries]
            if len(set(dates)) != len(dates):
                raise ValueError(f"two prices for {model_id} on the same date")
        self._by_model = by_model

    @property
    def prices(self) -> tuple[ModelPrice, ...]:
        return tuple(p for entries in self._by_model.values() for p in entries)

    def price_at(self, model_id: str, at: date | datetime) -> ModelPrice | None:
        """The price in force for ``model_id`` on ``at`` (UTC), if any."""
        day = _utc_day(at)
        entries = self._entries_for(model_id)
        in_force = [p for p in entries if p.effective_from <= day]
        return in_force[-1] if in_force else None

    def cost_of(
        self, model_id: str, usage: CompletionUsage, at: date | datetime
    ) -> Cost | Unpriced:
        """The cost of ``usage`` tokens of ``model_id`` at the price in force."""
        if min(usage.input_tokens, usage.output_tokens, usage.cached_tokens) < 0:
            raise ValueError("token counts must not be negative")
        price = self.price_at(model_id, at)
        if price is None:
            if self._entries_for(model_id):
                reason = f"no price for {model_id} in force on {_utc_day(at)}"
            else:
                reason = f"no price for {model_id}"
            return Unpriced(model_id=model_id, reason=reason)
        return Cost(
            model_id=model_id,
            price_version=price.version,
            input_usd=usage.input_tokens * price.input_usd_per_mtok / _MILLION,
            output_usd=usage.output_tokens * price.output_usd_per_mtok / _MILLION,
            cached_usd=usage.cached_tokens * price.cached_read_usd_per_mtok / _MILLION,
        )

    def with_overrides(
        self, overrides: Mapping[str, Any] | str | Path | None
    ) -> PriceTable:
        """A new table where each overridden model's prices replace the built-in."""
        replacements = parse_price_overrides(overrides)
        replaced = {price.model_id for price in replacements}
        kept = [p for p in self.prices if p.model_id not in replaced]
        return PriceTable([*kept, *replacements])

    def _entries_for(self, model_id: str) -> list[ModelPrice]:
        if model_id in self._by_model:
            return self._by_model[model_id]
        # The longest matching prefix is the most specific pattern.
        patterns = [
            key
            for key in self._by_model
            if key.endswith("*") and model_id.startswith(key[:-1])
        ]
        if not patterns:
            return []
        return self._by_model[max(patterns, key=len)]


class _OverrideEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: Decimal = Field(ge=0)
    output: Decimal = Field(ge=0)
    # Unknown cached-read price: bill cached tokens at the full input price
    # rather than assume a discount nobody stated.
    cached_read: Decimal | None = Field(default=None, ge=0)
    effective_from: date = _ALWAYS
    version: str = Field(default="override", min_length=1, max_length=100)


def parse_price_overrides(
    overrides: Mapping[str, Any] | str | Path | None,
) -> list[ModelPrice]:
    """Prices from override JSON: a mapping, JSON text or a JSON file path.

    Raises
    ------
    ValueError
        When the JSON cannot be read or an entry is invalid; the message
        names the model id.
    """
    if overrides is None:
        return []
    document = _load_document(overrides)
    if not isinstance(document, Mapping):
        raise ValueError("price overrides must be a JSON object keyed by model id")

    prices: list[ModelPrice] = []
    for model_id, spec in document.items():
        specs = spec if isinstance(spec, list) else [spec]
        for item in specs:
            try:
                entry = _OverrideEntry.model_validate(item)
            except ValidationError as invalid:
                raise ValueError(
                    f"price override for {model_id!r}: {invalid}"
                ) from invalid
            prices.append(
                ModelPrice(
                    model_id=str(model_id),
                    version=entry.version,
                    effective_from=entry.effective_from,
                    input_usd_per_mtok=entry.input,
                    output_usd_per_mtok=entry.output,
                    cached_read_usd_per_mtok=(
                        entry.cached_read
                        if entry.cached_read is not None
                        else entry.input
                    ),
                )
            )
    return prices


def build_price_table(
    overrides: Mapping[str, Any] | str | Path | None = None,
) -> PriceTable:
    """The built-in prices with the configured overrides applied."""
    return PriceTable(DEFAULT_PRICES).with_overrides(overrides)


def cost_of(
    model_id: str,
    usage: CompletionUsage,
    at: date | datetime,
    table: PriceTable | None = None,
) -> Cost | Unpriced:
    """The cost of a completion under ``table`` (the built-in prices if None)."""
    return (table or build_price_table()).cost_of(model_id, usage, at)


def _load_document(overrides: Mapping[str, Any] | str | Path) -> Any:
    if isinstance(overrides, Mapping):
        return overrides
    text = overrides if isinstance(overrides, str) else None
    if text is not None and text.lstrip().startswith(("{", "[")):
        source = "OMNIX_PRICE_OVERRIDES"
    else:
        path = Path(overrides)
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as failure:
            raise ValueError(f"cannot read price overrides from {path}") from failure
    try:
        return json.loads(text)
    except json.JSONDecodeError as failure:
        raise ValueError(f"price overrides in {source} are not valid JSON") from failure


def _utc_day(at: date | datetime) -> date:
    if isinstance(at, datetime):
        if at.tzinfo is None:
            raise ValueError("at must be timezone-aware")
        return at.astimezone(UTC).date()
    return at
