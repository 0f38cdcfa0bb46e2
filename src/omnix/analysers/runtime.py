"""What one process needs to run analysers: registry, providers, prices.

Built once from the configuration and kept on the application context, so
provider clients (and their connection pools) are shared by all requests.
Availability is judged when the runtime is built: a provider configured
later needs a restart, like any other setting.
"""

from __future__ import annotations

from dataclasses import dataclass

from omnix.analysers.completion import LLMProvider, RetryPolicy
from omnix.analysers.pricing import PriceTable, build_price_table
from omnix.analysers.providers import build_providers
from omnix.analysers.registry import AnalyserInfo, AnalyserRegistry, build_registry
from omnix.analysers.settings import ProviderSettings
from omnix.context import AppContext

_EXTRAS_KEY = "analysers"


@dataclass(frozen=True, eq=False)
class AnalyserRuntime:
    registry: AnalyserRegistry
    providers: dict[str, LLMProvider]
    prices: PriceTable
    deadline_s: float

    def provider_for(self, analyser: AnalyserInfo) -> LLMProvider:
        provider = self.providers.get(analyser.provider)
        if provider is None:
            raise ValueError(f"no provider {analyser.provider} for {analyser.id}")
        return provider

    async def aclose(self) -> None:
        """Release the providers' connection pools."""
        for provider in self.providers.values():
            await provider.aclose()


def build_runtime(
    settings: ProviderSettings,
    default_id: str,
    *,
    retry_policy: RetryPolicy | None = None,
) -> AnalyserRuntime:
    """Providers, registry and price table from the provider settings."""
    providers = build_providers(settings, retry_policy=retry_policy)
    return AnalyserRuntime(
        registry=build_registry(settings, providers, default_id),
        providers=providers,
        prices=build_price_table(settings.price_overrides),
        deadline_s=settings.llm_deadline_s,
    )


def analyser_runtime(context: AppContext) -> AnalyserRuntime:
    """The context's runtime, built from its settings on first use."""
    runtime = context.extras.get(_EXTRAS_KEY)
    if runtime is None:
        settings = context.settings
        runtime = build_runtime(settings.provider_settings, settings.default_analyser)
        context.extras[_EXTRAS_KEY] = runtime
    return runtime


def install_runtime(context: AppContext, runtime: AnalyserRuntime) -> None:
    """Replace the context's runtime (tests, or a reconfiguration)."""
    context.extras[_EXTRAS_KEY] = runtime
