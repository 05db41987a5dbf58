"""The dashboard's charts label amounts the way a reader expects them."""

from __future__ import annotations

from server.web.svg import bars, lines


def test_a_dollar_axis_puts_the_sign_before_the_amount() -> None:
    chart = lines(["d1", "d2"], {"spent": [10.0, 50.0]}, "burn-down", cap=40.0, unit="$")
    assert ">$50</text>" in chart and "50$" not in chart


def test_a_millisecond_axis_puts_the_unit_after_the_amount() -> None:
    chart = lines(["d1", "d2"], {"p50": [120.0, 300.0]}, "latency", unit="ms")
    assert ">300ms</text>" in chart


def test_bars_show_dollars_to_the_hundredth_of_a_cent() -> None:
    chart = bars([("openai", 1.5)], "by provider")
    assert "$1.5000" in chart
