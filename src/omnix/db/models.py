"""Every table, imported in one place for Alembic and the test fixtures."""

from omnix.analytics.models import StoredAnalysis
from omnix.auth.models import LoginSession, LoginThrottle, RefreshToken, UserAccount
from omnix.batch import models as batch_models  # noqa: F401 (its tables)
from omnix.catalogue.models import Product
from omnix.costs.models import AnalysisUsage
from omnix.customers.models import Customer, ProductInteraction, PurchaseLine
from omnix.db.base import Base
from omnix.experiments import models as experiment_models  # noqa: F401 (its tables)
from omnix.segments import models as segment_models  # noqa: F401 (its tables)
from omnix.streaming import models as streaming_models  # noqa: F401 (its tables)
from omnix.system.models import IdempotentRequest

__all__ = [
    "AnalysisUsage",
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
