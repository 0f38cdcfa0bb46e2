"""Schemathesis against the app's own OpenAPI document.

Every documented operation gets generated requests, valid and invalid, sent
with a manager's token (and, for the customer-scoped paths, a customer's own
token too). Each answer must not be a 5xx, must use a documented status code
and content type, and its body must match the documented schema; a request
the schema forbids must be refused.

The converse, that every request the schema allows is accepted, is not
checked: some rules cannot be written in JSON Schema. Instants are refused
before 2000-01-01 or after the clock plus a day, a purchase event's
``totalAmount`` must equal quantity times price, a batch names its households
exactly one way, a test's two models differ, a cursor must come from an earlier
answer, and a reused ``Idempotency-Key`` with another body is a 422. Each is
tested with the endpoint it belongs to.

The app runs in-process on Schemathesis' event-loop thread; the data is written
beforehand through the services on a separate loop, so the app's engine opens
its connections on the loop that serves the requests.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import positive_data_acceptance

from omnix.app import create_app
from omnix.clock import Clock
from omnix.config import Settings
from omnix.context import AppContext
from omnix.customers.models import PurchaseLine
from tests.conftest import AS_OF, TEST_SECRET, _empty_tables
from tests.factories import PASSWORD, add_products, make_account, make_customer

pytestmark = pytest.mark.slow

CUSTOMER = "H0"
PRODUCT = "COFFEE"
START = datetime(2017, 6, 1, 10, tzinfo=UTC)
PRODUCTS = {
    "COFFEE": ("Ground Coffee 500g", "Coffee"),
    "MILK": ("Whole Milk 1L", "Milk"),
    "BREAD": ("Sourdough Loaf", "Bread"),
}
# Path parameters that name a seeded row half of the time, so the fuzzer also
# reaches past the 404s into the handlers' real work.
SEEDED_PATH_VALUES = {"id": CUSTOMER, "customerId": CUSTOMER, "productId": PRODUCT}

# Examples per operation: enough to walk every parameter's boundaries while the
# whole module stays near two minutes on two cores. Operations that fit models
# or start jobs get fewer; none is left out.
MAX_EXAMPLES = 25
EXPENSIVE_EXAMPLES = 6
EXPENSIVE_OPERATIONS = [
    # Fit the population models or analyse one household.
    "analyzeCustomer",
    "getAiAnalysis",
    "getAiRecommendations",
    "getConsumptionPredictions",
    "getCustomerProfileAnalysis",
    "getReplenishmentAlerts",
    "getPurchasePrediction",
    # Recompute segments or queue analyses for many customers.
    "segmentCustomersBatch",
    "submitBatchAnalysis",
    "publishBatchEvents",
]


async def _seed(settings: Settings) -> None:
    context = AppContext.from_settings(settings, Clock(AS_OF))
    try:
        await _empty_tables(context)
        await add_products(context, PRODUCTS)
        lines = []
        for number in range(4):
            household = await make_customer(context, f"H{number}", created_at=START)
            for day in range(0, 180, 4 + number):
                for product_id in PRODUCTS:
                    lines.append(
                        PurchaseLine(
                            customer_id=household,
                            order_id=f"{household}-{day}",
                            product_id=product_id,
                            quantity=1,
                            price=2.5,
                            purchased_at=START + timedelta(days=day),
                        )
                    )
        async with context.db.transaction() as session:
            session.add_all(lines)
        await make_account(context, "manager")
        await make_account(context, "customer", CUSTOMER)
    finally:
        await context.db.dispose()


class _AppUnderTest:
    """The ASGI app Schemathesis calls. The schema is built when the module
    is imported, before the test database exists, so it points here and the
    fixture puts the real app in place."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


APP = _AppUnderTest(None)


def _settings(database_url: str, data_dir: Path) -> Settings:
    return Settings(
        environment="test",
        data_dir=data_dir,
        database_url=database_url,
        jwt_secret=TEST_SECRET,
        max_body_bytes=256 * 1024,
        max_import_lines=1000,
        prefit_population=False,
    )


@pytest.fixture(scope="module")
def fuzz_app(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[_AppUnderTest]:
    settings = _settings(database_url, tmp_path_factory.mktemp("fuzz"))
    asyncio.run(_seed(settings))
    offline = APP.app
    APP.app = create_app(AppContext.from_settings(settings, Clock(AS_OF)))
    yield APP
    # Ends the lifespan Schemathesis started (background tasks, the engine)
    # before other tests reuse the database.
    asgi.shutdown_lifespans()
    APP.app = offline


MANAGER_EMAIL = "manager-staff@omnix.example.com"
CUSTOMER_EMAIL = f"customer-{CUSTOMER}@omnix.example.com"
# Signing out ends the session of the token it is called with, so that one
# operation gets a session of its own rather than ending everyone's.
SIGN_OUT = "POST /auth/logout"
# Schemathesis builds some cases (the coverage phase) while pytest collects,
# before the app exists; they carry this and get the real token when run.
NOT_YET_SIGNED_IN = "not-yet-signed-in"
TOKENS: dict[str, str] = {}


def _login(email: str) -> str:
    with asgi.get_client(APP) as client:
        response = client.post(
            "/auth/login", json={"email": email, "password": PASSWORD}
        )
    assert response.status_code == 200, response.text
    token: str = response.json()["data"]["accessToken"]
    return token


@pytest.fixture(scope="module")
def signed_in(fuzz_app: _AppUnderTest) -> Iterator[None]:
    for role, email in (("manager", MANAGER_EMAIL), ("customer", CUSTOMER_EMAIL)):
        TOKENS[role] = _login(email)
        TOKENS[f"{role} {SIGN_OUT}"] = _login(email)
    yield
    TOKENS.clear()


class _BearerToken:
    """Schemathesis' auth provider: a signed-in role's access token. Known to
    Schemathesis, so it also checks that the operations refuse the request
    without it or with a forged one."""

    role = ""

    def get(self, _case: Any, context: Any) -> str:
        key = self.role
        if context.operation.label == SIGN_OUT:
            key = f"{self.role} {SIGN_OUT}"
        return TOKENS.get(key, NOT_YET_SIGNED_IN)

    def set(self, case: Any, token: str, _context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}


class _Manager(_BearerToken):
    role = "manager"


class _Customer(_BearerToken):
    role = "customer"


def _call_and_validate(case: Any, role: str) -> None:
    headers = case.headers or {}
    if headers.get("Authorization") == f"Bearer {NOT_YET_SIGNED_IN}":
        key = f"{role} {SIGN_OUT}" if case.operation.label == SIGN_OUT else role
        case.headers = {**headers, "Authorization": f"Bearer {TOKENS[key]}"}
    case.call_and_validate(excluded_checks=[positive_data_acceptance])


def _config() -> schemathesis.config.SchemathesisConfig:
    return schemathesis.config.SchemathesisConfig.from_dict(
        {
            "seed": 20180101,
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "operations": [
                {
                    "include-operation-id": EXPENSIVE_OPERATIONS,
                    "generation": {"max-examples": EXPENSIVE_EXAMPLES},
                }
            ],
        }
    )


def _load_schema() -> Any:
    """The document as the app serves it; its database is never opened (the
    document does not depend on the data). Loaded eagerly: Schemathesis'
    fixture-loaded schemas do not run under pytest 9."""
    unused = Path(tempfile.gettempdir()) / "omnix-fuzz-schema-only"
    settings = _settings(f"sqlite+aiosqlite:///{unused}/omnix.db", unused)
    APP.app = create_app(AppContext.from_settings(settings, Clock(AS_OF)))
    schema = schemathesis.openapi.from_dict(APP.app.openapi(), config=_config())
    schema.app = APP

    @schema.hook
    def flatmap_path_parameters(
        context: Any, path_parameters: dict[str, Any] | None
    ) -> st.SearchStrategy[dict[str, Any] | None]:
        if not path_parameters:
            return st.just(path_parameters)
        # A value the schema forbids is what a negative case tests: it stays.
        declared = {p.name: p for p in context.operation.path_parameters}
        if not all(
            declared[name].is_valid(value) for name, value in path_parameters.items()
        ):
            return st.just(path_parameters)
        seeded = {
            name: SEEDED_PATH_VALUES.get(name, value)
            for name, value in path_parameters.items()
        }
        return st.sampled_from([path_parameters, seeded])

    return schema


schema = _load_schema()


@schema.auth(_Manager, refresh_interval=None)
@schema.parametrize()
def test_operations_answer_as_documented_for_a_manager(
    case: Any, signed_in: None
) -> None:
    _call_and_validate(case, "manager")


# What a customer may reach: their own paths (and, half the time, another
# customer's, which must be a documented 403) and their session.
customer_schema = schema.include(path_regex=r"\{id\}|\{customerId\}|^/auth/")


@customer_schema.auth(_Customer, refresh_interval=None)
@customer_schema.parametrize()
def test_operations_answer_as_documented_for_a_customer(
    case: Any, signed_in: None
) -> None:
    _call_and_validate(case, "customer")
