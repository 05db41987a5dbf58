"""A configured model past its retirement routes as its catalogue successor on the same provider, decided against
the request's own `now`; when there is no successor, or the provider already serves it, the model drops out and
the decision says why."""

from __future__ import annotations

from datetime import UTC, date, datetime

from providers.catalog import load_catalog
from providers.models import Account, CredentialRef, ModelProfile, ProviderConfig
from routing.decide import decide
from routing.ports import Seed
from routing.preferences import Preferences
from routing.retirement import retirements, substitute
from routing.types import CandidateState, Decision, Task

RETIRES = date(2026, 12, 1)  # gemini-2.5-flash's catalogue retired_on
BEFORE = datetime(2026, 11, 30, 23, 59, tzinfo=UTC)
ON = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
NOTE = "gemini-2.5-flash retired 2026-12-01 → gemini-3.5-flash-lite"


def profile(model: str) -> ModelProfile:
    found = load_catalog().get("google", model)
    assert found is not None
    return found


def google(*models: str, successors: dict[str, str] | None = None) -> ProviderConfig:
    """A two-account Google pool serving `models`, with the catalogue's successors (or the given ones)."""
    chain = successors if successors is not None else {"gemini-2.5-flash": "gemini-3.5-flash-lite"}
    accounts = tuple(
        Account(id=f"google-{n}", provider="google", kind="gemini", base_url="http://sim",
                credential=CredentialRef(source="none"))
        for n in (1, 2)
    )  # fmt: skip
    return ProviderConfig(
        id="google",
        kind="gemini",
        label="Google",
        base_url="http://sim",
        accounts=accounts,
        models={name: profile(name) for name in models},
        successors={old: profile(new) for old, new in chain.items()},
        catalog="google",
    )


def seeds(provider: ProviderConfig) -> list[Seed]:
    return [
        Seed(provider, account, model, index, True)
        for index, account in enumerate(provider.accounts)
        for model in provider.models.values()
    ]


def route(
    provider: ProviderConfig,
    now: datetime,
    learned: frozenset[tuple[str, str]] = frozenset(),
    prefs: Preferences | None = None,
    **task: object,
) -> Decision:
    """What the router does: substitute on the request's day, then decide on that same `now`."""
    candidates = [
        CandidateState(provider=s.provider.id, account=s.account.id, model=s.model, kind="gemini",
                       pool_index=s.pool_index, pool_size=2, model_retired=(s.provider.id, s.model.id) in learned,
                       substituted_for=s.substituted_for, retirement_note=s.retirement_note)
        for s in substitute(seeds(provider), learned, now.date())
    ]  # fmt: skip
    return decide(Task(estimated_input_tokens=500, **task), candidates, prefs or Preferences(), now=now)


def test_a_configured_model_routes_as_itself_until_its_retirement_day() -> None:
    decision = route(google("gemini-2.5-flash"), BEFORE)
    assert decision.chosen is not None and decision.chosen.model == "gemini-2.5-flash"
    assert decision.chosen.substitution is None and not decision.excluded


def test_from_its_retirement_day_a_configured_model_routes_as_its_replacement_and_the_decision_says_so() -> None:
    decision = route(google("gemini-2.5-flash"), ON)
    assert decision.chosen is not None
    assert (decision.chosen.provider, decision.chosen.model) == ("google", "gemini-3.5-flash-lite")
    assert [r.account for r in decision.ranked] == ["google-1", "google-2"]
    assert all(r.substitution == NOTE for r in decision.ranked)
    assert f"routed as the replacement: {NOTE}" in decision.explanation
    assert not decision.excluded


def test_the_chain_of_replacements_is_followed_to_the_first_one_still_serving() -> None:
    chain = {"gemini-2.0-flash": "gemini-2.5-flash", "gemini-2.5-flash": "gemini-3.5-flash-lite"}
    provider = google("gemini-2.0-flash", successors=chain)
    before = retirements(provider, frozenset(), BEFORE.date())["gemini-2.0-flash"]
    on = retirements(provider, frozenset(), ON.date())["gemini-2.0-flash"]
    assert before.replacement is not None and before.replacement.id == "gemini-2.5-flash"
    assert on.replacement is not None and on.replacement.id == "gemini-3.5-flash-lite"
    assert on.note == "gemini-2.0-flash retired 2026-03-03 → gemini-3.5-flash-lite"


def test_a_model_the_provider_answered_model_not_found_for_routes_as_its_replacement_before_its_date() -> None:
    decision = route(google("gemini-2.5-flash"), BEFORE, learned=frozenset({("google", "gemini-2.5-flash")}))
    assert decision.chosen is not None and decision.chosen.model == "gemini-3.5-flash-lite"
    assert decision.chosen.substitution == (
        "gemini-2.5-flash retired (the provider answered model_not_found) → gemini-3.5-flash-lite"
    )


def test_a_retired_model_whose_replacement_the_provider_already_serves_drops_out_and_says_so() -> None:
    decision = route(google("gemini-2.5-flash", "gemini-3.5-flash-lite"), ON)
    assert {r.model for r in decision.ranked} == {"gemini-3.5-flash-lite"}
    assert len(decision.ranked) == 2  # one per account: the substitute does not duplicate the explicit model
    assert {(x.model, x.filter) for x in decision.excluded} == {("gemini-2.5-flash", "retired")}
    assert all("already serves its replacement gemini-3.5-flash-lite" in x.detail for x in decision.excluded)


def test_two_retired_models_with_one_replacement_route_it_once() -> None:
    chain = {"gemini-2.0-flash": "gemini-3.5-flash-lite", "gemini-2.5-flash": "gemini-3.5-flash-lite"}
    decision = route(google("gemini-2.5-flash", "gemini-2.0-flash", successors=chain), ON)
    assert [r.model for r in decision.ranked] == ["gemini-3.5-flash-lite"] * 2
    assert all("already stands in for gemini-2.5-flash" in x.detail for x in decision.excluded)


def test_with_no_replacement_the_retired_model_is_skipped_as_before_and_the_exclusion_says_so() -> None:
    decision = route(google("gemini-2.5-flash", successors={}), ON)
    assert decision.chosen is None
    assert {x.filter for x in decision.excluded} == {"retired"}
    assert all("google serves no replacement: routing skips it" in x.detail for x in decision.excluded)


def test_a_call_pinning_the_retired_model_is_served_by_its_replacement() -> None:
    provider = google("gemini-2.5-flash", "gemini-3.5-flash")
    decision = route(provider, ON, model="gemini-2.5-flash")
    assert decision.chosen is not None and decision.chosen.model == "gemini-3.5-flash-lite"
    assert decision.reason == "manual"


def test_a_preference_list_naming_the_retired_model_places_its_replacement_there() -> None:
    provider = google("gemini-2.5-flash", "gemini-3.5-flash")
    prefs = Preferences(task_preferences={"simple": ("google/gemini-2.5-flash", "google/gemini-3.5-flash")})
    before = route(provider, BEFORE, prefs=prefs, task_type="simple")
    on = route(provider, ON, prefs=prefs, task_type="simple")
    assert before.chosen is not None and before.chosen.model == "gemini-2.5-flash"
    assert on.chosen is not None and on.chosen.model == "gemini-3.5-flash-lite"
    assert on.chosen.tiers.task_list == 0
