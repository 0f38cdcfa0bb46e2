"""``omnix demo``: the Complete Journey data, three accounts, a pinned clock."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from omnix.auth.models import UserAccount
from omnix.auth.security import hash_password
from omnix.auth.service import create_user
from omnix.context import AppContext
from omnix.customers.models import Customer, PurchaseLine
from omnix.ingest import completejourney
from omnix.ingest.service import write_lines

log = structlog.get_logger()

DEMO_AS_OF = datetime(2018, 1, 1, tzinfo=UTC)
ACCOUNTS = (
    ("admin@omnix.demo", "admin"),
    ("manager@omnix.demo", "manager"),
    ("customer@omnix.demo", "customer"),
)


@dataclass(frozen=True)
class LoadSummary:
    lines: int
    seconds: float
    set_aside: dict[str, int]
    total_lines: int

    @property
    def rows_per_second(self) -> float:
        return self.lines / self.seconds if self.seconds else 0.0


async def is_loaded(session: AsyncSession) -> bool:
    return bool(await session.scalar(select(func.count()).select_from(PurchaseLine)))


async def load_complete_journey(context: AppContext) -> LoadSummary:
    """Load every valid line of the data set; report what was set aside."""
    started = time.perf_counter()
    data = completejourney.load(DEMO_AS_OF)
    result = await write_lines(
        context.db.url,
        customers=data.customers,
        products=data.products,
        lines=data.lines,
        now=context.clock.wall(),
        first_load=True,
    )
    seconds = time.perf_counter() - started
    log.info("demo.loaded", lines=result.lines_added, seconds=round(seconds, 1))
    return LoadSummary(result.lines_added, seconds, data.set_aside, data.total_lines)


async def prepare_analytics(context: AppContext) -> None:
    """Segment snapshots (2017-10-01 and now) so migrations and trends show."""
    from omnix.segments.tasks import compute_demo_snapshots

    started = time.perf_counter()
    await compute_demo_snapshots(context)
    log.info("demo.segments_ready", seconds=round(time.perf_counter() - started, 1))


async def prepare_experiment(context: AppContext) -> None:
    """One finished A/B test between the two local engines, with real outcomes."""
    from omnix.experiments.demo import run_demo_experiment

    started = time.perf_counter()
    await run_demo_experiment(context)
    log.info("demo.experiment_ready", seconds=round(time.perf_counter() - started, 1))


async def demo_household(session: AsyncSession) -> str:
    """The household with declared demographics and the most purchase lines."""
    query = (
        select(Customer.id)
        .join(PurchaseLine, PurchaseLine.customer_id == Customer.id)
        .where(Customer.age_group.is_not(None))
        .group_by(Customer.id)
        .order_by(func.count().desc(), Customer.id)
        .limit(1)
    )
    household = await session.scalar(query)
    if household is None:
        raise RuntimeError("no household with declared demographics is loaded")
    return household


async def ensure_accounts(
    context: AppContext, password: str | None
) -> tuple[dict[str, str], str]:
    """Create (or reset the passwords of) the three demo accounts."""
    passwords = {
        email: password or secrets.token_urlsafe(12) for email, _role in ACCOUNTS
    }
    async with context.db.transaction() as session:
        household = await demo_household(session)
        for email, role in ACCOUNTS:
            existing = await session.scalar(
                select(UserAccount).where(UserAccount.email == email)
            )
            if existing is None:
                await create_user(
                    session,
                    email=email,
                    password=passwords[email],
                    role=role,
                    customer_id=household if role == "customer" else None,
                    now=context.clock.wall(),
                )
            else:
                await session.execute(
                    update(UserAccount)
                    .where(UserAccount.id == existing.id)
                    .values(password_hash=hash_password(passwords[email]))
                )
    return passwords, household
