"""The ``omnix worker`` command (registered by :mod:`omnix.cli`)."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer


def worker(
    consumers: Annotated[
        int, typer.Option(min=1, max=32, help="Consumer tasks in this process.")
    ] = 1,
) -> None:
    """Turn stream events into insights; stop with SIGTERM or Ctrl-C."""
    from omnix.config import get_settings
    from omnix.context import AppContext
    from omnix.db.migrate import upgrade
    from omnix.logging import configure_logging
    from omnix.streaming.worker import run_worker

    settings = get_settings()
    configure_logging(json=settings.log_json, level=settings.log_level)
    context = AppContext.from_settings(settings)
    upgrade(context.db.url)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await run_worker(context, stop, consumers=consumers)

    asyncio.run(main())


if __name__ == "__main__":
    # ``python -m omnix.streaming.cli``: the same command without the main CLI.
    typer.run(worker)
