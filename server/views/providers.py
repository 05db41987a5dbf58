"""`providers_view` (router://providers, `provider-router list`): providers, models, accounts, health."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from providers.models import ModelProfile
from providers.types import Frozen
from server.config import credential_label
from server.views.common import (
    HealthState,
)
from server.views.status import ProviderStatus, RetiredModelView, provider_status
from server.wiring import App


class ModelView(Frozen):
    id: str
    context_window: int
    max_output_tokens: int
    input_cost_per_1m: float
    output_cost_per_1m: float
    free_tier: bool
    price_known: bool = Field(default=True, description="False: no price given; the costs shown are a stand-in")
    quality: dict[str, int] = Field(default_factory=dict)
    speed: int
    capabilities: list[str] = Field(default_factory=list)
    retired_on: str | None = None
    #: retired: the model that routes in its place (None: none does) and the note saying so
    routed_as: str | None = None
    retirement: str | None = None


class ProviderEntry(Frozen):
    id: str
    kind: str
    label: str
    enabled: bool
    load_balancing: str
    accounts: list[str] = Field(default_factory=list)
    #: each account's key reference ("env:VAR", "keyring:id"), never a key
    credentials: dict[str, str] = Field(default_factory=dict)
    health: HealthState
    available_again_at: datetime | None = None
    models: list[ModelView] = Field(default_factory=list)


class ProvidersReport(Frozen):
    generated_at: datetime
    problems: list[str] = Field(default_factory=list)
    providers: list[ProviderEntry] = Field(default_factory=list)


def _model_view(model: ModelProfile, retired: RetiredModelView | None = None) -> ModelView:
    return ModelView(
        routed_as=retired.routed_as if retired else None,
        retirement=retired.note if retired else None,
        id=model.id,
        context_window=model.context_window,
        max_output_tokens=model.max_output_tokens,
        input_cost_per_1m=model.input_cost_per_1m,
        output_cost_per_1m=model.output_cost_per_1m,
        free_tier=model.free_tier,
        price_known=model.price_known,
        quality=dict(model.quality),
        speed=model.speed,
        capabilities=sorted(model.capabilities),
        retired_on=model.retired_on.isoformat() if model.retired_on else None,
    )


def _retired_view(status: ProviderStatus, model: str) -> RetiredModelView | None:
    return next((r for r in status.retired_models if r.model == model), None)


async def providers_view(app: App, *, now: datetime | None = None) -> ProvidersReport:
    """The configured providers with their models (the catalogue as merged with providers.json) and health."""
    status = await provider_status(app, now=now)
    health = {p.id: p for p in status.providers}
    return ProvidersReport(
        generated_at=status.generated_at,
        problems=status.problems,
        providers=[
            ProviderEntry(
                id=p.id,
                kind=p.kind,
                label=p.label,
                enabled=p.enabled,
                load_balancing=p.load_balancing,
                accounts=[a.id for a in p.accounts],
                credentials={a.id: credential_label(a.credential) for a in p.accounts},
                health=health[p.id].health,
                available_again_at=health[p.id].available_again_at,
                models=[_model_view(m, _retired_view(health[p.id], m.id)) for m in p.models.values()],
            )
            for p in app.config.providers.values()
        ],
    )
