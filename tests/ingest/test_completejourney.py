"""The Complete Journey loader keeps every real purchase and says what it set aside."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from omnix.ingest import completejourney

pytestmark = pytest.mark.slow


def test_real_data_is_shaped_and_the_rest_set_aside():
    data = completejourney.load(datetime(2018, 1, 1, tzinfo=UTC))
    assert data.total_lines == 1_469_307
    kept, aside = data.lines.height, sum(data.set_aside.values())
    assert kept + aside == data.total_lines
    assert data.set_aside["quantity is zero or negative"] == 8_869
    # Fuel, sold by the gallon, is kept as one fill-up per line.
    assert "quantity is above the per-line cap of 1000" not in data.set_aside
    assert data.lines["quantity"].max() <= 1000
    assert data.customers.height == 2_469
    assert data.customers["age_group"].drop_nulls().len() == 801
    assert data.lines["quantity"].min() > 0
    assert data.lines["price"].min() >= 0
    sold = set(data.lines["product_id"].unique().to_list())
    assert sold <= set(data.products["id"].to_list())
    assert data.products.filter(data.products["id"] == "1082185")["name"].item()
