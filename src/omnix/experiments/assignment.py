"""Which arm of a running test a customer is in, and what the call leaves.

The arm itself is a pure function of ids and split (``omnix.experiments.
buckets``); this module finds the running test and its phase, and carries
the assignment from the choice of analyser to the call's ledger rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from omnix.engine.population import CustomerAnalysis
from omnix.experiments.buckets import arm_for
from omnix.experiments.models import ABTest, ABTestCall, ABTestPhase
from omnix.experiments.outcomes import predictions_of
from omnix.experiments.schemas import Arm, TestStatus

# Where an assignment waits in the session between choosing the analyser and
# writing the call's ledger rows.
_NOTES = "omnix.experiments.assignments"


def status_at(test: ABTest, now: datetime) -> TestStatus:
    """pending before the start, running until the end, then completed;
    paused from deactivation on (assignment has stopped)."""
    if test.deactivated_at is not None:
        return "paused"
    if now < test.start_at:
        return "pending"
    if now >= test.end_at:
        return "completed"
    return "running"


@dataclass(frozen=True)
class Assignment:
    test_id: str
    phase: int
    arm: Arm
    analyser_id: str


async def running_test(
    session: AsyncSession, analysis_type: str, now: datetime
) -> tuple[ABTest, ABTestPhase] | None:
    """The test assigning ``analysis_type`` at ``now`` and its current phase.

    Creation refuses overlapping tests of one type, so there is at most one.
    """
    test = await session.scalar(
        select(ABTest)
        .where(
            ABTest.analysis_type == analysis_type,
            ABTest.deactivated_at.is_(None),
            ABTest.start_at <= now,
            ABTest.end_at > now,
        )
        .order_by(ABTest.start_at.desc())
        .limit(1)
    )
    if test is None:
        return None
    phase = await session.scalar(
        select(ABTestPhase)
        .where(ABTestPhase.test_id == test.id)
        .order_by(ABTestPhase.number.desc())
        .limit(1)
    )
    return None if phase is None else (test, phase)


async def assign_customer(
    session: AsyncSession, customer_id: str, analysis_type: str, now: datetime
) -> Assignment | None:
    """The customer's arm in the running test of this type, noted in the session."""
    found = await running_test(session, analysis_type, now)
    if found is None:
        return None
    test, phase = found
    arm = arm_for(test.id, customer_id, phase.traffic_split)
    assignment = Assignment(
        test.id, phase.number, arm, test.model_b if arm == "B" else test.model_a
    )
    session.info.setdefault(_NOTES, {})[(customer_id, analysis_type)] = assignment
    return assignment


def take_assignment(
    session: AsyncSession, customer_id: str, analysis_type: str, analyser_id: str
) -> Assignment | None:
    """The assignment noted for this call, if the analyser it chose is running.

    None when no test assigned the call, or when the dispatcher set the
    assigned analyser aside (then the call is not part of the test).
    """
    notes = session.info.get(_NOTES)
    assignment = notes.pop((customer_id, analysis_type), None) if notes else None
    if assignment is None or assignment.analyser_id != analyser_id:
        return None
    return assignment


def call_record(
    assignment: Assignment,
    analysis_type: str,
    analysis: CustomerAnalysis,
    *,
    answered_by: str,
    data_cutoff: datetime,
    called_at: datetime,
) -> ABTestCall:
    """The row that keeps what this call predicted, for outcome scoring."""
    dates, recommended = predictions_of(analysis, analysis_type)
    return ABTestCall(
        test_id=assignment.test_id,
        phase=assignment.phase,
        arm=assignment.arm,
        customer_id=analysis.customer_id,
        assigned_model=assignment.analyser_id,
        answered_by=answered_by,
        data_cutoff=data_cutoff,
        called_at=called_at,
        predicted_dates=dates,
        recommended=recommended,
    )
