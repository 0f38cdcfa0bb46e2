"""The ASGI entry point used by ``omnix serve`` and uvicorn."""

from omnix.app import create_app
from omnix.config import get_settings
from omnix.context import AppContext
from omnix.logging import configure_logging

_settings = get_settings()
configure_logging(json=_settings.log_json, level=_settings.log_level)
app = create_app(AppContext.from_settings(_settings))
