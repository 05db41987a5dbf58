"""What the router shows: one module per view, each a function of the open App returning a frozen, JSON-ready model
with no secret in it. The MCP tools and resources and the CLI verbs all render these.

Each view's module loads on first use (`views.quota_report` imports server/views/quota.py then): the stdio
server starts without the views it has not been asked for."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from server.views.activity import ActivityView, activity_view
    from server.views.cache import CacheReport, cache_report
    from server.views.common import HealthState, QuotaUse, quoted
    from server.views.costs import BurnDown, CostGroup, CostsReport, Savings, costs_report
    from server.views.decisions import (
        AttemptView,
        DecisionDetail,
        DecisionLogView,
        DecisionSummary,
        SwitchView,
        decision_detail,
        decision_log,
    )
    from server.views.flow import FlowLink, FlowReport, flow_report
    from server.views.metrics import MetricsReport, MetricsView, metrics_report
    from server.views.models import AccountModels, ModelRow, ModelsReport, models_report
    from server.views.performance import Failovers, LatencyStats, PerformanceReport, TimeBucket, performance_report
    from server.views.period import REPORT_PERIODS, ReportPeriod, period_bounds
    from server.views.preferences import PreferencesView, preferences_view
    from server.views.providers import ModelView, ProviderEntry, ProvidersReport, providers_view
    from server.views.quota import AccountQuota, ProviderQuota, QuotaReport, quota_report
    from server.views.status import (
        AccountStatus,
        Block,
        PinView,
        ProviderStatus,
        SpendView,
        StatusReport,
        provider_status,
        router_status,
        unavailable_status,
    )

#: where each public name lives
_HOME: dict[str, str] = {
    "AccountModels": "server.views.models",
    "AccountQuota": "server.views.quota",
    "AccountStatus": "server.views.status",
    "ActivityView": "server.views.activity",
    "AttemptView": "server.views.decisions",
    "Block": "server.views.status",
    "BurnDown": "server.views.costs",
    "CacheReport": "server.views.cache",
    "CostGroup": "server.views.costs",
    "CostsReport": "server.views.costs",
    "DecisionDetail": "server.views.decisions",
    "DecisionLogView": "server.views.decisions",
    "DecisionSummary": "server.views.decisions",
    "Failovers": "server.views.performance",
    "FlowLink": "server.views.flow",
    "FlowReport": "server.views.flow",
    "HealthState": "server.views.common",
    "LatencyStats": "server.views.performance",
    "MetricsReport": "server.views.metrics",
    "MetricsView": "server.views.metrics",
    "ModelRow": "server.views.models",
    "ModelView": "server.views.providers",
    "ModelsReport": "server.views.models",
    "PerformanceReport": "server.views.performance",
    "PinView": "server.views.status",
    "PreferencesView": "server.views.preferences",
    "ProviderEntry": "server.views.providers",
    "ProviderQuota": "server.views.quota",
    "ProviderStatus": "server.views.status",
    "ProvidersReport": "server.views.providers",
    "QuotaReport": "server.views.quota",
    "QuotaUse": "server.views.common",
    "REPORT_PERIODS": "server.views.period",
    "ReportPeriod": "server.views.period",
    "Savings": "server.views.costs",
    "SpendView": "server.views.status",
    "StatusReport": "server.views.status",
    "SwitchView": "server.views.decisions",
    "TimeBucket": "server.views.performance",
    "activity_view": "server.views.activity",
    "cache_report": "server.views.cache",
    "costs_report": "server.views.costs",
    "decision_detail": "server.views.decisions",
    "decision_log": "server.views.decisions",
    "flow_report": "server.views.flow",
    "metrics_report": "server.views.metrics",
    "models_report": "server.views.models",
    "performance_report": "server.views.performance",
    "period_bounds": "server.views.period",
    "preferences_view": "server.views.preferences",
    "provider_status": "server.views.status",
    "providers_view": "server.views.providers",
    "quota_report": "server.views.quota",
    "quoted": "server.views.common",
    "router_status": "server.views.status",
    "unavailable_status": "server.views.status",
}


def __getattr__(name: str) -> Any:
    """Import the module that defines `name` on first use, then keep the name here (module `__getattr__`, PEP 562)."""
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


__all__ = [
    "REPORT_PERIODS",
    "ActivityView",
    "BurnDown",
    "CostGroup",
    "CostsReport",
    "Failovers",
    "FlowLink",
    "FlowReport",
    "LatencyStats",
    "PerformanceReport",
    "ReportPeriod",
    "Savings",
    "TimeBucket",
    "activity_view",
    "costs_report",
    "flow_report",
    "performance_report",
    "period_bounds",
    "cache_report",
    "AccountModels",
    "AccountQuota",
    "AccountStatus",
    "AttemptView",
    "Block",
    "CacheReport",
    "DecisionDetail",
    "DecisionLogView",
    "DecisionSummary",
    "HealthState",
    "MetricsReport",
    "MetricsView",
    "ModelRow",
    "ModelView",
    "ModelsReport",
    "PinView",
    "PreferencesView",
    "ProviderEntry",
    "ProviderQuota",
    "ProviderStatus",
    "ProvidersReport",
    "QuotaReport",
    "QuotaUse",
    "SpendView",
    "StatusReport",
    "SwitchView",
    "decision_detail",
    "decision_log",
    "metrics_report",
    "models_report",
    "preferences_view",
    "provider_status",
    "providers_view",
    "router_status",
    "quota_report",
    "quoted",
    "unavailable_status",
]
