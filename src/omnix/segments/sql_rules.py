"""The segment rules of :mod:`omnix.engine.rfm` as SQL expressions.

A full recomputation places everyone inside the database: the population
query's scores go through a ``CASE`` over the 125 cells (generated from
:func:`omnix.engine.rfm.cell_segment`, so the table is never written twice)
and a confidence expression, and the result is inserted straight into
``segment_assignments``. No row has to travel to Python and back, which on a
million customers is most of the time saved. The NumPy functions stay the
reference: the tests check that both give the same segments and confidences.

Confidence needs only the 26 neighbouring cells: a cell two or more score
steps away on any axis is at least one quintile (0.2) away, where the
confidence is capped at 1 anyway. The squared gaps to each score band are
computed once per row in an inner query; each cell's branch then takes the
least of at most 26 sums.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, Integer, case, cast, func, literal, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import Subquery
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from omnix.engine.rfm import LEVELS, QUINTILE_WIDTH, cell_segment

AXES = ("r", "f", "m")
SCORES = range(1, LEVELS + 1)
CELLS = {
    (r, f, m): cell_segment(r, f, m) for r in SCORES for f in SCORES for m in SCORES
}


class greatest(FunctionElement[Any]):  # noqa: N801 (reads as the SQL function)
    inherit_cache = True
    name = "greatest"


class least(FunctionElement[Any]):  # noqa: N801
    inherit_cache = True
    name = "least"


@compiles(greatest)
def _greatest(element: greatest, compiler: SQLCompiler, **kw: Any) -> str:
    return f"greatest({compiler.process(element.clauses, **kw)})"


@compiles(least)
def _least(element: least, compiler: SQLCompiler, **kw: Any) -> str:
    return f"least({compiler.process(element.clauses, **kw)})"


@compiles(greatest, "sqlite")
def _greatest_sqlite(element: greatest, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite's max() with several arguments is the scalar maximum.
    return f"max({compiler.process(element.clauses, **kw)})"


@compiles(least, "sqlite")
def _least_sqlite(element: least, compiler: SQLCompiler, **kw: Any) -> str:
    return f"min({compiler.process(element.clauses, **kw)})"


def _code(value: Any) -> Any:
    return cast(value, Integer)


def with_gaps(population: Subquery) -> Subquery:
    """The population with tenure clamped at 0 (an account stamped after the
    snapshot counts as opened then) and ``g_<axis><score>``: the squared
    distance, in percentile units, from the customer's percentile to each
    score band.

    The band edges are computed as in :func:`omnix.engine.rfm.rfm_confidence`
    (``k / 5`` and that plus 0.2), so both give the same floating-point
    numbers.
    """
    gaps = []
    for axis in AXES:
        p = population.c[f"{axis}_pct"]
        for score in SCORES:
            low = (score - 1) / LEVELS
            high = low + QUINTILE_WIDTH
            gap = greatest(literal(low, Float) - p, p - literal(high, Float), 0.0)
            gaps.append((gap * gap).label(f"g_{axis}{score}"))
    kept = [column for column in population.c if column.key != "tenure_days"]
    tenure = greatest(population.c.tenure_days, 0).label("tenure_days")
    return select(*kept, tenure, *gaps).subquery("gapped")


def _cell_code(source: Subquery) -> Any:
    c = source.c
    return (c.r - 1) * 25 + (c.f - 1) * 5 + (c.m - 1)


def segment_expression(source: Subquery, new_customer_days: int) -> Any:
    """New Customers by tenure, Lost without purchases, else the cell's."""
    c = source.c
    by_cell = case(
        {(r - 1) * 25 + (f - 1) * 5 + (m - 1): s for (r, f, m), s in CELLS.items()},
        value=_code(_cell_code(source)),
    )
    return case(
        (c.tenure_days < new_customer_days, "new_customers"),
        (c.has_purchases == 0, "lost"),
        else_=by_cell,
    )


def _nearest_other(source: Subquery, cell: tuple[int, int, int]) -> Any:
    """Least squared distance to a neighbouring cell of another segment."""
    c = source.c
    own = CELLS[cell]
    terms = []
    for other, segment in CELLS.items():
        near = all(abs(a - b) <= 1 for a, b in zip(other, cell, strict=True))
        if near and segment != own:
            r, f, m = other
            terms.append(c[f"g_r{r}"] + c[f"g_f{f}"] + c[f"g_m{m}"])
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else least(*terms)


def confidence_expression(source: Subquery, new_customer_days: int) -> Any:
    """:func:`omnix.engine.rfm.assign_segments`' confidence, per row."""
    c = source.c
    whens = {}
    for (r, f, m), _segment in CELLS.items():
        squared = _nearest_other(source, (r, f, m))
        if squared is not None:
            code = (r - 1) * 25 + (f - 1) * 5 + (m - 1)
            whens[code] = least(func.sqrt(squared) / QUINTILE_WIDTH, 1.0)
    by_cell = case(whens, value=_code(_cell_code(source)), else_=1.0)
    window = max(new_customer_days, 1)
    return case(
        (
            c.tenure_days < new_customer_days,
            cast(new_customer_days - c.tenure_days, Float) / window,
        ),
        (c.has_purchases == 0, 1.0),
        else_=by_cell,
    )
