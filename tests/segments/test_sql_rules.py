"""The SQL segment rules equal the NumPy reference of omnix.engine.rfm."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from sqlalchemy import Column, Float, Integer, MetaData, Table, insert, select, text

from omnix.engine.rfm import RfmPositions, assign_segments
from omnix.segments.features import load_population
from omnix.segments.models import SegmentAssignment
from omnix.segments.service import recompute_all
from omnix.segments.sql_rules import (
    confidence_expression,
    segment_expression,
    with_gaps,
)
from tests.segments.support import AS_OF, random_households, store

NEW_DAYS = 30


def _points(seed: int) -> dict[str, np.ndarray]:
    """Every one of the 125 cells four times, at random points inside it,
    plus new customers and customers without purchases."""
    rng = np.random.default_rng(seed)
    cells = np.array(
        [(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)]
    )
    cells = np.repeat(cells, 4, axis=0)
    n = len(cells)
    pct = (cells - 1 + rng.random((n, 3))) / 5
    tenure = rng.integers(NEW_DAYS, 400, n)
    bought = np.ones(n, dtype=bool)
    tenure[:20] = rng.integers(0, NEW_DAYS, 20)  # new customers
    bought[20:30] = False  # never bought, past the window
    return {"cells": cells, "pct": pct, "tenure": tenure, "bought": bought}


async def test_every_cell_gets_the_reference_segment_and_confidence(context):
    points = _points(seed=4)
    cells, pct = points["cells"], points["pct"]
    rows = [
        (i, *map(int, cells[i]), *map(float, pct[i]), int(points["tenure"][i]),
         int(points["bought"][i]))
        for i in range(len(cells))
    ]  # fmt: skip
    names = ["i", "r", "f", "m", "r_pct", "f_pct", "m_pct", "tenure_days",
             "has_purchases"]  # fmt: skip
    types = [Integer, Integer, Integer, Integer, Float, Float, Float, Integer, Integer]
    metadata = MetaData()
    table = Table(
        f"rfm_points_{uuid.uuid4().hex[:8]}",
        metadata,
        *(Column(n, t) for n, t in zip(names, types, strict=True)),
    )
    gapped = with_gaps(select(table).subquery("points"))
    query = select(
        gapped.c.i,
        segment_expression(gapped, NEW_DAYS).label("segment"),
        confidence_expression(gapped, NEW_DAYS).label("confidence"),
    ).order_by(gapped.c.i)

    async with context.db.engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    try:
        async with context.db.transaction() as session:
            if context.db.dialect == "postgresql":
                # As in insert_snapshot: LLVM would take minutes on these.
                await session.execute(text("SET LOCAL jit = off"))
            await session.execute(
                insert(table), [dict(zip(names, row, strict=True)) for row in rows]
            )
            result = (await session.execute(query)).all()
    finally:
        async with context.db.engine.begin() as connection:
            await connection.run_sync(metadata.drop_all)

    positions = RfmPositions(
        cells[:, 0], cells[:, 1], cells[:, 2], pct[:, 0], pct[:, 1], pct[:, 2]
    )
    reference = assign_segments(
        positions, points["tenure"], points["bought"], new_customer_days=NEW_DAYS
    )
    assert [row.segment for row in result] == reference.segment_ids.tolist()
    confidence = np.array([row.confidence for row in result])
    assert np.allclose(confidence, reference.confidence, rtol=0, atol=1e-12)
    assert 0.0 < confidence.mean() < 1.0


async def test_recomputed_snapshot_equals_numpy_over_the_same_population(context):
    await store(context, random_households(seed=21, customers=300))
    async with context.db.transaction() as session:
        summary = await recompute_all(session, AS_OF)
    async with context.db.session() as session:
        population = await load_population(session, AS_OF)
        stored = {
            a.customer_id: a
            for a in await session.scalars(
                select(SegmentAssignment).where(
                    SegmentAssignment.run_id == summary.run_id
                )
            )
        }

    assert population.positions is not None
    reference = assign_segments(
        population.positions, population.tenure_days, population.has_purchases
    )
    for i, customer_id in enumerate(population.customer_ids):
        assert stored[customer_id].segment_id == reference.segment_ids[i]
        assert stored[customer_id].confidence == pytest.approx(
            reference.confidence[i], abs=1e-12
        )
    assert len(stored) == 300
