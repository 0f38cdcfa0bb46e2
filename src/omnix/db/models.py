"""Every table, imported in one place for Alembic and the test fixtures."""

from sqlalchemy import event

from omnix.analytics.models import StoredAnalysis
from omnix.auth.models import LoginSession, LoginThrottle, RefreshToken, UserAccount
from omnix.batch import models as batch_models  # noqa: F401 (its tables)
from omnix.catalogue.models import Product
from omnix.costs.models import AnalysisUsage
from omnix.customers.models import Customer, ProductInteraction, PurchaseLine
from omnix.db.base import Base
from omnix.db.readcache import install_answer_epoch
from omnix.experiments import models as experiment_models  # noqa: F401 (its tables)
from omnix.segments import models as segment_models  # noqa: F401 (its tables)
from omnix.streaming import models as streaming_models  # noqa: F401 (its tables)
from omnix.system.models import AnswerEpoch, IdempotentRequest

# Test databases are built with create_all rather than the migrations.
event.listen(
    Base.metadata,
    "after_create",
    lambda _target, connection, **_: install_answer_epoch(connection),
)

__all__ = [
    "AnalysisUsage",
    "AnswerEpoch",
    "StoredAnalysis",
    "Base",
    "Customer",
    "IdempotentRequest",
    "LoginSession",
    "LoginThrottle",
    "Product",
    "ProductInteraction",
    "PurchaseLine",
    "RefreshToken",
    "UserAccount",
]
