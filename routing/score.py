"""The smooth part of the ranking (README "The score": its parts, weights and formulas), and the per-candidate
scratch decide() works on with the group ranking (scores, tiers, pool order), internal to the routing core."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from operator import attrgetter

from providers.models import ModelProfile, TaskType
from providers.types import WireKind
from routing.latency import expected_output, latency_part, pool_flags, predicted_ms, speed_order
from routing.preferences import BudgetMode, Preferences, QualityMode
from routing.types import (
    DEFAULT_OUTPUT_TOKENS,
    CandidateState,
    Filter,
    ScoreBreakdown,
    Task,
    Tiers,
    norm_provider,
    token_margin,
)

PARTS: tuple[str, ...] = ("quality", "cost", "headroom", "latency", "speed", "preference")

_BALANCED = {"quality": 0.35, "cost": 0.20, "headroom": 0.15, "latency": 0.10, "speed": 0.05, "preference": 0.15}
_BASE_WEIGHTS: dict[str | None, dict[str, float]] = {
    None: _BALANCED,
    "balanced": _BALANCED,
    "max_quality": {
        "quality": 0.55,
        "cost": 0.05,
        "headroom": 0.10,
        "latency": 0.05,
        "speed": 0.05,
        "preference": 0.20,
    },
    "max_speed": {"quality": 0.10, "cost": 0.10, "headroom": 0.10, "latency": 0.30, "speed": 0.30, "preference": 0.10},
    # the window itself is a tier in max_context; among equal windows, balance as usual
    "max_context": _BALANCED,
}
#: cost_first makes cost dominant; quality_first makes quality dominant and cost minor; free_only (every survivor
#: is free) leans on the quota left, so free pools drain evenly.
_BUDGET_MULTIPLIERS: dict[BudgetMode, dict[str, float]] = {
    "cost_first": {"cost": 4.0, "quality": 0.5},
    "quality_first": {"quality": 2.0, "cost": 0.25},
    "free_only": {"headroom": 2.0},
}

COST_UNIT_USD = 0.0001
COST_CEILING_USD = 1.0
_COST_SCALE = math.log1p(COST_CEILING_USD / COST_UNIT_USD)
LATENCY_HALF_MS = 2000.0
UNKNOWN_LATENCY = 0.5
UNKNOWN_PREFERENCE = 0.5


@cache
def weights_for(quality: QualityMode | None, budget_mode: BudgetMode) -> dict[str, float]:
    """The weight of each part for a quality mode and budget mode (they sum to 1). Do not mutate the result."""
    weights = dict(_BASE_WEIGHTS[quality])
    for part, factor in _BUDGET_MULTIPLIERS[budget_mode].items():
        weights[part] *= factor
    total = sum(weights.values())
    return {name: round(value / total, 4) for name, value in weights.items()}


QUALITY_FLOOR = 40


def quality_part(quality: int) -> float:
    """A 0-100 quality score on the 0..1 scale: (q - 40) / 60, clamped."""
    # conditionals rather than min/max: this runs for every group of every decision
    part = (quality - QUALITY_FLOOR) / (100 - QUALITY_FLOOR)
    return 0.0 if part < 0.0 else 1.0 if part > 1.0 else part


def cost_part(cost_usd: float) -> float:
    """1.0 for free, falling on a log scale to 0.0 at COST_CEILING_USD and above."""
    if cost_usd <= 0:
        return 1.0
    part = 1.0 - math.log1p(cost_usd / COST_UNIT_USD) / _COST_SCALE
    return part if part > 0.0 else 0.0


def account_headroom(candidate: CandidateState, now: datetime) -> float:
    """The tightest known quota window's remaining fraction; 0 when exhausted, 1 with no known limit."""
    if candidate.exhausted_until is not None and candidate.exhausted_until > now:
        return 0.0
    headroom = 1.0
    for window in candidate.windows:
        if window.limit > 0:
            fraction = window.remaining / window.limit
            if fraction < headroom:
                headroom = fraction
    return max(0.0, headroom)


# --------------------------------------------------------------------------------------------------- ranking


class Evaluation:
    """One candidate under evaluation (decide()'s scratch; not part of the public API)."""

    __slots__ = (
        "c", "prov", "filter", "input_tokens", "output_tokens", "cost", "headroom", "predicted", "deranked", "probe",
    )  # fmt: skip

    def __init__(
        self, c: CandidateState, prov: str, filter: Filter | None, inp: int, out: int, cost: float, headroom: float
    ) -> None:
        self.c = c
        self.prov = prov
        self.filter = filter
        self.input_tokens = inp
        self.output_tokens = out
        self.cost = cost
        self.headroom = headroom
        self.predicted: float | None = None
        self.deranked = False
        self.probe = False


_NO_FILTERS: frozenset[Filter] = frozenset()


class Group:
    """The accounts of one (provider, model)."""

    __slots__ = ("prov", "model", "members", "survivors", "filters", "tiers", "score", "key", "timed")

    def __init__(self, prov: str, model: str) -> None:
        self.prov = prov
        self.model = model
        self.members: list[Evaluation] = []
        self.survivors: list[Evaluation] = []
        #: the runtime filters that removed members (shared and empty until one does: most groups have none)
        self.filters: frozenset[Filter] = _NO_FILTERS
        self.tiers: Tiers
        self.score: ScoreBreakdown
        self.key: tuple[float | str, ...] = ()
        #: whether any member carries a speed estimate (otherwise no prediction, de-rank or probe to look at)
        self.timed = False


_ModelInfo = tuple[bool, frozenset[str], bool, int, int, float, bool, str]
_NOTHING: frozenset[str] = frozenset()
#: model_info shared across decide() calls: per (input tokens, output tokens, needs, day), a table keyed by
#: (id(model), wire) holding the model itself, so an id reused by another object never matches; cleared when full
_SHARED_INFO: dict[tuple[object, ...], dict[tuple[int, str], tuple[ModelProfile, _ModelInfo]]] = {}
_SHARED_MAX = 4096
#: a group's part of the score and its tiers that depend only on the setup and the model (see `_Setup.static`)
#: (quality, speed, preference, tiers, uncatalogued, and the key's list positions, window and default as sorted)
_Static = tuple[float, float, float, Tiers, bool, int, int, int, int, int]


class _Setup:
    """What depends only on the preferences and the task's kind (type, quality, budget mode), shared by every
    decide() call on them: weights, preference lists, and each model group's static score parts and tiers."""

    __slots__ = ("prefs", "weights", "weight_values", "lists", "by_model", "default", "statics", "max_context")

    def __init__(self, prefs: Preferences, task: Task, budget_mode: BudgetMode) -> None:
        self.prefs = prefs  # kept, and compared by identity: an id reused by another object never matches
        self.weights = weights_for(task.quality, budget_mode)
        self.weight_values = tuple(self.weights[name] for name in PARTS)
        quality_list = prefs.quality_preferences.get(task.quality) if task.quality else None
        cost_list = prefs.quality_preferences.get("cost_first") if budget_mode == "cost_first" else None
        self.lists = (
            _positions(quality_list),
            _positions(prefs.task_preferences.get(task.task_type)),
            _positions(cost_list),
        )
        self.by_model = any("/" in key for positions in self.lists if positions for key in positions)
        self.default = norm_provider(prefs.default) if prefs.default else None
        self.max_context = task.quality == "max_context"
        self.statics: dict[tuple[int, str, str, str | None], tuple[ModelProfile, _Static]] = {}

    def static(self, model: ModelProfile, prov: str, model_id: str, alias: str | None, task_type: TaskType) -> _Static:
        """The group's quality, speed and preference parts, list positions, default tier and context window."""
        key = (id(model), prov, model_id, alias)
        found = self.statics.get(key)
        if found is not None and found[0] is model:
            return found[1]
        quality = quality_part(model.quality.get(task_type, 50))
        speed = model.speed / 100
        preference = UNKNOWN_PREFERENCE if model.preference_score is None else model.preference_score / 100
        ql, tl, cl = self.positions(prov, model_id, alias)
        default = 0 if self.default is None or self.default == prov else 1
        window = model.context_window if self.max_context else None
        # shared by every group of this model across calls: Tiers is treated as immutable (routing.types)
        tiers = Tiers(2, ql, cl, window, tl, default)
        value = (
            quality,
            speed,
            preference,
            tiers,
            model.uncatalogued,
            ql or 0,
            cl or 0,
            -(window or 0),
            tl or 0,
            default,
        )
        if len(self.statics) >= _SHARED_MAX:
            self.statics.clear()
        self.statics[key] = (model, value)
        return value

    def positions(self, prov: str, model: str, alias: str | None = None) -> tuple[int | None, int | None, int | None]:
        """The group's place in each list; `alias` is the retired model a substitute stands in for."""
        q, t, c = self.lists
        if self.by_model:
            return _position(q, prov, model, alias), _position(t, prov, model, alias), _position(c, prov, model, alias)
        return (
            None if q is None else q.get(prov, len(q)),
            None if t is None else t.get(prov, len(t)),
            None if c is None else c.get(prov, len(c)),
        )


#: setups by (id(preferences), task type, quality, budget mode); cleared when full
_SETUPS: dict[tuple[int, str, str | None, str], _Setup] = {}
#: provider names as decide() compares them (norm_provider is pure)
_PROVS: dict[str, str] = {}


def _setup(prefs: Preferences, task: Task, budget_mode: BudgetMode) -> _Setup:
    key = (id(prefs), task.task_type, task.quality, budget_mode)
    setup = _SETUPS.get(key)
    if setup is None or setup.prefs is not prefs:
        if len(_SETUPS) >= 256:
            _SETUPS.clear()
        setup = _SETUPS[key] = _Setup(prefs, task, budget_mode)
    return setup


class Context:
    """What every candidate's evaluation shares, computed once per decide() (not part of the public API)."""

    def __init__(self, task: Task, prefs: Preferences, now: datetime) -> None:
        self.task = task
        self.now = now
        self.today = now.date()
        self.budget_mode: BudgetMode = task.budget_mode or prefs.budget_mode
        self.free_only = self.budget_mode == "free_only"
        setup = self.setup = _setup(prefs, task, self.budget_mode)
        self.weights = setup.weights
        self.weight_values = setup.weight_values
        self.statics = setup.statics
        self.task_type = task.task_type
        self.max_context = task.quality == "max_context"
        self.margins: dict[tuple[str, str], float] = {}
        self.provs = _PROVS
        self.output = task.max_output_tokens or DEFAULT_OUTPUT_TOKENS
        #: output tokens the predicted completion times assume (routing.latency)
        self.expected_output = expected_output(task)
        self.max_speed = task.quality == "max_speed"
        #: whether any group carries a speed estimate (set by build_groups)
        self.timed = False
        self.lists = setup.lists
        self.by_model = setup.by_model
        self.default = setup.default
        #: (id(model), wire) -> (model, its evaluation): shared across calls of the same sizes unless the task
        #: carries images (then per call)
        self.models: dict[tuple[int, str], tuple[ModelProfile, _ModelInfo]]
        if task.image_tokens:
            self.models = {}
        else:
            sizes = (task.estimated_input_tokens, self.output, task.needs, self.today)
            shared = _SHARED_INFO.get(sizes)
            if shared is None:
                if len(_SHARED_INFO) >= 64:
                    _SHARED_INFO.clear()
                shared = _SHARED_INFO[sizes] = {}
            elif len(shared) >= _SHARED_MAX:
                shared.clear()
            self.models = shared

    def model_info(self, model: ModelProfile, kind: WireKind) -> _ModelInfo:
        """The per-model part of a candidate's evaluation (retired, missing capabilities, too big, token counts,
        worst-case cost, free, the model's id)."""
        key = (id(model), kind)
        found = self.models.get(key)
        if found is not None and found[0] is model:
            return found[1]
        info = self._model_info(model, kind)
        self.models[key] = (model, info)
        return info

    def _model_info(self, model: ModelProfile, kind: WireKind) -> _ModelInfo:
        margin_key = (model.provider, kind)
        margin = self.margins.get(margin_key)
        if margin is None:
            margin = self.margins[margin_key] = token_margin(model.provider, kind)
        inp = math.ceil(self.task.estimated_input_tokens * margin)
        if self.task.image_tokens:
            inp += self.task.image_tokens.get(kind, max(self.task.image_tokens.values()))
        out = self.output if self.output < model.max_output_tokens else model.max_output_tokens
        return (
            model.retired_on is not None and self.today >= model.retired_on,
            self.task.needs - model.capabilities if self.task.needs else _NOTHING,
            inp + out > model.context_window,
            inp,
            out,
            (inp * model.input_cost_per_1m + out * model.output_cost_per_1m) / 1_000_000,
            (model.is_free and not model.uncatalogued) or model.free_tier,
            model.id,
        )

    def norm(self, provider: str) -> str:
        prov = _PROVS.get(provider)
        if prov is None:
            if len(_PROVS) >= _SHARED_MAX:
                _PROVS.clear()
            prov = _PROVS[provider] = norm_provider(provider)
        return prov

    def positions(self, prov: str, model: str, alias: str | None = None) -> tuple[int | None, int | None, int | None]:
        """The group's place in each list; `alias` is the retired model a substitute stands in for."""
        return self.setup.positions(prov, model, alias)


def _positions(entries: Sequence[str] | None) -> dict[str, int] | None:
    if not entries:
        return None
    positions: dict[str, int] = {}
    for index, entry in enumerate(entries):
        positions.setdefault(norm_provider(entry), index)
    return positions


def _position(positions: dict[str, int] | None, prov: str, model: str, alias: str | None = None) -> int | None:
    if positions is None:
        return None
    found = positions.get(f"{prov}/{model.lower()}")
    if found is None and alias is not None:
        found = positions.get(f"{prov}/{alias.lower()}")
    return positions.get(prov, len(positions)) if found is None else found


def _score_group(g: Group, ctx: Context) -> None:
    members = g.members
    first = members[0]
    c = first.c
    model = c.model
    if len(members) == 1:
        headroom, cheapest, p50 = first.headroom, first.cost, c.latency_p50_ms
    else:
        headroom, cheapest, p50 = _pool_aggregates(members)
    alias = c.substituted_for
    found = ctx.statics.get((id(model), g.prov, g.model, alias))
    static = (
        found[1]
        if found is not None and found[0] is model
        else ctx.setup.static(model, g.prov, g.model, alias, ctx.task_type)
    )
    quality, speed, preference, tiers, uncatalogued, ql, cl, window, tl, default = static
    cost = _COST_PARTS.get(cheapest)
    if cost is None:
        cost = _cost_part(cheapest)
    timed = g.timed
    predictions = (
        [e.predicted for e in (g.survivors or members) if e.predicted is not None and not e.deranked] if timed else None
    )
    if predictions:
        latency = latency_part(sum(predictions) / len(predictions))
    else:
        latency = UNKNOWN_LATENCY if p50 is None else 1.0 / (1.0 + p50 / LATENCY_HALF_MS)
    wq, wc, wh, wl, ws, wp = ctx.weight_values
    total = quality * wq + cost * wc + headroom * wh + latency * wl + speed * ws + preference * wp
    g.score = ScoreBreakdown(quality, cost, headroom, latency, speed, preference, ctx.weights, total)
    g.tiers = tiers
    # an uncatalogued model (autoDiscover) makes no quality claim: it serves only after every catalogued one
    if timed:
        healthy = [e for e in g.survivors if not e.deranked or e.probe]
        all_deranked = bool(g.survivors) and not healthy
    else:
        healthy, all_deranked = g.survivors, False
    speed_key = 0.0
    if ctx.max_speed:
        speed_key = min((speed_order(e.c, e.predicted) for e in healthy), default=0.0)
        if timed and speed_key >= 0.0:
            speed_key = _probe_if_stale_in_store(healthy, speed_key)
    g.key = (uncatalogued, all_deranked, speed_key, ql, cl, window, tl, default, -total, g.prov, g.model)


def _probe_if_stale_in_store(healthy: list[Evaluation], speed_key: float) -> float:
    """max_speed's key for a group the whole store went on without (every healthy member's estimate is stale in
    the store, storage.latency, and none has a call running already): tried first, once, like one never measured,
    its fastest member the probe, so a provider that was slow once can show it recovered. Otherwise `speed_key`
    unchanged."""
    if not healthy or not all(
        e.c.speed is not None and e.c.speed.stale_in_store and not e.c.in_flight for e in healthy
    ):
        return speed_key
    min(healthy, key=lambda e: speed_order(e.c, e.predicted)).probe = True
    return -1.0


def _cost_part(cheapest: float) -> float:
    cost = cost_part(cheapest)
    if len(_COST_PARTS) >= _SHARED_MAX:
        _COST_PARTS.clear()
    _COST_PARTS[cheapest] = cost
    return cost


#: cost_part by worst-case cost (a handful of values per setup and task size); cleared when full
_COST_PARTS: dict[float, float] = {}


def _pool_aggregates(members: list[Evaluation]) -> tuple[float, float, float | None]:
    """A pool's mean headroom, cheapest cost and mean observed latency."""
    headroom = 0.0
    latency_sum = 0.0
    latency_n = 0
    cheapest = members[0].cost
    for e in members:
        headroom += e.headroom
        if e.c.latency_p50_ms is not None:
            latency_sum += e.c.latency_p50_ms
            latency_n += 1
        if e.cost < cheapest:
            cheapest = e.cost
    return headroom / len(members), cheapest, (latency_sum / latency_n if latency_n else None)


def build_groups(groups: list[Group], ctx: Context) -> list[Group]:
    """The groups routing/filters.py gathered, scored, best policy key first."""
    for g in groups:
        if g.timed:
            ctx.timed = True
            _flag(g, ctx)
        _score_group(g, ctx)
    groups.sort(key=_GROUP_KEY)
    return groups


#: a group's policy key (a C-level getter: the sort calls it once per group of every call)
_GROUP_KEY = attrgetter("key")


def _flag(g: Group, ctx: Context) -> None:
    """Each member's predicted completion; which survivors are de-ranked and probed (routing.latency). Only for
    groups with a speed estimate (`Group.timed`)."""
    out = ctx.expected_output
    flags = pool_flags([e.c for e in g.survivors], out, max_speed=ctx.max_speed)
    for e in g.members:
        e.predicted = flags.predicted.get(e.c.account) if e.filter is None else None
        if e.predicted is None and e.c.speed is not None:
            e.predicted = predicted_ms(e.c.speed, out)
        e.deranked = e.c.account in flags.deranked
        e.probe = e.c.account in flags.probes


def pool_order(survivors: list[Evaluation], seed: int, max_speed: bool = False) -> list[Evaluation]:
    """The pool's accounts in the order to try them: its strategy's, then a probe first and de-ranked accounts
    last; under max_speed, by predicted completion (unobserved first)."""
    ordered = strategy_order(survivors, seed)
    if len(ordered) < 2 or not (max_speed or any(e.deranked for e in ordered)):
        return ordered
    return sorted(
        ordered,
        key=lambda e: (0 if e.probe else 2 if e.deranked else 1, speed_order(e.c, e.predicted) if max_speed else 0.0),
    )


def strategy_order(survivors: list[Evaluation], seed: int) -> list[Evaluation]:
    """The pool's accounts in its strategy's order (least_used, random, or round_robin from the shared cursor)."""
    if len(survivors) < 2:
        return survivors
    strategy = survivors[0].c.pool
    if strategy == "least_used":
        return sorted(survivors, key=lambda e: (-e.headroom, e.c.pool_index, e.c.account))
    if strategy == "random":
        return sorted(
            survivors, key=lambda e: hashlib.blake2b(f"{seed}:{e.c.account}".encode(), digest_size=8).digest()
        )
    keys = [((c.pool_index - c.pool_cursor) % c.pool_size, c.account) for c in [e.c for e in survivors]]
    if keys == sorted(keys):
        return survivors  # already in order (the cursor at the pool's start): nothing to move
    return [survivors[i] for i in sorted(range(len(keys)), key=keys.__getitem__)]
