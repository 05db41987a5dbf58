"""What the router shows: one module per view, each a function of the open App returning a frozen, JSON-ready model
with no secret in it. The MCP tools and resources and the CLI verbs all render these."""

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
