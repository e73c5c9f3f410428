"""/docs and /redoc work without internet access: their pages reference only the hub's own URLs,
and every asset they reference is served by the hub with a script or style content type."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from tests.live import LiveHub

# src=, href=, spec-url= (ReDoc) attributes and Swagger UI's ``url: '...'`` option.
_REFERENCE = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""")
_ANY_URL = re.compile(r"""https?://[^\s"'<>)]+""")
_ASSET_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


def _references(html: str) -> list[str]:
    return [a or b for a, b in _REFERENCE.findall(html)]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_load_everything_from_the_hub(live_hub: LiveHub, page: str) -> None:
    response = httpx.get(f"{live_hub.base_url}{page}", timeout=30)
    assert response.status_code == 200
    html = response.text
    hub_host = urlsplit(live_hub.base_url).netloc
    foreign = [u for u in _ANY_URL.findall(html) if urlsplit(u).netloc != hub_host]
    assert foreign == [], f"{page} references other hosts: {foreign}"
    assets = [r for r in _references(html) if r.rsplit(".", 1)[-1] in ("js", "css", "png")]
    scripts = [a for a in assets if a.endswith(".js")]
    assert scripts, f"{page} references no script"
    if page == "/docs":
        assert any(a.endswith(".css") for a in assets)
    for asset in assets:
        url = urljoin(f"{live_hub.base_url}{page}", asset)
        assert urlsplit(url).netloc == hub_host
        served = httpx.get(url, timeout=30)
        assert served.status_code == 200, asset
        expected = _ASSET_TYPES["." + asset.rsplit(".", 1)[-1]]
        assert expected in served.headers["content-type"], (asset, served.headers)
        assert len(served.content) > 1000  # the asset itself, not an error page
    openapi = [r for r in _references(html) if r.endswith("openapi.json")]
    assert openapi and httpx.get(urljoin(live_hub.base_url, openapi[0])).status_code == 200


def test_a_missing_asset_is_a_404(live_hub: LiveHub) -> None:
    response = httpx.get(f"{live_hub.base_url}/docs/static/nothing-here.js", timeout=30)
    assert response.status_code == 404
