"""Query parameters an operation does not declare are refused with a 400
naming them, as unknown fields of a request body are: ``?limt=5`` is a typing
error the caller should hear about, not a request quietly answered with the
default limit."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.requests import HTTPConnection

from omnix.errors import BadRequest

Operations = dict[str, frozenset[str]]


def _declared_query(app: FastAPI) -> Operations:
    """Operation id to the query parameters the OpenAPI document names. Keyed
    by id because the route in the request scope may be the router's own,
    whose path lacks the prefix it is mounted under; its unique_id is the id."""
    table: Operations | None = getattr(app.state, "declared_query", None)
    if table is None:
        table = {
            operation["operationId"]: frozenset(
                parameter["name"]
                for parameter in operation.get("parameters", ())
                if parameter.get("in") == "query"
            )
            for item in app.openapi()["paths"].values()
            for operation in item.values()
            if "operationId" in operation
        }
        app.state.declared_query = table
    return table


async def refuse_unknown_query(connection: HTTPConnection) -> None:
    """An app-wide dependency, for the documented operations only (pages and
    their assets take whatever query a browser adds)."""
    route = connection.scope.get("route")
    if not connection.query_params or not isinstance(route, APIRoute):
        return
    declared = _declared_query(connection.app).get(route.unique_id)
    if declared is None:
        return
    unknown = sorted(set(connection.query_params) - declared)
    if unknown:
        raise BadRequest(
            f"Unknown query parameter(s): {', '.join(unknown)}",
            details=[
                {
                    "field": f"query.{name}",
                    "message": "not a parameter of this operation",
                }
                for name in unknown
            ],
        )
