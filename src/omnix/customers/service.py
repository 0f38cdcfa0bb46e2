"""Customer profiles, purchases and interactions: loading and storing."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, func, literal, or_, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from omnix.catalogue.models import Product
from omnix.catalogue.schemas import ProductFacts
from omnix.catalogue.service import upsert_products
from omnix.customers import schemas
from omnix.customers.models import Customer, ProductInteraction, PurchaseLine
from omnix.db.session import dialect_name
from omnix.errors import BadRequest, Conflict, NotFound, field_error
from omnix.schemas import drop_none

DEMOGRAPHIC_COLUMNS = (
    "age_group",
    "income_level",
    "household_size",
    "household_composition",
    "marital_status",
    "home_ownership",
    "kids_count",
)
FUTURE_TOLERANCE = timedelta(days=1)


async def get_customer(session: AsyncSession, customer_id: str) -> Customer:
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"Customer {customer_id} not found")
    return customer


async def purchase_summary(
    session: AsyncSession, customer_id: str
) -> schemas.PurchaseSummary:
    row = (
        await session.execute(
            select(
                func.count(func.distinct(PurchaseLine.order_id)),
                func.count(),
                func.coalesce(
                    func.sum(PurchaseLine.quantity * PurchaseLine.price), 0.0
                ),
                func.min(PurchaseLine.purchased_at),
                func.max(PurchaseLine.purchased_at),
            ).where(PurchaseLine.customer_id == customer_id)
        )
    ).one()
    first, last = (_aware(value) for value in (row[3], row[4]))
    return schemas.PurchaseSummary(
        order_count=row[0],
        line_count=row[1],
        total_spent=round(float(row[2]), 2),
        first_purchase_at=first,
        last_purchase_at=last,
    )


def _aware(value: Any) -> datetime | None:
    # Aggregates bypass the column type, so SQLite hands back naive UTC values
    # (or even strings); normalise them here.
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _profile_query() -> Select[Any]:
    lines = (
        select(PurchaseLine)
        .where(PurchaseLine.customer_id == bindparam("customer_id"))
        .subquery()
    )
    totals = select(
        func.count(func.distinct(lines.c.order_id)).label("orders"),
        func.count().label("lines"),
        func.coalesce(func.sum(lines.c.quantity * lines.c.price), 0.0).label("spent"),
        func.min(lines.c.purchased_at).label("first"),
        func.max(lines.c.purchased_at).label("last"),
    ).subquery()
    return (
        select(Customer, totals)
        .join(totals, literal(True))
        .where(Customer.id == bindparam("customer_id"))
    )


# Built once: making the subqueries' column collections costs more than the
# query itself.
_PROFILE_QUERY = _profile_query()


async def profile(
    session: AsyncSession, customer_id: str
) -> schemas.CustomerProfileDto:
    """The profile and its purchase totals, read in one statement."""
    row = (
        await session.execute(_PROFILE_QUERY, {"customer_id": customer_id})
    ).one_or_none()
    if row is None:
        raise NotFound(f"Customer {customer_id} not found")
    summary = schemas.PurchaseSummary(
        order_count=row.orders,
        line_count=row.lines,
        total_spent=round(float(row.spent), 2),
        first_purchase_at=_aware(row.first),
        last_purchase_at=_aware(row.last),
    )
    return profile_dto(row[0], summary)


def profile_dto(
    customer: Customer, summary: schemas.PurchaseSummary
) -> schemas.CustomerProfileDto:
    return schemas.CustomerProfileDto(
        customer_id=customer.id,
        name=customer.name,
        email=customer.email,
        phone=customer.phone,
        demographics=schemas.Demographics.model_validate(
            {column: getattr(customer, column) for column in DEMOGRAPHIC_COLUMNS}
        ),
        preferences=schemas.CustomerPreferences.model_validate(
            drop_none(customer.preferences or {})
        ),
        purchase_summary=summary,
        created_at=customer.created_at,
        updated_at=customer.updated_at,
    )


async def _ensure_unique_email(
    session: AsyncSession, email: str | None, customer_id: str | None
) -> None:
    if email is None:
        return
    query = select(Customer.id).where(func.lower(Customer.email) == email.lower())
    if customer_id is not None:
        query = query.where(Customer.id != customer_id)
    if await session.scalar(query.limit(1)):
        raise Conflict(f"Another customer already uses {email}")


async def register(
    session: AsyncSession, body: schemas.CreateCustomerProfileDto, now: datetime
) -> schemas.CustomerProfileDto:
    customer_id = body.customer_id or f"C{uuid.uuid4().hex[:12].upper()}"
    if await session.get(Customer, customer_id) is not None:
        raise Conflict(f"Customer {customer_id} already exists")
    await _ensure_unique_email(session, body.email, None)
    demographics = body.demographics.model_dump() if body.demographics else {}
    preferences = schemas.CustomerPreferences.model_validate(
        body.preferences.model_dump(exclude_none=True) if body.preferences else {}
    )
    customer = Customer(
        id=customer_id,
        name=body.name,
        email=body.email,
        phone=body.phone,
        preferences=preferences.model_dump(by_alias=True),
        created_at=now,
        updated_at=now,
        **demographics,
    )
    session.add(customer)
    await session.flush()
    return profile_dto(customer, await purchase_summary(session, customer_id))


async def update_profile(
    session: AsyncSession,
    customer_id: str,
    body: schemas.UpdateCustomerProfileDto,
    now: datetime,
) -> schemas.CustomerProfileDto:
    customer = await get_customer(session, customer_id)
    changes = body.model_dump(exclude_unset=True, exclude={"demographics"})
    if "email" in changes:
        await _ensure_unique_email(session, changes["email"], customer_id)
    for column, value in changes.items():
        setattr(customer, column, value)
    if body.demographics is not None:
        for column, value in body.demographics.model_dump(exclude_unset=True).items():
            setattr(customer, column, value)
    customer.updated_at = now
    return profile_dto(customer, await purchase_summary(session, customer_id))


async def update_preferences(
    session: AsyncSession,
    customer_id: str,
    body: schemas.CustomerPreferencesDto,
    now: datetime,
) -> schemas.CustomerProfileDto:
    customer = await get_customer(session, customer_id)
    current = schemas.CustomerPreferences.model_validate(
        drop_none(customer.preferences or {})
    )
    # A field sent as null keeps its value, as an absent one does.
    merged = current.model_copy(
        update=body.model_dump(exclude_unset=True, exclude_none=True)
    )
    customer.preferences = merged.model_dump(by_alias=True)
    customer.updated_at = now
    return profile_dto(customer, await purchase_summary(session, customer_id))


async def list_customers(
    session: AsyncSession,
    *,
    search: str | None,
    has_demographics: bool | None,
    cursor: str | None,
    limit: int,
) -> schemas.CustomerPage:
    query = select(Customer).order_by(Customer.id).limit(limit + 1)
    if search:
        pattern = f"%{search.lower()}%"
        query = query.where(
            or_(
                Customer.id == search,
                func.lower(Customer.name).like(pattern),
                func.lower(Customer.email).like(pattern),
            )
        )
    if has_demographics is not None:
        declared = Customer.age_group.is_not(None)
        query = query.where(declared if has_demographics else ~declared)
    if cursor:
        query = query.where(Customer.id > _decode_cursor(cursor))
    rows = list((await session.scalars(query)).all())
    next_cursor = _encode_cursor(rows[limit - 1].id) if len(rows) > limit else None
    return schemas.CustomerPage(
        items=[
            schemas.CustomerListItem(
                customer_id=row.id,
                name=row.name,
                email=row.email,
                age_group=row.age_group,
                income_level=row.income_level,
                created_at=row.created_at,
            )
            for row in rows[:limit]
        ],
        next_cursor=next_cursor,
    )


CURSOR_PREFIX = "omnix1:"


def _encode_cursor(value: str) -> str:
    raw = (CURSOR_PREFIX + value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(padded.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise field_error("query.cursor", "not a cursor returned by this API") from exc
    if not raw.startswith(CURSOR_PREFIX):
        raise field_error("query.cursor", "not a cursor returned by this API")
    return raw[len(CURSOR_PREFIX) :]


# Purchases ---------------------------------------------------------------


def _purchase_query() -> Select[PurchaseLine, Product]:
    return select(PurchaseLine, Product).join(
        Product, Product.id == PurchaseLine.product_id
    )


def purchase_dto(line: PurchaseLine, product: Product) -> schemas.Purchase:
    return schemas.Purchase(
        id=str(line.id),
        customer_id=line.customer_id,
        product_id=line.product_id,
        product_name=product.name,
        category=product.category,
        quantity=line.quantity,
        price=line.price,
        total_amount=round(line.quantity * line.price, 2),
        purchase_date=line.purchased_at,
        order_id=line.order_id,
        store_id=line.store_id,
        brand=product.brand,
        size=product.size,
        department=product.department,
    )


async def list_purchases(
    session: AsyncSession, customer_id: str, limit: int, before: str | None
) -> tuple[list[schemas.Purchase], str | None]:
    """Newest first; ``before`` is the cursor the previous page returned."""
    query = (
        _purchase_query()
        .where(PurchaseLine.customer_id == customer_id)
        .order_by(PurchaseLine.purchased_at.desc(), PurchaseLine.id.desc())
        .limit(limit + 1)
    )
    if before:
        timestamp, line_id = _decode_purchase_cursor(before)
        query = query.where(
            tuple_(PurchaseLine.purchased_at, PurchaseLine.id) < (timestamp, line_id)
        )
    rows = (await session.execute(query)).all()
    if not rows:
        # Only an empty page needs to tell "no purchases" from "no customer".
        await get_customer(session, customer_id)
    page = [purchase_dto(line, product) for line, product in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1][0]
        next_cursor = _encode_cursor(f"{last.purchased_at.isoformat()}|{last.id}")
    return page, next_cursor


def _decode_purchase_cursor(cursor: str) -> tuple[datetime, int]:
    raw = _decode_cursor(cursor)
    try:
        stamp, line_id = raw.rsplit("|", 1)
        return datetime.fromisoformat(stamp), int(line_id)
    except ValueError as exc:
        raise field_error("query.cursor", "not a cursor returned by this API") from exc


def default_order_id(customer_id: str, purchased_at: datetime) -> str:
    """Lines of one customer within the same minute form one order."""
    return f"{customer_id}-{purchased_at.astimezone(UTC):%Y%m%d%H%M}"


def _line_rows(
    customer_id: str,
    lines: Sequence[schemas.CreatePurchaseHistoryDto],
    now: datetime,
) -> list[dict[str, Any]]:
    latest_allowed = now + FUTURE_TOLERANCE
    occurrences: Counter[tuple[str, str]] = Counter()
    rows = []
    for index, line in enumerate(lines):
        if line.purchase_date > latest_allowed:
            field = (
                "body.purchaseDate"
                if len(lines) == 1
                else f"body.purchases.{index}.purchaseDate"
            )
            raise field_error(
                field, f"is after the store's current date ({now.date()}) plus one day"
            )
        order_id = line.order_id or default_order_id(customer_id, line.purchase_date)
        key = (order_id, line.product_id)
        rows.append(
            {
                "customer_id": customer_id,
                "order_id": order_id,
                "product_id": line.product_id,
                "line_no": occurrences[key],
                "store_id": line.store_id,
                "quantity": line.quantity,
                "price": line.price,
                "purchased_at": line.purchase_date.astimezone(UTC),
            }
        )
        occurrences[key] += 1
    return rows


def _facts(lines: Sequence[schemas.CreatePurchaseHistoryDto]) -> list[ProductFacts]:
    return [
        ProductFacts(
            product_id=line.product_id,
            name=line.product_name,
            category=line.category,
            department=line.department,
            brand=line.brand,
            size=line.size,
        )
        for line in lines
    ]


_SAME_LINE = ("quantity", "price", "purchased_at", "store_id")


async def _existing_lines(
    session: AsyncSession, customer_id: str, rows: list[dict[str, Any]]
) -> dict[tuple[str, str, int], PurchaseLine]:
    order_ids = sorted({row["order_id"] for row in rows})
    found: dict[tuple[str, str, int], PurchaseLine] = {}
    for start in range(0, len(order_ids), 500):
        stored = await session.scalars(
            select(PurchaseLine).where(
                PurchaseLine.customer_id == customer_id,
                PurchaseLine.order_id.in_(order_ids[start : start + 500]),
            )
        )
        for line in stored:
            found[(line.order_id, line.product_id, line.line_no)] = line
    return found


async def add_purchases(
    session: AsyncSession,
    customer_id: str,
    lines: Sequence[schemas.CreatePurchaseHistoryDto],
    now: datetime,
) -> tuple[list[int], int]:
    """Store new lines, all or nothing; returns (new line ids, duplicates).

    A line already stored with the same order, product and content is a
    duplicate and changes nothing; the same order and product with other
    content is a conflict.
    """
    await get_customer(session, customer_id)
    rows = _line_rows(customer_id, lines, now)
    existing = await _existing_lines(session, customer_id, rows)
    fresh = []
    for index, row in enumerate(rows):
        stored = existing.get((row["order_id"], row["product_id"], row["line_no"]))
        if stored is None:
            fresh.append(row)
        elif any(getattr(stored, column) != row[column] for column in _SAME_LINE):
            raise Conflict(
                f"Line {index + 1}: order {row['order_id']} already has a different "
                f"line for product {row['product_id']}"
            )
    await upsert_products(session, _facts(lines), now)
    if not fresh:
        return [], len(rows)
    insert = (
        postgresql.insert if dialect_name(session) == "postgresql" else sqlite.insert
    )
    statement = insert(PurchaseLine).on_conflict_do_nothing().returning(PurchaseLine.id)
    new_ids = list((await session.scalars(statement, fresh)).all())
    return new_ids, len(rows) - len(new_ids)


async def get_purchase(
    session: AsyncSession, customer_id: str, order_id: str, product_id: str
) -> schemas.Purchase:
    row = (
        await session.execute(
            _purchase_query()
            .where(
                PurchaseLine.customer_id == customer_id,
                PurchaseLine.order_id == order_id,
                PurchaseLine.product_id == product_id,
            )
            .order_by(PurchaseLine.line_no)
            .limit(1)
        )
    ).one()
    return purchase_dto(row[0], row[1])


async def purchase_by_id(session: AsyncSession, line_id: int) -> schemas.Purchase:
    row = (
        await session.execute(_purchase_query().where(PurchaseLine.id == line_id))
    ).one()
    return purchase_dto(row[0], row[1])


# Interactions ----------------------------------------------------------


def interaction_dto(row: ProductInteraction) -> schemas.ProductInteraction:
    return schemas.ProductInteraction(
        id=str(row.id),
        customer_id=row.customer_id,
        product_id=row.product_id,
        interaction_type=row.interaction_type,
        timestamp=row.occurred_at,
        session_id=row.session_id,
        duration=row.duration_seconds,
        rating=row.rating,
        metadata=row.context or {},
    )


async def track_interaction(
    session: AsyncSession,
    customer_id: str,
    body: schemas.CreateProductInteractionDto,
    now: datetime,
) -> schemas.ProductInteraction:
    await get_customer(session, customer_id)
    occurred_at = (body.timestamp or now).astimezone(UTC)
    if occurred_at > now + FUTURE_TOLERANCE:
        raise field_error("body.timestamp", "is in the future")
    if body.interaction_type == "rating" and body.rating is None:
        raise BadRequest(
            "A rating interaction needs a rating",
            details=[{"field": "body.rating", "message": "required for type rating"}],
        )
    row = ProductInteraction(
        customer_id=customer_id,
        product_id=body.product_id,
        interaction_type=body.interaction_type,
        session_id=body.session_id,
        duration_seconds=body.duration,
        rating=body.rating,
        context=body.metadata,
        occurred_at=occurred_at,
    )
    session.add(row)
    await session.flush()
    return interaction_dto(row)


async def list_interactions(
    session: AsyncSession,
    *,
    limit: int,
    customer_id: str | None = None,
    product_id: str | None = None,
) -> list[schemas.ProductInteraction]:
    query = select(ProductInteraction).order_by(
        ProductInteraction.occurred_at.desc(), ProductInteraction.id.desc()
    )
    if customer_id is not None:
        await get_customer(session, customer_id)
        query = query.where(ProductInteraction.customer_id == customer_id)
    if product_id is not None:
        query = query.where(ProductInteraction.product_id == product_id)
    rows = await session.scalars(query.limit(limit))
    return [interaction_dto(row) for row in rows]
