"""Storing insights and rendering them as the guide's ``RealtimeInsight``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from omnix.streaming import schemas
from omnix.streaming.models import StreamInsight, dialect_insert
from omnix.streaming.rules import InsightDraft

_CHUNK = 500


def insight_json(row: StreamInsight | InsightDraft) -> dict[str, Any]:
    """The RealtimeInsight of a stored row or a draft, as JSON."""
    if isinstance(row, InsightDraft):
        values = (row.insight_type, row.text, row.action_required, row.priority)
    else:
        values = (row.insight_type, row.insight, row.action_required, row.priority)
    return schemas.RealtimeInsight(
        customer_id=row.customer_id,
        insight_type=values[0],
        insight=values[1],
        action_required=values[2],
        priority=values[3],
        timestamp=row.event_time,
        data=row.data,
    ).model_dump(mode="json", by_alias=True)


async def store_insights(
    session: AsyncSession, drafts: list[InsightDraft], now: datetime
) -> list[InsightDraft]:
    """Insert the drafts whose key is new; returns those inserted."""
    unique = list({draft.key: draft for draft in drafts}.values())
    inserted: set[str] = set()
    for start in range(0, len(unique), _CHUNK):
        chunk = unique[start : start + _CHUNK]
        statement = (
            dialect_insert(session, StreamInsight)
            .on_conflict_do_nothing()
            .returning(StreamInsight.__table__.c.insight_key)
        )
        rows = [
            {
                "insight_key": d.key,
                "customer_id": d.customer_id,
                "event_id": d.event_id,
                "insight_type": d.insight_type,
                "rule": d.rule,
                "priority": d.priority,
                "action_required": d.action_required,
                "insight": d.text,
                "data": d.data,
                "event_time": d.event_time,
                "created_at": now,
            }
            for d in chunk
        ]
        inserted.update((await session.scalars(statement, rows)).all())
    return [draft for draft in unique if draft.key in inserted]
