"""Write the API's OpenAPI document to a file, for the web build's typed client.

The dashboards' TypeScript types are generated from this file by
openapi-typescript (``npm run generate`` in ``web/``), so the schema the
browser code is checked against is exactly the one ``create_app`` serves at
``/openapi.json``. Nothing is served and no database is opened: the
application is built over a throw-away data directory with a throw-away
signing secret, only to ask it for its schema::

    .venv/bin/python scripts/export_openapi.py web/openapi.json

The output is sorted and indented, so two exports of the same code compare
equal byte for byte. It is a build product and is not committed.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any


def openapi_document() -> dict[str, Any]:
    """The schema ``create_app`` would serve, built without touching ``data/``."""
    from omnix.app import create_app
    from omnix.config import Settings
    from omnix.context import AppContext

    with tempfile.TemporaryDirectory(prefix="omnix-openapi-") as folder:
        settings = Settings(
            environment="development",
            data_dir=Path(folder),
            database_url=f"sqlite+aiosqlite:///{Path(folder) / 'schema.db'}",
            jwt_secret=secrets.token_urlsafe(48),
        )
        app = create_app(AppContext.from_settings(settings))
        return app.openapi()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="where to write the JSON document")
    args = parser.parse_args(argv)

    document = openapi_document()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)
    args.output.write_text(text + "\n", encoding="utf-8")
    print(f"{args.output}: {len(document.get('paths', {}))} paths")
    return 0


if __name__ == "__main__":
    sys.exit(main())
