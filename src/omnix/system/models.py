"""Table: stored answers of requests sent with an ``Idempotency-Key``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from omnix.db.base import Base


class IdempotentRequest(Base):
    """The first answer to a request sent with an ``Idempotency-Key``."""

    __tablename__ = "idempotent_requests"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    principal: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int]
    response_body: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[datetime]


class AnswerEpoch(Base):
    """A counter of changes to the tables that cached answers are read from.

    On SQLite, triggers (``omnix.db.readcache.ANSWER_TABLES``) raise it with
    every row written to those tables, so the read cache can tell a change
    that matters from a heartbeat or a job's progress.
    """

    __tablename__ = "answer_epoch"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    epoch: Mapped[int]
