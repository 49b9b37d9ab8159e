"""The maps in a real browser: Debian's Chromium, offline, assets from npm copies."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from browser_support import CHROMIUM, NODE_MODULES, map_name, open_page
from conftest import run_plan, write_bundled_config
from playwright.sync_api import sync_playwright

from outreach_routes.schedule import position_at, route_track

pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and NODE_MODULES.is_dir()) and not os.environ.get("CI"),
    reason="needs Debian's chromium and assets/node_modules (`make test` installs both)",
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
        "overview_phone": (plan_dir / "index.html", 390, 844),
        "sheet_phone": (plan_dir / "teams" / f"{slug}-sheet.html", 390, 844),
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
                "overflow_x": page.evaluate(
                    "() => document.documentElement.scrollWidth - window.innerWidth"
                ),
                "over_title": page.evaluate(_CONTROLS_OVER_TITLE),
            }
            browser.close()
    return results


def test_pages_load_without_script_errors(browser_pages):
    for name, result in browser_pages.items():
        assert result["report"].errors == [], name
        if name != "sheet_phone":  # the sheet is a plain page, with no map
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


def each_team_night(plan_dir: Path, plan_json: dict, script: str, **size) -> list[tuple]:
    """``(slug, night, result)`` of ``script`` run in every team map after its night's button is
    pressed, every night of every team; no page logs a script error."""
    results = []
    with sync_playwright() as p:
        for slug in dict.fromkeys(r["slug"] for r in plan_json["teams"]):
            browser, page, report = open_page(p, plan_dir / "teams" / f"{slug}.html", **size)
            buttons = page.locator(".night-picker button")
            for night in range(buttons.count()):
                buttons.nth(night).click()
                results.append((slug, night, page.evaluate(script)))
            assert report.errors == [], slug
            browser.close()
    return results


def test_maps_open_on_their_routes_without_a_zoom_animation(plan_dir: Path, plan_json: dict):
    """The overview and a team map open already framed: no animated zoom runs while the page
    loads (one did, from folium's first view, for a quarter second, and a night picked in that
    time had its stop numbers placed on moving markers)."""
    watch = """window.zoomAnimations = 0;
    new MutationObserver(changes => changes.forEach(c => {
        if (c.target.classList.contains("leaflet-zoom-anim")) window.zoomAnimations += 1;
    })).observe(document, {subtree: true, attributes: true, attributeFilter: ["class"]});"""
    slug = plan_json["teams"][0]["slug"]
    with sync_playwright() as p:
        for path in (plan_dir / "index.html", plan_dir / "teams" / f"{slug}.html"):
            browser, page, report = open_page(p, path, init_script=watch)
            assert page.evaluate("window.zoomAnimations") == 0, path.name
            # The watch does see a zoom animation: the reader's own zoom still has one.
            page.evaluate(f"{map_name(path)}.zoomIn()")
            page.wait_for_function("window.zoomAnimations > 0")
            browser.close()


def test_direction_arrows_never_cover_a_stop_number(plan_dir: Path, plan_json: dict):
    """Every night of every team map: where a direction arrow overlaps a stop's number, the
    number is drawn over the arrow (Leaflet stacks markers by latitude unless told)."""
    nights = each_team_night(
        plan_dir,
        plan_json,
        """() => {
            const z = e => Number(getComputedStyle(e).zIndex);
            const meet = (a, b) => a.left < b.right && b.left < a.right &&
                a.top < b.bottom && b.top < a.bottom;
            const arrows = [...document.querySelectorAll('.route-arrow')];
            return [...document.querySelectorAll('.stop-icon, .base-icon')]
                .flatMap(stop => arrows
                    .filter(a => meet(a.getBoundingClientRect(), stop.getBoundingClientRect()))
                    .map(a => [z(a), z(stop)]));
        }""",
    )
    overlaps = sum(len(pairs) for _, _, pairs in nights)
    covered = [(s, n) for s, n, pairs in nights for arrow, stop in pairs if arrow >= stop]
    assert overlaps > 0  # the bundled week has arrows beside stops: the check looked at some
    assert covered == []


@pytest.mark.parametrize("width", [1280, 390])
def test_every_stop_number_is_readable_on_every_night(plan_dir: Path, plan_json: dict, width):
    """No number covers another or the base's B, on a desktop and on a phone, even where two
    stops are corners a few metres apart (Team 12 Southwest's Monday has two such)."""
    nights = each_team_night(
        plan_dir,
        plan_json,
        """() => [...document.querySelectorAll('.stop-number')].map(e => {
            const r = e.getBoundingClientRect();
            return [e.textContent, r.left, r.top, r.right, r.bottom];
        })""",
        width=width,
        height=844,
    )
    clashes = []
    for slug, night, labels in nights:
        for i, (a, *ra) in enumerate(labels):
            for b, *rb in labels[i + 1 :]:
                overlap_x = min(ra[2], rb[2]) - max(ra[0], rb[0])
                overlap_y = min(ra[3], rb[3]) - max(ra[1], rb[1])
                if overlap_x > 2 and overlap_y > 2:
                    clashes.append((slug, night, a, b))
    assert sum(len(labels) for _, _, labels in nights) > 100
    assert clashes == []


# The visible map controls (legend, zoom, layers) whose box overlaps the title box's.
_CONTROLS_OVER_TITLE = """() => {
  const title = document.querySelector('.plan-title');
  if (!title) return [];
  const t = title.getBoundingClientRect();
  return [...document.querySelectorAll('.leaflet-control')]
    .filter(c => !c.contains(title) && c.offsetParent !== null)
    .filter(c => { const r = c.getBoundingClientRect();
                   return r.width > 0 && r.left < t.right && r.right > t.left
                          && r.top < t.bottom && r.bottom > t.top; })
    .map(c => c.className);
}"""


def test_nothing_lies_over_the_overviews_title(browser_pages):
    """On a phone the risk colour bar lay across the title box (seen in Portland, #33)."""
    assert browser_pages["overview"]["over_title"] == []
    assert browser_pages["overview_phone"]["over_title"] == []


def test_phone_pages_do_not_scroll_sideways(browser_pages):
    assert browser_pages["team"]["overflow_x"] <= 0
    assert browser_pages["overview_phone"]["overflow_x"] <= 0
    # The sheet's six columns ran 90 px past a phone's screen: each stop is a block there now.
    assert browser_pages["sheet_phone"]["overflow_x"] <= 0
    assert browser_pages["overview_phone"]["report"].errors == []


def test_night_buttons_switch_the_team_map(plan_dir: Path, plan_json: dict):
    slug = plan_json["teams"][0]["slug"]
    routes = [r for r in plan_json["teams"] if r["slug"] == slug]
    with sync_playwright() as p:
        browser, page, report = open_page(p, plan_dir / "teams" / f"{slug}.html", width=390)
        buttons = page.locator(".night-picker button")
        assert buttons.count() == len(routes)
        for night in (1, len(routes) - 1):
            buttons.nth(night).click()
            # The chosen night's numbered stops, and the base.
            assert page.locator(".stop-number").count() == len(routes[night]["stops"]) - 1
            assert buttons.nth(night).get_attribute("aria-pressed") == "true"
            assert buttons.nth(0).get_attribute("aria-pressed") == "false"
        browser.close()
    assert report.errors == []


def test_time_slider_puts_each_team_where_the_plan_does(plan_dir: Path, plan_json: dict):
    """Move the slider; each team's dot sits on the screen where the schedule puts the team."""
    path = plan_dir / "index.html"
    name = map_name(path)
    first = dt_seconds(plan_json["teams"][0]["shift_start"])
    with sync_playwright() as p:
        browser, page, report = open_page(p, path, width=1280, height=900)
        for tick in (30, 47):  # 20:30 and 21:55 on the first night (5-minute steps)
            page.eval_on_selector(
                "#plan-time",
                f"e => {{ e.value = {tick}; e.dispatchEvent(new Event('input')); }}",
            )
            when = first + tick * 300
            dots = page.eval_on_selector_all(
                ".team-marker",
                "els => els.map(e => { const r = e.getBoundingClientRect();"
                " return [r.x + r.width / 2, r.y + r.height / 2]; })",
            )
            expected = []
            for route in plan_json["teams"]:
                position = position_at(route_track(route), when)
                if position is not None:
                    lon, lat = position
                    expected.append(
                        page.evaluate(
                            f"() => {{ const p = {name}.latLngToContainerPoint([{lat}, {lon}]);"
                            " const m = document.getElementById("
                            f"'{name}').getBoundingClientRect(); return [p.x + m.x, p.y + m.y]; }}"
                        )
                    )
            assert len(dots) == len(expected) == len({r["slug"] for r in plan_json["teams"]})
            for x, y in expected:
                assert min(np.hypot(x - dx, y - dy) for dx, dy in dots) < 2
            statuses = page.inner_text("#plan-time-teams")
            assert statuses.count("at stop") + statuses.count("walking") == len(expected)
        page.eval_on_selector(
            "#plan-time", "e => { e.value = e.max; e.dispatchEvent(new Event('input')); }"
        )
        # The last minute of the last shift: every team is back at its base, still on shift.
        assert page.locator(".team-marker").count() == len(expected)
        assert page.inner_text("#plan-time-teams").count("back at base") == len(expected)
        browser.close()
    assert report.errors == []


def dt_seconds(stamp: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(stamp).timestamp()


HOSTILE = ["<img src=x onerror=alert(1)>", "</script><script>alert(2)</script>"]


@pytest.fixture(scope="module")
def hostile_offline_plan(tmp_path_factory) -> Path:
    """An offline plan whose team name, contact line and request notes are attacks."""
    folder = tmp_path_factory.mktemp("hostile")
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {
                "request_id": f"X{i}",
                "priority": 5,
                "requester": HOSTILE[1 - i],
                "note": HOSTILE[i],
                "valid_from": "2022-12-01",
                "valid_to": "2023-02-28",
            },
        }
        for i, (lon, lat) in enumerate([(-75.1300, 40.0080), (-75.1280, 40.0060)])
    ]
    requests = folder / "requests.geojson"
    requests.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    config = write_bundled_config(
        folder,
        **{
            'contact = "Team lead line 215-555-0125"': f"contact = {json.dumps(HOSTILE[1])}",
            f'"{ROOT_DATA / "requests.geojson"}"': json.dumps(str(requests)),
        },
    )
    text = config.read_text("utf-8").replace("Team 25 Fairhill", f"Team 25 {HOSTILE[0]}")
    config.write_text(text, "utf-8")
    return run_plan(config, folder / "out", "--offline")


ROOT_DATA = Path(__file__).resolve().parents[1] / "data" / "philadelphia"


def test_offline_maps_open_with_every_request_blocked(hostile_offline_plan: Path):
    plan = json.loads((hostile_offline_plan / "plan.json").read_text("utf-8"))
    slug = plan["teams"][0]["slug"]
    pages = [hostile_offline_plan / "index.html", hostile_offline_plan / "teams" / f"{slug}.html"]
    with sync_playwright() as p:
        for path in pages:
            browser, page, report = open_page(p, path, block_all=True)
            strokes = page.eval_on_selector_all(
                ".leaflet-overlay-pane path", "els => els.map(e => e.getAttribute('stroke'))"
            )
            tiles = page.locator(".leaflet-tile").count()
            browser.close()
            assert report.errors == [] and report.blocked == [], path.name
            assert tiles == 0  # no tile layer at all
            assert "#9a9a9a" in strokes  # the street network is the base layer
            assert "#1f77b4" in strokes  # and the first team's route is drawn on it


def test_outside_text_shows_as_text_and_runs_nothing(hostile_offline_plan: Path):
    plan = json.loads((hostile_offline_plan / "plan.json").read_text("utf-8"))
    slug = plan["teams"][0]["slug"]
    folder = hostile_offline_plan
    pages = [folder / "index.html", folder / "teams" / f"{slug}.html"]
    pages.append(folder / "teams" / f"{slug}-sheet.html")
    with sync_playwright() as p:
        for path in pages:
            browser, page, report = open_page(p, path, block_all=True)
            if path.name.endswith("-sheet.html"):
                text = page.inner_text("body")
            else:
                # Open every popup and tooltip the map has, as a coordinator clicking around.
                text = page.evaluate(
                    f"""() => {{
                    const seen = [];
                    {map_name(path)}.eachLayer(layer => {{
                      for (const kind of ["Popup", "Tooltip"]) {{
                        const item = layer["get" + kind] && layer["get" + kind]();
                        if (item) {{
                          layer["open" + kind]();
                          const el = item.getElement();
                          if (el) seen.push(el.innerText);
                        }}
                      }}
                    }});
                    return seen.join("\\n") + "\\n" + document.body.innerText;
                  }}"""
                )
            page.wait_for_timeout(200)
            browser.close()
            assert report.dialogs == [], path.name
            assert report.errors == [], path.name
            assert report.blocked == [], path.name  # not even the <img src=x>
            assert HOSTILE[0] in text, path.name
            assert HOSTILE[1] in text, path.name


def test_offline_maps_are_small(hostile_offline_plan: Path):
    """Only Leaflet and jQuery (folium's popups) are inlined: no Bootstrap or Font Awesome."""
    teams = list((hostile_offline_plan / "teams").glob("*.html"))
    maps = [p for p in teams if not p.name.endswith("-sheet.html")]
    assert max(p.stat().st_size for p in maps) < 1_000_000
    overview = hostile_offline_plan / "index.html"
    assert overview.stat().st_size < 2_500_000
    page = overview.read_text("utf-8")
    assert "Bootstrap" not in page and "Font Awesome" not in page


def test_online_map_says_when_leaflet_cannot_load(plan_dir: Path):
    with sync_playwright() as p:
        browser, page, _ = open_page(p, plan_dir / "index.html", block_all=True)
        page.wait_for_timeout(300)
        note = page.locator(".no-map")
        shown, text = note.is_visible(), note.inner_text()
        browser.close()
    assert shown
    assert "plan --offline" in text
