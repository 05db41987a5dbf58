"""The dashboard's review fixes in a real headless browser: the decision page says who won and why as `log --id`
does, charts scale to their box and keep every label inside, nothing is wider than a 375 px phone, and the switch
menu shows the provider every request is pinned to."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.server.web.support import serving, watched
from tests.server.web.test_dashboard import Home, env, fill, only_local, opened

__all__ = ["env"]  # the fixture, shared with test_dashboard

PHONE = {"width": 375, "height": 812}
PAGES = ("/", "/routing", "/flow", "/costs", "/performance")

#: every chart's box and each of its labels' box, in the chart's own units (the viewBox)
CHARTS = """() => [...document.querySelectorAll('svg.chart')].map(svg => {
  const box = svg.viewBox.baseVal, parent = svg.parentElement, style = getComputedStyle(parent);
  const inner = parent.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const texts = [...svg.querySelectorAll('text')];
  return {
    width: svg.getAttribute('width'), shown: svg.getBoundingClientRect().width, inner,
    view: [box.width, box.height], wide: svg.classList.contains('wide'),
    scrolls: ['auto', 'scroll'].includes(style.overflowX) && parent.clientWidth <= innerWidth,
    smallest_px: Math.min(...texts.map(t => t.getBoundingClientRect().height), 99),
    outside: texts.map(t => [t.textContent, t.getBBox()])
      .filter(([, b]) => b.x < -0.5 || b.y < -0.5 || b.x + b.width > box.width + 0.5
                         || b.y + b.height > box.height + 0.5).map(([text]) => text),
  };
})"""
#: tables not inside a box that scrolls sideways, and how wide the document is
LAYOUT = """() => ({
  wide: document.scrollingElement.scrollWidth, screen: innerWidth,
  loose: [...document.querySelectorAll('table')].filter(t => {
    const box = t.closest('.scroll');
    return !box || !['auto', 'scroll'].includes(getComputedStyle(box).overflowX) || box.clientWidth > innerWidth;
  }).map(t => t.id),
})"""


def _cost_first_decision(env: Home) -> int:
    fill(env)
    assert env.cli("budget", "cost_first").code == 0
    assert env.cli("ask", "Fix this Python function", "--task", "coding").code == 0
    decision: int = env.cli("log", "-n", "1", "--json").json()["decisions"][0]["id"]
    return decision


def test_a_cost_first_decisions_page_says_which_tier_decided_as_log_id_does(env: Home, browser: Browser) -> None:
    decision = _cost_first_decision(env)
    detail = env.cli("log", "--id", str(decision), "--json").json()
    cli = " ".join(env.cli("log", "--id", str(decision)).out.split())
    assert detail["reason"] == "cost"
    with serving(env.home) as dashboard, watched(browser) as seen:
        opened(seen, dashboard, f"/routing/{decision}")
        lines = seen.page.locator("#decided-by li").all_inner_texts()
        only_local(seen, dashboard)
    assert lines[0].startswith("cost: ")
    assert lines[-1].startswith("decided by the cost_first list (qualityPreferences.cost_first): ")
    assert f"{detail['provider']}/{detail['model']} is #1" in lines[-1]
    for line in lines:
        assert f"why: {' '.join(line.split())}" in cli  # the same words as the CLI's


def test_charts_fill_their_box_and_keep_every_label_inside_at_desktop_and_phone_width(
    env: Home, browser: Browser
) -> None:
    fill(env)
    with serving(env.home) as dashboard, watched(browser) as seen:
        opened(seen, dashboard)
        seen_charts = 0
        for size in ({"width": 1280, "height": 900}, PHONE):
            seen.page.set_viewport_size(size)  # type: ignore[arg-type]
            for path in ("/", "/flow", "/costs", "/performance"):
                seen.page.goto(dashboard.base + path)
                for chart in seen.page.evaluate(CHARTS):
                    seen_charts += 1
                    assert chart["width"] == "100%"
                    assert chart["outside"] == [], (path, size, chart)
                    if size is PHONE and chart["wide"]:
                        assert chart["shown"] >= 719 and chart["scrolls"], (path, chart)
                    else:
                        assert abs(chart["shown"] - chart["inner"]) <= 1, (path, chart)
        only_local(seen, dashboard)
    assert seen_charts >= 2 * 9  # sparkline, flow, cost bars and burn-down, the performance lines


def test_at_a_375_px_phone_width_every_chart_label_is_drawn_at_least_6_px_high(env: Home, browser: Browser) -> None:
    fill(env)
    with serving(env.home) as dashboard, watched(browser) as seen:
        opened(seen, dashboard)
        seen.page.set_viewport_size(PHONE)  # type: ignore[arg-type]
        smallest = {}
        for path in ("/", "/flow", "/costs", "/performance"):
            seen.page.goto(dashboard.base + path)
            smallest[path] = min(chart["smallest_px"] for chart in seen.page.evaluate(CHARTS))
        only_local(seen, dashboard)
    assert all(px >= 6 for px in smallest.values()), smallest


def test_at_a_375_px_phone_width_no_page_is_wider_than_the_screen_and_tables_scroll_in_their_box(
    env: Home, browser: Browser
) -> None:
    decision = _cost_first_decision(env)
    with serving(env.home) as dashboard, watched(browser) as seen:
        opened(seen, dashboard)
        seen.page.set_viewport_size(PHONE)  # type: ignore[arg-type]
        for path in (*PAGES, f"/routing/{decision}"):
            seen.page.goto(dashboard.base + path)
            layout = seen.page.evaluate(LAYOUT)
            assert layout["screen"] == 375
            assert layout["wide"] <= layout["screen"], (path, layout)
            assert layout["loose"] == [], (path, layout)
            assert seen.page.locator("table").count() > 0, path
        only_local(seen, dashboard)


def test_the_switch_menu_shows_the_provider_every_request_is_pinned_to_else_auto(env: Home, browser: Browser) -> None:
    fill(env)
    menu = "#actions select[name=provider]"
    with serving(env.home) as dashboard, watched(browser) as seen:
        opened(seen, dashboard)
        expect(seen.page.locator(menu)).to_have_value("auto")
        assert env.cli("switch", "zai").code == 0
        seen.page.reload()
        expect(seen.page.locator(menu)).to_have_value("zai")
        assert env.cli("switch", "auto").code == 0
        seen.page.reload()
        expect(seen.page.locator(menu)).to_have_value("auto")
        only_local(seen, dashboard)
