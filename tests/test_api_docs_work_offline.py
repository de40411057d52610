"""The API's documentation pages (/docs, /redoc) load their scripts from the application, not a CDN: an
office network without the internet still shows them."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def test_the_docs_pages_load_their_scripts_from_the_application(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        html = client.get(page)
        assert html.status_code == 200, page
        assert "cdn.jsdelivr.net" not in html.text
        assert "unpkg.com" not in html.text
        scripts = re.findall(r'src="([^"]+\.js)"', html.text)
        assert scripts, page
        for script in scripts:
            assert script.startswith("/"), script
            served = client.get(script)
            assert served.status_code == 200, script
            assert len(served.content) > 100_000, script  # the whole bundle, not a stub
