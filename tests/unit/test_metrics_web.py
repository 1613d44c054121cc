"""The metrics service's HTTP side without Redis: the dashboard's files at `/` and
`/static/...` (and nothing outside their directory), and what the consumers do with a batch
whose transaction fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from collabcache_metrics import main as metrics_main
from collabcache_metrics.web import STATIC_DIR, StaticFiles
from collabcache_shared.settings import RedisSettings

UNREACHABLE_REDIS = RedisSettings(url="redis://127.0.0.1:1/0")


async def request(app: Any, path: str, method: str = "GET") -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://metrics") as client:
        return await client.request(method, path)


@pytest.fixture
def app() -> Any:
    return metrics_main.create_app(UNREACHABLE_REDIS)


async def test_the_dashboard_page_is_served_at_the_root(app: Any) -> None:
    response = await request(app, "/")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    index = STATIC_DIR / "index.html"
    if index.exists():
        assert response.content == index.read_bytes()


async def test_files_under_static_are_served_with_their_type(app: Any) -> None:
    files = [p for p in STATIC_DIR.rglob("*") if p.is_file()]
    if not files:
        pytest.skip("no dashboard files yet")
    for path in files:
        relative = path.relative_to(STATIC_DIR).as_posix()
        response = await request(app, f"/static/{relative}")
        assert response.status_code == 200, relative
        assert response.content == path.read_bytes(), relative
        if path.suffix == ".js":
            assert response.headers["content-type"].startswith("text/javascript")
        head = await request(app, f"/static/{relative}", method="HEAD")
        assert (head.status_code, head.content) == (200, b"")
        assert head.headers["content-length"] == str(len(path.read_bytes()))


@pytest.mark.parametrize(
    "path", ["/static/nope.js", "/static/", "/static/%2e%2e/main.py", "/static/..%2fmain.py"]
)
async def test_what_is_not_a_dashboard_file_is_404(app: Any, path: str) -> None:
    response = await request(app, path)

    assert response.status_code == 404


async def test_only_get_and_head_reach_the_files(app: Any) -> None:
    assert (await request(app, "/static/index.html", method="POST")).status_code == 405
    assert (await request(app, "/", method="DELETE")).status_code == 405


def test_nothing_outside_the_directory_is_ever_a_file(tmp_path: Path) -> None:
    (tmp_path / "inside.txt").write_text("in")
    (tmp_path.parent / "outside.txt").write_text("out")
    static = StaticFiles(tmp_path)

    assert static.file_for("inside.txt") == (tmp_path / "inside.txt").resolve()
    assert static.file_for("../outside.txt") is None
    assert static.file_for("/etc/passwd") is None
    assert static.file_for("") is None


async def test_stats_and_report_are_503_json_while_redis_is_unreachable() -> None:
    settings = RedisSettings(
        url="redis://127.0.0.1:1/0", socket_connect_timeout=0.05, retry_attempts=0
    )
    app = metrics_main.create_app(settings)

    for path in ("/stats", "/report"):
        response = await request(app, path)
        assert response.status_code == 503, path
        assert response.json()["detail"].startswith("the aggregates cannot be read")
    scrape = await request(app, "/metrics")
    assert scrape.status_code == 200
    assert "collabcache_metrics_aggregates_up 0.0" in scrape.text
