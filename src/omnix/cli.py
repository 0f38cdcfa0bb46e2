"""The ``omnix`` command line."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from omnix.config import Settings, get_settings
from omnix.segments.cli import app as segments_app

app = typer.Typer(help="OMNIX customer analytics.", no_args_is_help=True)
users_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(segments_app, name="segments")


def _context(settings: Settings | None = None):  # type: ignore[no-untyped-def]
    from omnix.context import AppContext
    from omnix.logging import configure_logging

    settings = settings or get_settings()
    configure_logging(json=settings.log_json, level=settings.log_level)
    return AppContext.from_settings(settings)


def _out(text: str = "") -> None:
    typer.echo(text)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    from omnix.db.migrate import upgrade

    settings = get_settings()
    upgrade(settings.resolved_database_url)
    _out(f"Schema is up to date ({settings.resolved_database_url.split('://')[0]}).")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 3001).")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Migrate the schema, then serve the API and dashboards."""
    import uvicorn

    from omnix.db.migrate import upgrade

    settings = get_settings()
    upgrade(settings.resolved_database_url)
    uvicorn.run(
        "omnix.asgi:app",
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level="warning",
        factory=False,
    )


@app.command(name="import")
def import_purchases(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    show: Annotated[int, typer.Option(help="Rejected rows to list.")] = 20,
) -> None:
    """Bulk-load a purchase file (CSV or Parquet); re-importing adds nothing."""
    from omnix.db.migrate import upgrade
    from omnix.ingest.service import import_file

    context = _context()
    upgrade(context.db.url)
    try:
        report = asyncio.run(
            import_file(
                context.db.url,
                path,
                business_now=context.clock.now(),
                wall_now=context.clock.wall(),
            )
        )
    except ValueError as exc:
        _out(f"error: {exc}")
        raise typer.Exit(2) from exc
    result = report.result
    _out(f"{path.name}: {report.rows} rows read in {report.seconds:.1f} s")
    _out(
        f"  added {result.lines_added} lines, {result.lines_already_stored} already "
        f"stored, {result.customers_added} new customers"
    )
    _out(f"  rejected {len(report.rejected)} rows")
    for reason, count in sorted(report.rejected_by_reason.items()):
        _out(f"    {count:>8}  {reason}")
    for rejection in report.rejected[:show]:
        _out(f"  line {rejection.line}: {rejection.reason}")
    if report.rejected:
        raise typer.Exit(1)


@users_app.command("create")
def create_user(
    email: Annotated[str, typer.Option(help="Sign-in e-mail.")],
    role: Annotated[str, typer.Option(help="customer, manager or admin.")],
    customer_id: Annotated[
        str | None, typer.Option(help="The household of a customer account.")
    ] = None,
    password: Annotated[
        str | None,
        typer.Option(help="Taken from OMNIX_NEW_PASSWORD or asked when not given."),
    ] = None,
) -> None:
    """Create a user account."""
    from omnix.auth import service
    from omnix.auth.schemas import UserCreate
    from omnix.db.migrate import upgrade
    from omnix.errors import OmnixError

    secret = (
        password
        or os.environ.get("OMNIX_NEW_PASSWORD")
        or typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    )
    try:
        body = UserCreate(
            email=email, password=secret, role=role, customer_id=customer_id
        )
    except ValueError as exc:
        _out(f"error: {exc}")
        raise typer.Exit(2) from exc
    context = _context()
    upgrade(context.db.url)

    async def run() -> str:
        async with context.db.transaction() as session:
            account = await service.create_user(
                session,
                email=body.email,
                password=body.password,
                role=body.role,
                customer_id=body.customer_id,
                now=context.clock.wall(),
            )
            return account.id

    try:
        account_id = asyncio.run(run())
    except OmnixError as exc:
        _out(f"error: {exc.message}")
        raise typer.Exit(2) from exc
    _out(f"Created {role} account {body.email} ({account_id}).")


@app.command()
def worker(
    consumers: Annotated[
        int, typer.Option(min=1, max=32, help="Stream consumer tasks.")
    ] = 1,
    concurrency: Annotated[
        int | None, typer.Option(min=1, max=64, help="Batch jobs at once.")
    ] = None,
    streams: Annotated[
        bool, typer.Option(help="Turn stream events into insights.")
    ] = True,
    batches: Annotated[bool, typer.Option(help="Run batch analysis jobs.")] = True,
) -> None:
    """Work the shared queues (needs OMNIX_REDIS_URL): stream events and batch jobs."""
    import signal

    from omnix.batch.config import BatchSettings, install_batch_settings
    from omnix.batch.tasks import batch_queue
    from omnix.batch.worker import run_worker as run_batch_worker
    from omnix.db.migrate import upgrade
    from omnix.streaming.worker import run_worker as run_stream_worker

    settings = get_settings()
    if not settings.redis_url:
        _out(
            "error: OMNIX_REDIS_URL is not set; without Redis, events and batch "
            "jobs are handled inside `omnix serve` and need no worker."
        )
        raise typer.Exit(2)
    context = _context(settings)
    upgrade(context.db.url)
    batch_settings = BatchSettings()
    if concurrency is not None:
        batch_settings = batch_settings.model_copy(update={"concurrency": concurrency})
    install_batch_settings(context, batch_settings)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        jobs = []
        if streams:
            jobs.append(run_stream_worker(context, stop, consumers=consumers))
        if batches:
            jobs.append(run_batch_worker(context, stop))
        try:
            await asyncio.gather(*jobs)
        finally:
            await batch_queue(context).close()
            await context.db.dispose()

    asyncio.run(run())


@app.command(name="eval")
def evaluate(
    split: Annotated[
        str, typer.Option(help="Split instant, ISO 8601 (history is before it).")
    ] = "2017-11-01T00:00:00+00:00",
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object.")
    ] = False,
    timezone: Annotated[str, typer.Option("--tz", help="Store time zone.")] = "UTC",
) -> None:
    """Score the analytics on held-out Complete Journey history."""
    from omnix.evaluation.__main__ import main as run

    args = ["--split", split, "--tz", timezone, *(["--json"] if json_output else [])]
    raise typer.Exit(run(args))


@app.command()
def demo(
    port: Annotated[int | None, typer.Option(help="Port (default 3001).")] = None,
    load_only: Annotated[
        bool, typer.Option("--load-only", help="Load and create accounts, don't serve.")
    ] = False,
) -> None:
    """Load the Complete Journey data, create demo accounts and serve."""
    from omnix import demo as demo_module
    from omnix.db.migrate import upgrade

    os.environ.setdefault("OMNIX_AS_OF", demo_module.DEMO_AS_OF.isoformat())
    get_settings.cache_clear()
    settings = get_settings()
    context = _context(settings)
    upgrade(context.db.url)

    async def prepare() -> tuple[dict[str, str], str]:
        async with context.db.session() as session:
            loaded = await demo_module.is_loaded(session)
        if loaded:
            _out("Complete Journey data already loaded; reusing it.")
        else:
            _out("Loading the Complete Journey data (first run only)...")
            summary = await demo_module.load_complete_journey(context)
            _out(
                f"  {summary.lines:,} of {summary.total_lines:,} lines loaded in "
                f"{summary.seconds:.1f} s ({summary.rows_per_second:,.0f} rows/s)"
            )
            for reason, count in sorted(summary.set_aside.items()):
                _out(f"  set aside {count:>7,}  {reason}")
        await demo_module.prepare_analytics(context)
        await demo_module.prepare_experiment(context)
        result = await demo_module.ensure_accounts(
            context, os.environ.get("OMNIX_DEMO_PASSWORD")
        )
        await context.db.dispose()
        return result

    passwords, household = asyncio.run(prepare())
    _out("")
    _out("Demo accounts:")
    for email, role in demo_module.ACCOUNTS:
        extra = f"  (household {household})" if role == "customer" else ""
        _out(f"  {role:<9} {email:<22} {passwords[email]}{extra}")
    _out(f"Clock pinned to {context.clock.now().isoformat()}")
    if load_only:
        return
    bind_port = port or settings.port
    _out(f"Serving on http://localhost:{bind_port}  (API docs: /api-docs)")
    sys.stdout.flush()
    serve(host=None, port=bind_port, workers=1)


if __name__ == "__main__":
    app()
