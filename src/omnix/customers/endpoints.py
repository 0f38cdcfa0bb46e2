"""Section 1 of the guide: profiles, purchase histories, product interactions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response
from fastapi.responses import JSONResponse

from omnix.customers import schemas, service
from omnix.deps import (
    ClockDep,
    ContextDep,
    CurrentUser,
    ManagerUser,
    SessionDep,
    ensure_customer_access,
)
from omnix.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    UnprocessableContent,
    error_responses,
)
from omnix.system.idempotency import KEY_PATTERN, run_idempotent
from omnix.system.response_cache import CacheAnswer

router = APIRouter(prefix="/customers", tags=["customers"])

MAX_PAGE = 500
CustomerId = Annotated[
    str,
    Path(alias="id", min_length=1, max_length=64, description="The customer's id."),
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Re-sending the same key and body replays the first answer.",
        # Stated for the schema; ``run_idempotent`` checks it and names the header.
        json_schema_extra={"pattern": KEY_PATTERN.pattern},
    ),
]
READ_ERRORS = error_responses(BadRequest, Unauthorized, Forbidden, NotFound)
WRITE_ERRORS = error_responses(
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    PayloadTooLarge,
    UnprocessableContent,
)


@router.get("", operation_id="listCustomers", responses=READ_ERRORS)
async def list_customers(
    _staff: ManagerUser,
    session: SessionDep,
    search: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Matches the id exactly, or part of the name or e-mail.",
        ),
    ] = None,
    has_demographics: Annotated[bool | None, Query(alias="hasDemographics")] = None,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> schemas.CustomerPage:
    """Customers ordered by id, with search and cursor pagination (staff)."""
    return await service.list_customers(
        session,
        search=search,
        has_demographics=has_demographics,
        cursor=cursor,
        limit=limit,
    )


@router.post(
    "/register",
    operation_id="registerCustomer",
    status_code=201,
    responses=WRITE_ERRORS,
)
async def register_customer(
    body: schemas.CreateCustomerProfileDto,
    _staff: ManagerUser,
    session: SessionDep,
    clock: ClockDep,
) -> schemas.CustomerProfileDto:
    """Register a new customer profile (staff)."""
    return await service.register(session, body, clock.wall())


@router.get(
    "/products/{productId}/interactions",
    operation_id="listProductInteractions",
    responses=READ_ERRORS,
)
async def list_product_interactions(
    product_id: Annotated[str, Path(alias="productId", min_length=1, max_length=64)],
    _staff: ManagerUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> list[schemas.ProductInteraction]:
    """Every customer's interactions with one product, newest first (staff)."""
    return await service.list_interactions(session, limit=limit, product_id=product_id)


@router.get(
    "/{id}/profile",
    operation_id="getCustomerProfile",
    responses=READ_ERRORS,
    dependencies=[CacheAnswer],
)
async def get_profile(
    customer_id: CustomerId, principal: CurrentUser, session: SessionDep
) -> schemas.CustomerProfileDto:
    """A customer's profile, declared demographics, preferences and totals."""
    ensure_customer_access(principal, customer_id)
    return await service.profile(session, customer_id)


@router.put(
    "/{id}/profile", operation_id="updateCustomerProfile", responses=WRITE_ERRORS
)
async def update_profile(
    customer_id: CustomerId,
    body: schemas.UpdateCustomerProfileDto,
    principal: CurrentUser,
    session: SessionDep,
    clock: ClockDep,
) -> schemas.CustomerProfileDto:
    """Change contact details or declared demographics."""
    ensure_customer_access(principal, customer_id)
    return await service.update_profile(session, customer_id, body, clock.wall())


@router.patch(
    "/{id}/preferences",
    operation_id="updateCustomerPreferences",
    responses=WRITE_ERRORS,
)
async def update_preferences(
    customer_id: CustomerId,
    body: schemas.CustomerPreferencesDto,
    principal: CurrentUser,
    session: SessionDep,
    clock: ClockDep,
) -> schemas.CustomerProfileDto:
    """Change some preferences; fields not sent keep their value."""
    ensure_customer_access(principal, customer_id)
    return await service.update_preferences(session, customer_id, body, clock.wall())


@router.get(
    "/{id}/purchases",
    operation_id="listCustomerPurchases",
    dependencies=[CacheAnswer],
    responses={
        **READ_ERRORS,
        200: {
            "description": "Newest first. `X-Next-Cursor` holds the cursor of the "
            "next page when there is one."
        },
    },
)
async def list_purchases(
    customer_id: CustomerId,
    principal: CurrentUser,
    session: SessionDep,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> list[schemas.Purchase]:
    """A customer's purchase lines, newest first."""
    ensure_customer_access(principal, customer_id)
    page, next_cursor = await service.list_purchases(
        session, customer_id, limit, cursor
    )
    if next_cursor:
        response.headers["X-Next-Cursor"] = next_cursor
    return page


@router.post(
    "/{id}/purchases",
    operation_id="addCustomerPurchase",
    status_code=201,
    response_model=schemas.Purchase,
    responses={
        **WRITE_ERRORS,
        200: {"model": schemas.Purchase, "description": "Already stored; unchanged."},
    },
)
async def add_purchase(
    customer_id: CustomerId,
    body: schemas.CreatePurchaseHistoryDto,
    principal: CurrentUser,
    session: SessionDep,
    context: ContextDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Add one purchase line; the same line sent again is not stored twice."""
    ensure_customer_access(principal, customer_id)

    async def action() -> tuple[int, object]:
        new_ids, _ = await service.add_purchases(
            session, customer_id, [body], context.clock.now()
        )
        order_id = body.order_id or service.default_order_id(
            customer_id, body.purchase_date
        )
        if new_ids:
            purchase = await service.purchase_by_id(session, new_ids[0])
        else:
            purchase = await service.get_purchase(
                session, customer_id, order_id, body.product_id
            )
        return (201 if new_ids else 200), purchase.model_dump(
            mode="json", by_alias=True
        )

    return await run_idempotent(
        session,
        key=idempotency_key,
        principal=principal.user_id,
        scope=f"purchase:{customer_id}",
        payload=body,
        now=context.clock.wall(),
        action=action,
    )


@router.post(
    "/{id}/purchases/import",
    operation_id="importCustomerPurchases",
    response_model=schemas.ImportResult,
    responses=WRITE_ERRORS,
)
async def import_purchases(
    customer_id: CustomerId,
    body: schemas.ImportPurchaseHistoryDto,
    principal: CurrentUser,
    session: SessionDep,
    context: ContextDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Import many lines at once: all or nothing; lines already stored are skipped."""
    ensure_customer_access(principal, customer_id)
    cap = context.settings.max_import_lines
    if len(body.purchases) > cap:
        raise PayloadTooLarge(
            f"An import holds at most {cap} lines; this one has {len(body.purchases)}"
        )

    async def action() -> tuple[int, object]:
        new_ids, duplicates = await service.add_purchases(
            session, customer_id, body.purchases, context.clock.now()
        )
        result = schemas.ImportResult(imported=len(new_ids), duplicates=duplicates)
        return 200, result.model_dump(mode="json", by_alias=True)

    return await run_idempotent(
        session,
        key=idempotency_key,
        principal=principal.user_id,
        scope=f"import:{customer_id}",
        payload=body,
        now=context.clock.wall(),
        action=action,
    )


@router.post(
    "/{id}/interactions",
    operation_id="trackProductInteraction",
    status_code=201,
    responses=WRITE_ERRORS,
)
async def track_interaction(
    customer_id: CustomerId,
    body: schemas.CreateProductInteractionDto,
    principal: CurrentUser,
    session: SessionDep,
    clock: ClockDep,
) -> schemas.ProductInteraction:
    """Record that the customer viewed, searched, rated or carted a product."""
    ensure_customer_access(principal, customer_id)
    return await service.track_interaction(session, customer_id, body, clock.now())


@router.get(
    "/{id}/interactions", operation_id="listCustomerInteractions", responses=READ_ERRORS
)
async def list_customer_interactions(
    customer_id: CustomerId,
    principal: CurrentUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> list[schemas.ProductInteraction]:
    """A customer's product interactions, newest first."""
    ensure_customer_access(principal, customer_id)
    return await service.list_interactions(
        session, limit=limit, customer_id=customer_id
    )
