"""The maps in a real browser: Debian's Chromium, offline, assets from npm copies."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from browser_support import CHROMIUM, NODE_MODULES, open_page
from playwright.sync_api import sync_playwright

pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and NODE_MODULES.is_dir()) and not os.environ.get("CI"),
    reason="needs Debian's chromium and tests/browser/node_modules (`make test` installs both)",
)


def hex_rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))


def pixels_near(png: Path, colour: str, tolerance: int = 40) -> int:
    from PIL import Image

    image = np.asarray(Image.open(png).convert("RGB")).astype(int)
    return int((np.abs(image - np.array(hex_rgb(colour))).sum(axis=2) < tolerance).sum())


@pytest.fixture(scope="module")
def browser_pages(plan_dir: Path, plan_json: dict, tmp_path_factory):
    """Screenshots and page facts of the overview and the first team's map."""
    shots = tmp_path_factory.mktemp("shots")
    slug = plan_json["teams"][0]["slug"]
    pages = {
        "overview": (plan_dir / "index.html", 1280, 900),
        "team": (plan_dir / "teams" / f"{slug}.html", 390, 844),
    }
    results = {}
    with sync_playwright() as p:
        for name, (path, width, height) in pages.items():
            browser, page, report = open_page(p, path, width=width, height=height)
            png = shots / f"{name}.png"
            page.screenshot(path=str(png))
            results[name] = {
                "report": report,
                "png": png,
                "paths": page.eval_on_selector_all(
                    ".leaflet-overlay-pane path", "els => els.map(e => e.getAttribute('stroke'))"
                ),
                "markers": page.locator(".stop-number").count(),
                "legend": page.locator(".legend").count(),
                "layers": page.locator(".leaflet-control-layers").count(),
                "viewport": page.eval_on_selector(
                    "meta[name=viewport]", "e => e.getAttribute('content')"
                ),
            }
            browser.close()
    return results


def test_pages_load_without_script_errors(browser_pages):
    for name, result in browser_pages.items():
        assert result["report"].errors == [], name
        # The map's own libraries came from npm copies, not from a CDN.
        assert any("leaflet.js" in url for url in result["report"].served_from_npm), name


def test_overview_draws_every_team_route(browser_pages, plan_json):
    from outreach_routes.render import TEAM_COLOURS

    overview = browser_pages["overview"]
    slugs = list(dict.fromkeys(r["slug"] for r in plan_json["teams"]))
    strokes = overview["paths"]
    for colour in TEAM_COLOURS[: len(slugs)]:
        assert colour in strokes, colour
        assert pixels_near(overview["png"], colour) > 50, colour
    assert overview["legend"] >= 1 and overview["layers"] == 1
    assert overview["markers"] == len(slugs)  # one base marker per team


def test_team_map_shows_numbered_stops_on_a_phone(browser_pages, plan_json):
    team = browser_pages["team"]
    first_night = plan_json["teams"][0]
    stops = len(first_night["stops"]) - 2
    assert team["markers"] == stops + 1  # numbered stops of the shown night, plus the base
    assert pixels_near(team["png"], "#1f77b4") > 100
    assert "width=device-width" in team["viewport"]
