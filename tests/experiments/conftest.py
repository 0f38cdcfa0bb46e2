"""Fixtures for the A/B test tests: the analytics tests' small store, staff."""

from __future__ import annotations

import pytest

# Ten households with regular rhythms from 2017-06-01 to the end of 2017.
from tests.analytics.conftest import store  # noqa: F401
from tests.factories import staff_headers


@pytest.fixture
async def staff(client, context):
    return await staff_headers(client, context)
