"""``omnix segments``: recompute everyone's segment from the command line."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

import typer

app = typer.Typer(help="Customer segments.", no_args_is_help=True)


@app.callback()
def segments() -> None:
    """Customer segments: recompute everyone's segment."""


def _instant(text: str) -> datetime:
    try:
        instant = datetime.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"not an ISO 8601 instant: {text!r}") from exc
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


@app.command()
def recompute(
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Business instant (ISO 8601, UTC when no offset); default: now. "
            "An earlier instant makes a back-dated snapshot.",
        ),
    ] = None,
) -> None:
    """Recompute every customer's segment and record migrations."""
    from omnix.config import get_settings
    from omnix.context import AppContext
    from omnix.db.migrate import upgrade
    from omnix.logging import configure_logging
    from omnix.segments.tasks import recompute_now

    instant = _instant(as_of) if as_of else None
    settings = get_settings()
    configure_logging(json=settings.log_json, level=settings.log_level)
    context = AppContext.from_settings(settings)
    upgrade(context.db.url)

    async def run() -> None:
        try:
            summary = await recompute_now(context, instant, triggered_by="cli")
        finally:
            await context.db.dispose()
        assert summary is not None
        typer.echo(
            f"Segmented {summary.customer_count:,} customers as of "
            f"{summary.as_of.isoformat()} in {summary.seconds:.2f} s "
            f"(run {summary.run_id}, {summary.migration_count:,} migrations)."
        )
        for segment_id, count in sorted(
            summary.counts.items(), key=lambda item: -item[1]
        ):
            typer.echo(f"  {count:>9,}  {segment_id}")

    asyncio.run(run())
