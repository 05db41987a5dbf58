"""Which response headers are worth a write to the shared store: a new or ageing limit, nothing left, or (new) a
per-minute window nearly used up, whose remaining count every process then counts below."""

from __future__ import annotations

from datetime import timedelta

from providers.types import RateLimits
from routing.header_news import LEARNED_REFRESH, header_news
from routing.types import QuotaWindow
from tests.routing.seed import NOW, cand


def known(limit: int) -> QuotaWindow:
    return QuotaWindow(kind="requests", period="minute", limit=limit, remaining=limit, learned_at=NOW)


def test_a_window_nearly_used_up_is_news_even_when_its_limit_is_known() -> None:
    state = cand("openai", windows=(known(20),))
    assert header_news(RateLimits(requests_limit=20, requests_remaining=5), state, NOW)
    assert header_news(RateLimits(requests_limit=20, requests_remaining=0), state, NOW)


def test_plenty_left_under_a_fresh_known_limit_is_no_news() -> None:
    state = cand("openai", windows=(known(20),))
    assert not header_news(RateLimits(requests_limit=20, requests_remaining=6), state, NOW)
    assert header_news(RateLimits(requests_limit=20, requests_remaining=6), state, NOW + LEARNED_REFRESH)
    assert header_news(RateLimits(requests_limit=30, requests_remaining=29), state, NOW + timedelta(seconds=1))
