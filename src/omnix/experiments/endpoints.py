"""Section 4 of the guide: A/B tests of analysis models (staff only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from omnix.analysers.catalogue import available_models
from omnix.deps import ContextDep, ManagerUser, SessionDep
from omnix.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    error_responses,
)
from omnix.experiments import report, schemas, service
from omnix.schemas import Message

router = APIRouter(prefix="/ab-tests", tags=["ab-tests"])

TestId = Annotated[str, Path(alias="testId", min_length=1, max_length=64)]
READ_ERRORS = error_responses(BadRequest, Unauthorized, Forbidden, NotFound)
WRITE_ERRORS = error_responses(BadRequest, Unauthorized, Forbidden, NotFound, Conflict)


@router.post("", operation_id="createAbTest", status_code=201, responses=WRITE_ERRORS)
async def create_ab_test(
    body: schemas.CreateABTestDto,
    staff: ManagerUser,
    session: SessionDep,
    context: ContextDep,
) -> schemas.ABTestCreated:
    """Create a test of model B against model A on one analysis type."""
    test = await service.create_test(context, session, body, staff.user_id)
    return schemas.ABTestCreated(
        test_id=test.id,
        message=f"A/B test {test.name} created: {test.model_a} (A) against "
        f"{test.model_b} (B), from {test.start_at.isoformat()} to "
        f"{test.end_at.isoformat()}",
    )


@router.get("", operation_id="listAbTests", responses=READ_ERRORS)
async def list_ab_tests(
    _staff: ManagerUser, session: SessionDep, context: ContextDep
) -> schemas.ABTestList:
    """Every A/B test, newest first, with its status now."""
    return await service.list_tests(session, context.clock.now())


@router.get("/models/available", operation_id="listAbTestModels", responses=READ_ERRORS)
async def list_available_models(
    _staff: ManagerUser, context: ContextDep
) -> schemas.AvailableModels:
    """Every analysis model, whether it can be tested now, and its price."""
    models = available_models(context)
    return schemas.AvailableModels(data=models, total_models=len(models))


@router.post(
    "/quick-test",
    operation_id="createQuickAbTest",
    status_code=201,
    responses=WRITE_ERRORS,
)
async def create_quick_test(
    body: schemas.QuickTestDto,
    staff: ManagerUser,
    session: SessionDep,
    context: ContextDep,
) -> schemas.QuickTestCreated:
    """Haiku against Sonnet when a provider is configured, else the local engines."""
    return await service.quick_test(context, session, body, staff.user_id)


@router.get("/{testId}/results", operation_id="getAbTestResults", responses=READ_ERRORS)
async def get_results(
    test_id: TestId,
    _staff: ManagerUser,
    session: SessionDep,
    context: ContextDep,
    include_raw_data: Annotated[
        bool,
        Query(alias="includeRawData", description="Add every customer's values."),
    ] = False,
    phase: Annotated[
        int | None,
        Query(ge=1, description="The phase to read; the current one by default."),
    ] = None,
) -> schemas.ABTestResults:
    """Per-metric comparison of the two models, mismatch check and advice."""
    return await report.read_results(
        context,
        session,
        test_id,
        phase_number=phase,
        include_raw_data=include_raw_data,
    )


@router.get("/{testId}/status", operation_id="getAbTestStatus", responses=READ_ERRORS)
async def get_status(
    test_id: TestId, _staff: ManagerUser, session: SessionDep, context: ContextDep
) -> schemas.ABTestStatusInfo:
    """Status and the current winner on the primary metric."""
    return await report.read_status(context, session, test_id)


@router.put(
    "/{testId}/deactivate", operation_id="deactivateAbTest", responses=WRITE_ERRORS
)
async def deactivate_ab_test(
    test_id: TestId, _staff: ManagerUser, session: SessionDep, context: ContextDep
) -> Message:
    """Stop assigning customers to a pending or running test."""
    return await service.deactivate(context, session, test_id)


@router.put("/{testId}/split", operation_id="changeAbTestSplit", responses=WRITE_ERRORS)
async def change_split(
    test_id: TestId,
    body: schemas.SplitChangeDto,
    _staff: ManagerUser,
    session: SessionDep,
    context: ContextDep,
) -> schemas.SplitChanged:
    """Change the split; on a running test this starts a new phase."""
    return await service.change_split(context, session, test_id, body.traffic_split)
