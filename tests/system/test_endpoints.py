"""Health, the OpenAPI document, Swagger UI, metrics and the error envelope."""

from __future__ import annotations

from tests.factories import staff_headers


async def test_health_reports_database_and_clock(client):
    for path in ("/health", "/v1/health"):
        response = await client.get(path)
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "ok"
        assert body["database"]["status"] == "up"
        assert body["asOf"].startswith("2018-01-01T00:00:00")
        assert body["clockPinned"] is True
        assert response.headers["X-Request-ID"]


async def test_health_says_degraded_when_the_database_is_gone(client, context):
    from omnix.db.session import Database

    await context.db.dispose()
    # Nothing listens on port 1: the database is unreachable.
    context.db = Database("postgresql+asyncpg://omnix@127.0.0.1:1/omnix")
    response = await client.get("/health")
    assert response.status_code == 503
    assert response.json()["database"]["status"] == "down"


async def test_openapi_has_stable_unique_operation_ids(client):
    schema = (await client.get("/openapi.json")).json()
    ids = [
        operation["operationId"]
        for path in schema["paths"].values()
        for operation in path.values()
    ]
    assert len(ids) == len(set(ids))
    assert "getCustomerProfile" in ids
    assert "importCustomerPurchases" in ids
    components = schema["components"]["schemas"]
    for name in ("CustomerProfileDto", "Purchase", "ProductInteraction", "ErrorBody"):
        assert name in components


async def test_swagger_ui_is_served_without_a_cdn(client):
    page = await client.get("/api-docs")
    assert page.status_code == 200
    assert "/api-docs/assets/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    asset = await client.get("/api-docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200


async def test_metrics_are_exposed(client):
    await client.get("/health")
    metrics = await client.get("/metrics")
    assert "omnix_http_requests_total" in metrics.text


async def test_unknown_routes_and_methods_use_the_envelope(client):
    missing = await client.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert set(missing.json()) == {"statusCode", "error", "message"}
    wrong = await client.delete("/health")
    assert wrong.status_code == 405
    assert wrong.json()["statusCode"] == 405


async def test_method_not_allowed_lists_every_method_of_the_path(client):
    # GET and PUT of a profile are two routes; Allow must name both.
    wrong = await client.delete("/v1/customers/1001/profile")
    assert wrong.status_code == 405
    assert wrong.headers["Allow"] == "GET, PUT"


async def test_supplied_request_id_is_echoed(client):
    response = await client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"


async def test_a_body_that_is_not_json_says_where_it_breaks(client):
    response = await client.post(
        "/auth/login",
        content=b'{"email": "a@b.example", "password": ',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["details"] == [
        {
            "field": "body",
            "message": "is not valid JSON: Expecting value at character 37",
        }
    ]


async def test_query_parameters_an_operation_does_not_declare_are_refused(
    client, context
):
    response = await client.get("/health?verbose=1&limt=5")
    assert response.status_code == 400
    assert [d["field"] for d in response.json()["details"]] == [
        "query.limt",
        "query.verbose",
    ]
    staff = await staff_headers(client, context)
    listed = await client.get("/v1/customers?limit=5&limt=5", headers=staff)
    assert listed.status_code == 400
    assert [d["field"] for d in listed.json()["details"]] == ["query.limt"]
    assert (await client.get("/v1/customers?limit=5", headers=staff)).status_code == 200
    # Documented parameters pass; pages and the schema take any query.
    assert (await client.get("/openapi.json?v=2")).status_code == 200
    assert (await client.get("/api-docs?v=2")).status_code == 200
