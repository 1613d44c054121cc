"""The live dashboard in a real browser (Playwright driving Debian's Chromium).

The page draws the last ten minutes (`/history`) when it opens, then polls `/stats` every 2 s.
The first test loads it from the real metrics service while API traffic flows through the whole
stack (dashboard_stack.py); a page opened after traffic flowed, and the token handling, with the
metrics service itself (in this process); the empty and failing states with a stand-in for the
service (dashboard_fake.py). `UPDATE_SCREENSHOT=1` also saves docs/dashboard.png, after more
history has built up.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from pydantic import SecretStr

from collabcache_shared.settings import MetricsSettings
from tests.e2e.dashboard_fake import FakeStats, create_app
from tests.e2e.dashboard_stack import RealStack, Traffic
from tests.e2e.dashboard_support import (
    BROWSER_ARGS,
    CHROMIUM,
    ServerThread,
    drawn_pixels,
    metrics_service,
    publish_past_traffic,
    wait_for_lookups,
)

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    ),
]
playwright_sync = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "dashboard.png"
UPDATE_SCREENSHOT = os.environ.get("UPDATE_SCREENSHOT") == "1"
SCREENSHOT_HISTORY_SECONDS = 45
POLL_TIMEOUT_MS = 15_000
CHARTS = ("hit-rate", "latency", "endpoint-rps", "redis-memory", "invalidation-lag")
TRAFFIC_CHARTS = ("hit-rate", "latency", "endpoint-rps")
HISTORY_CHARTS = (*TRAFFIC_CHARTS, "invalidation-lag")  # Redis memory has no past: not kept
PAST_SECONDS = 570  # traffic over the last 9.5 minutes, before the page opens
FIRST_PAINT_MS = 1000  # the next /stats poll is 2 s later: what is drawn by then came at once
HIT_RATE_COLOR, P50_COLOR = "#16a34a", "#2563eb"  # as in static/js/dashboard.js and charts.js
ENDPOINT_TEMPLATE = re.compile(r"^/api(/[a-z-]+|/\{[a-z_]+\})+$")
METRICS_TOKEN = "dashboard-token+/=0123456789"  # characters a URL fragment must carry intact


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        yield chromium
        chromium.close()


class Console:
    """What the page logged: console errors and uncaught exceptions."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on("console", self.on_message)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))

    def on_message(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(message.text)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    yield context.new_page()
    context.close()


@pytest.fixture
def console(page: Any) -> Console:
    return Console(page)


@pytest.fixture(scope="module")
def traffic_stack(servers: dict[str, str], run_id: str) -> Iterator[tuple[RealStack, Traffic]]:
    """The three services on a seeded database, with API traffic flowing until the end."""
    with RealStack(servers, run_id) as stack:
        traffic = Traffic(
            stack.url("api"), stack.token("owner@example.com"), stack.token("member@example.com")
        )
        traffic.start()
        try:
            yield stack, traffic
        finally:
            traffic.stop()


@pytest.fixture
def fake() -> Iterator[tuple[str, FakeStats]]:
    stats = FakeStats(seed=7)
    with ServerThread(create_app(stats)) as url:
        yield url, stats


@pytest.fixture
def guarded_metrics(servers: dict[str, str], prefix: str) -> Iterator[str]:
    """The metrics service itself (in this process, on the run's Redis), METRICS_TOKEN set."""
    settings = MetricsSettings(token=SecretStr(METRICS_TOKEN), snapshot_cache_seconds=0)
    with metrics_service(servers["redis"], prefix, settings) as url:
        yield url


@pytest.fixture
def metrics_after_traffic(servers: dict[str, str], prefix: str) -> Iterator[str]:
    """The metrics service, once it has counted lookups and invalidations of the last 9.5
    minutes (published before it started, each at the time it happened)."""
    lookups = publish_past_traffic(servers["redis"], prefix, PAST_SECONDS)
    with metrics_service(servers["redis"], prefix, MetricsSettings()) as url:
        wait_for_lookups(url, lookups)
        yield url


def wait_for_points(page: Any, chart: str, at_least: int) -> None:
    try:
        page.wait_for_function(
            "([id, n]) => Number(document.getElementById(id).dataset.points) >= n",
            arg=[f"chart-{chart}", at_least],
            timeout=POLL_TIMEOUT_MS,
        )
    except playwright_sync.TimeoutError:
        charts = {name: chart_state(page, name) for name in CHARTS}
        banner = page.text_content("#error-banner") if page.is_visible("#error-banner") else ""
        pytest.fail(f"{chart}: not {at_least} points in time; charts {charts}; banner {banner!r}")


def chart_state(page: Any, chart: str) -> tuple[str, int]:
    figure = page.locator(f"#chart-{chart}")
    return figure.get_attribute("data-state"), int(figure.get_attribute("data-points") or 0)


def assert_real_time_axis(page: Any, chart: str, spans_at_least: int) -> None:
    """The time axis ends now and spans at least `spans_at_least` seconds (at most the ten
    minutes), its labels real clock times (not one midnight "00:00:00" after another)."""
    start, end, now = page.evaluate(
        "(name) => { const { min, max } = window.collabcacheDashboard.charts[name].plot.scales.x;"
        " return [min, max, Date.now() / 1000]; }",
        re.sub(r"-(\w)", lambda m: m[1].upper(), chart),  # hit-rate: charts.hitRate
    )
    assert abs(now - end) < 15 and spans_at_least <= end - start <= 660, (chart, start, end, now)
    labels = (page.get_attribute(f"#chart-{chart}", "data-time-ticks") or "").split()
    # Real clock times: not midnight over and over (a ten-minute window may hold a single
    # label, at a ten-minute boundary, when the axis ticks every ten minutes).
    assert labels and (len(set(labels)) > 1 or labels[0] != "00:00:00"), (chart, labels)
    assert all(re.fullmatch(r"\d\d:\d\d:\d\d", label) for label in labels), (chart, labels)


def test_charts_tables_and_readouts_fill_while_traffic_flows(
    page: Any, console: Console, traffic_stack: tuple[RealStack, Traffic]
) -> None:
    stack, traffic = traffic_stack
    page.goto(stack.url("metrics"))
    wait_for_points(page, "hit-rate", 3)  # three points (the past, then polls): a line
    wait_for_points(page, "invalidation-lag", 1)  # comments were posted and applied

    for chart in CHARTS:
        state, points = chart_state(page, chart)
        assert (state, points > 0) == ("live", True), (chart, state, points)
        assert page.locator(f"#chart-{chart} .chart-empty").is_hidden(), chart
    # The hit-rate line (#16a34a) and the p50 latency line (#2563eb) are drawn on the canvas.
    assert drawn_pixels(page, "chart-hit-rate", HIT_RATE_COLOR) > 10
    assert drawn_pixels(page, "chart-latency", P50_COLOR) > 10

    assert re.fullmatch(r"\d{1,3}\.\d%", page.text_content("#readout-hit-rate .value") or "")
    assert re.fullmatch(r"[\d.]+ m?s", page.text_content("#readout-latency .value") or "")
    endpoints = page.locator("#top-endpoints tbody td.endpoint").all_text_contents()
    assert endpoints, "the top-endpoint table is empty"
    assert all(ENDPOINT_TEMPLATE.match(e) for e in endpoints), endpoints
    assert "/api/organizations/{org_id}/members" in endpoints  # one the traffic reads
    assert page.locator("#top-endpoints-empty").is_hidden()
    outcomes = page.locator("#recent-activity .outcome").all_text_contents()
    assert outcomes and set(outcomes) <= {"HIT", "MISS", "STALE", "BYPASS"}, outcomes
    assert page.get_attribute("#status-pill", "data-status") == "live"
    assert page.locator("#error-banner").is_hidden()

    if UPDATE_SCREENSHOT:
        page.wait_for_timeout(SCREENSHOT_HISTORY_SECONDS * 1000)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert console.errors == []
    assert traffic.error is None, traffic.error
    assert set(traffic.statuses) <= {200, 201}, (traffic.statuses, stack.output)


def test_a_page_opened_after_traffic_draws_the_past_on_its_first_paint(
    page: Any, console: Console, metrics_after_traffic: str
) -> None:
    page.goto(metrics_after_traffic)
    try:
        page.wait_for_function(
            "(ids) => ids.every((id) => Number(document.getElementById(id).dataset.points) > 1)",
            arg=[f"chart-{chart}" for chart in HISTORY_CHARTS],
            timeout=FIRST_PAINT_MS,
        )
    except playwright_sync.TimeoutError:
        charts = {chart: chart_state(page, chart) for chart in CHARTS}
        pytest.fail(f"the past is not drawn within {FIRST_PAINT_MS} ms of loading: {charts}")

    assert chart_state(page, "redis-memory") == ("live", 1)  # still the first /stats answer
    for chart in HISTORY_CHARTS:
        assert chart_state(page, chart)[0] == "live", chart
        assert page.locator(f"#chart-{chart} .chart-empty").is_hidden(), chart
        assert_real_time_axis(page, chart, spans_at_least=8 * 60)
    # A point every 5 s over the last four minutes, one a minute before: each with lookups.
    assert chart_state(page, "hit-rate")[1] >= 50
    assert drawn_pixels(page, "chart-hit-rate", HIT_RATE_COLOR) > 10
    assert drawn_pixels(page, "chart-latency", P50_COLOR) > 10
    assert console.errors == []


def test_an_idle_system_says_no_traffic_yet(page: Any, console: Console, fake: Any) -> None:
    url, stats = fake
    stats.mode = "idle"
    page.goto(url)
    wait_for_points(page, "redis-memory", 1)  # a snapshot arrived and was rendered

    for chart in TRAFFIC_CHARTS:
        assert chart_state(page, chart) == ("empty", 0), chart
        overlay = page.locator(f"#chart-{chart} .chart-empty")
        assert overlay.is_visible() and overlay.text_content() == "No traffic yet", chart
    assert chart_state(page, "invalidation-lag") == ("empty", 0)
    for chart in CHARTS:
        assert_real_time_axis(page, chart, spans_at_least=60)
    assert drawn_pixels(page, "chart-hit-rate", HIT_RATE_COLOR) == 0
    assert drawn_pixels(page, "chart-latency", P50_COLOR) == 0
    assert page.text_content("#readout-hit-rate .value") == "—"
    assert page.locator("#top-endpoints-empty").is_visible()
    assert page.locator("#recent-activity-empty").is_visible()
    assert page.get_attribute("#status-pill", "data-status") == "waiting"
    assert console.errors == []


def test_a_failing_stats_endpoint_raises_the_banner_until_it_recovers(
    page: Any, console: Console, fake: Any
) -> None:
    url, stats = fake
    page.goto(url)
    wait_for_points(page, "hit-rate", 1)
    points_before = chart_state(page, "hit-rate")[1]

    stats.mode = "failing"
    banner = page.locator("#error-banner")
    banner.wait_for(state="visible", timeout=POLL_TIMEOUT_MS)
    assert "HTTP 503" in banner.text_content()
    assert page.get_attribute("#status-pill", "data-status") == "error"
    assert chart_state(page, "hit-rate")[1] >= points_before, "history was lost"

    stats.mode = "traffic"
    banner.wait_for(state="hidden", timeout=POLL_TIMEOUT_MS)
    assert page.get_attribute("#status-pill", "data-status") == "live"
    assert [e for e in console.errors if "status of 503" not in e] == []


def test_the_token_in_the_url_fragment_opens_a_guarded_service(
    page: Any, console: Console, guarded_metrics: str
) -> None:
    url = guarded_metrics
    page.goto(f"{url}/#token={quote(METRICS_TOKEN, safe='')}")
    wait_for_points(page, "redis-memory", 1)  # /stats answered with the token
    assert page.url == f"{url}/", "the token stays in the address bar"
    page.reload()  # the token is kept for the tab (sessionStorage)
    wait_for_points(page, "redis-memory", 1)
    assert page.locator("#error-banner").is_hidden()

    for fragment, message in (("", "requires a token"), ("#token=wrong", "refused the token")):
        other = page.context.new_page()  # a new tab: its own, empty sessionStorage
        other_console = Console(other)
        other.goto(f"{url}/{fragment}")
        banner = other.locator("#error-banner")
        banner.wait_for(state="visible", timeout=POLL_TIMEOUT_MS)
        assert message in banner.text_content() and "/#token=" in banner.text_content()
        assert other.text_content("#status-pill") == "token needed"
        assert [e for e in other_console.errors if "status of 401" not in e] == []
        other.close()
    assert console.errors == []
