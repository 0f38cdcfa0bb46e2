"""Regenerate the initial Alembic migration from the ORM models.

Used while no database outside development has been created from it: the
schema of the first release is one revision. After the first release, add
revisions with ``alembic revision --autogenerate`` instead.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command

from omnix.db.migrate import MIGRATIONS, alembic_config

INITIAL = MIGRATIONS / "versions" / "0001_initial_schema.py"


def main() -> None:
    INITIAL.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite+aiosqlite:///{Path(scratch) / 'empty.db'}"
        command.revision(
            alembic_config(url),
            message="initial schema",
            autogenerate=True,
            rev_id="0001",
        )


if __name__ == "__main__":
    main()
