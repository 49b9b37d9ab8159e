"""The dosage report (#18), on a real week of the bundled data: planned on its Monday,
re-planned on Wednesday night with response walks to the week's first shootings, check-ins sent
to a real service over HTTP, then `report`, whose figures are recomputed here from what was
sent."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest
from conftest import run_cli
from pyproj import Geod
from test_serve import Server, add_user

from outreach_routes._assets import assets_dir
from outreach_routes.service.maps import vendored

WEEK, MONDAY, NIGHT = "2022-W23", "2022-06-06", "2022-06-08"
TEAM = "Team 22 North Central"  # its Wednesday walks to Monday night's shooting
OFFSET = "-04:00"
NOW = f"{NIGHT}T22:40:00{OFFSET}"  # late in the shift: the taps sent are in the past
LATE_TEAM, LATE_TAP = "Team 24 Kensington", "2022-06-09T03:30:00-04:00"
REASON = "<b>police</b> activity"  # text from a phone: escaped on every page
GEOD = Geod(ellps="WGS84")


def _at(clock: str, night: str = NIGHT) -> str:
    return f"{night}T{clock}:00{OFFSET}"


@pytest.fixture(scope="module")
def reported(tmp_path_factory: pytest.TempPathFactory):
    runs = tmp_path_factory.mktemp("report") / "runs"
    for step in (["--week-of", MONDAY], ["--night", NIGHT]):
        result = run_cli("plan", "--runs-dir", str(runs), "--quiet", *step)
        assert result.returncode == 0, result.stderr
    token = add_user(runs, "t22", "team", TEAM)
    plan = json.loads((runs / WEEK / "plan.json").read_text("utf-8"))
    route = next(r for r in plan["teams"] if r["team"] == TEAM and r["night"] == NIGHT)
    first, second = [s for s in route["stops"] if s["kind"] == "hotspot"][:2]
    others = [s for s in route["stops"] if s["kind"] not in ("base", "response")]
    third = next(s for s in others if s not in (first, second))
    response = next(s for s in route["stops"] if s["kind"] == "response")
    sent = [
        {"status": "start", "tapped_at": _at("17:40"), "lat": 40.0, "lon": -75.15},  # early
        {"status": "arrived", "stop_id": first["stop_id"], "tapped_at": _at("18:10"),
         "lat": 40.01, "lon": -75.15},
        {"status": "left", "stop_id": first["stop_id"], "tapped_at": _at("18:32")},
        {"status": "arrived", "stop_id": second["stop_id"], "tapped_at": _at("18:50"),
         "lat": 40.01, "lon": -75.16},
        {"status": "skipped", "stop_id": third["stop_id"], "tapped_at": _at("19:30"),
         "reason": REASON},
        {"status": "arrived", "stop_id": response["stop_id"], "tapped_at": _at("20:30")},
    ]  # fmt: skip
    dispatch = add_user(runs, "desk", "dispatch")
    server = Server(runs, now=NOW)
    server.start()
    try:
        for i, body in enumerate(sent):
            body = {"client_id": f"c{i}", "team": TEAM, "night": NIGHT, **body}
            status, _, answer = server.call("/api/checkins", token=token, body=body)
            assert status == 201, answer
        # Dispatch asks for a team at a scene at 22:40; the team says it is on its way at 22:52.
        near = f"{first['lat']},{first['lon']}"
        asked = {"near": near, "asked_by": "dispatch", "note": "x"}
        status, _, scene = server.call("/api/scene-requests", token=dispatch, body=asked)
        assert status == 201, scene
        body = {"client_id": "scene", "team": TEAM, "night": NIGHT, "status": "responding",
                "tapped_at": _at("22:52"), "scene_request_id": scene["id"]}  # fmt: skip
        status, _, answer = server.call("/api/checkins", token=token, body=body)
        assert status == 201, answer
    finally:
        server.stop()
    # Kensington reaches its response walk after the shift, past the 72 h window: late.
    late_stop = next(
        s for r in plan["teams"] if r["team"] == LATE_TEAM and r["night"] == NIGHT
        for s in r["stops"] if s["kind"] == "response"
    )  # fmt: skip
    late_body = {"client_id": "late", "team": LATE_TEAM, "night": NIGHT, "status": "arrived",
                 "stop_id": late_stop["stop_id"], "tapped_at": LATE_TAP}  # fmt: skip
    server = Server(runs, now=LATE_TAP)
    server.start()
    try:
        late_token = add_user(runs, "t24", "team", LATE_TEAM)
        status, _, answer = server.call("/api/checkins", token=late_token, body=late_body)
        assert status == 201, answer
    finally:
        server.stop()
    # A row from another plan's database: a team this plan does not have.
    with sqlite3.connect(runs / "service.sqlite3") as db:
        db.execute(
            "INSERT INTO checkins (client_id, team, night, stop_id, status, tapped_at, "
            "tapped_utc, received_at, late, user) VALUES ('x', 'Team 99 Gone', ?, NULL, "
            "'start', ?, ?, ?, 0, 'old')",
            (NIGHT, _at("18:00"), "2022-06-08T22:00:00+00:00", "2022-06-08T22:00:00+00:00"),
        )
    result = run_cli("report", "--runs-dir", str(runs), "--week", WEEK)
    assert result.returncode == 0, result.stderr
    report = json.loads((runs / "reports" / WEEK / "report.json").read_text("utf-8"))
    page = (runs / "reports" / WEEK / "report.html").read_text("utf-8")
    extra = {"page": page, "runs": runs, "token": token}
    return plan, route, (first, second, third, response), sent, report | extra


def test_counts_per_team_and_night(reported):
    plan, route, _stops, _sent, report = reported
    night = next(n for n in report["nights"] if n["team"] == TEAM and n["night"] == NIGHT)
    planned = sum(s["kind"] != "base" for s in route["stops"])
    assert night["planned"] == planned
    # Done: arrived and left; arrived only; the response walk. Skipped: one.
    assert (night["done"], night["skipped"]) == (3, 1)
    assert night["not_reported"] == planned - 4
    assert night["skip_reasons"] == {REASON: 1}
    late = next(n for n in report["nights"] if (n["team"], n["night"]) == (LATE_TEAM, NIGHT))
    assert (late["done"], late["not_reported"]) == (1, late["planned"] - 1)
    # Every other team and night sent nothing: all its stops are "not reported".
    reported_nights = {(TEAM, NIGHT), (LATE_TEAM, NIGHT)}
    others = [n for n in report["nights"] if (n["team"], n["night"]) not in reported_nights]
    assert len(others) == len(plan["teams"]) - 2
    assert all(not n["reported"] and n["not_reported"] == n["planned"] for n in others)
    assert report["totals"]["done"] == 4 and report["totals"]["skipped"] == 1


def test_presence_is_arrived_to_left_or_the_planned_dwell(reported):
    plan, _route, (first, second, *_others), _sent, report = reported

    def dwell(stop) -> float:
        span = dt.datetime.fromisoformat(stop["depart"]) - dt.datetime.fromisoformat(stop["arrive"])
        return span.total_seconds() / 60

    expected: dict[str, float] = {}
    for stop, minutes in ((first, 22.0), (second, dwell(second))):
        for source in stop["sources"]:
            if source.startswith("H"):
                expected[source] = expected.get(source, 0.0) + minutes
    checked = {h["hotspot_id"]: h["checked_in_min"] for h in report["hotspots"]}
    for hotspot, minutes in expected.items():
        assert checked[hotspot] == pytest.approx(minutes, abs=0.05)
    assert sum(checked.values()) == pytest.approx(sum(expected.values()), abs=0.1)
    planned = {h["hotspot_id"]: h["planned_min"] for h in report["hotspots"]}
    assert planned == pytest.approx(plan["hotspot_presence_min"], abs=0.05)


def test_km_between_shared_positions_and_problems_counted(reported):
    _plan, _route, _stops, sent, report = reported
    night = next(n for n in report["nights"] if n["team"] == TEAM and n["night"] == NIGHT)
    shared = [(b["lon"], b["lat"]) for b in sent if "lat" in b]
    lons, lats = zip(*shared, strict=True)
    metres = GEOD.line_length(lons, lats)
    assert night["km_walked"] == pytest.approx(metres / 1000, rel=0.005)
    assert report["problems"] == {
        "tapped outside the shift (check the phone's clock)": 2,  # early start, late walk
        "team not in this plan (another plan's database, or a removed team)": 1,
    }


def test_a_week_with_no_plan_or_no_database_is_one_clear_line(tmp_path: Path):
    result = run_cli("report", "--runs-dir", str(tmp_path), "--week", WEEK)
    assert result.returncode == 2
    assert f"no plan.json for {WEEK}" in result.stderr and "Traceback" not in result.stderr
    result = run_cli("report", "--runs-dir", str(tmp_path), "--week", "2023-1")
    assert result.returncode == 2 and "ISO week" in result.stderr


def test_shootings_in_territories_against_where_teams_said_they_were(reported):
    from outreach_routes.report import dosage

    plan_json, route, *_rest = reported
    stop = next(s for s in route["stops"] if s["kind"] != "base")
    tapped = dt.datetime.fromisoformat(_at("18:30"))
    row = {"client_id": "a", "team": TEAM, "night": NIGHT, "stop_id": stop["stop_id"],
           "status": "arrived", "tapped_at": tapped.isoformat(), "reason": None, "lat": None,
           "lon": None, "scene_request_id": None,
           "tapped_utc": tapped.astimezone(dt.UTC).isoformat()}  # fmt: skip
    near = {"lon": stop["lon"] + 0.001, "lat": stop["lat"]}  # about 85 m east of the stop
    far = {"lon": stop["lon"] + 0.003, "lat": stop["lat"]}  # about 255 m
    shootings = [
        {"incident_id": "after", "occurred_at": _at("23:50"), **near},
        {"incident_id": "before", "occurred_at": _at("12:00"), **near},
        {"incident_id": "days later", "occurred_at": (tapped + dt.timedelta(hours=80)).isoformat(),
         **near},
        {"incident_id": "too far", "occurred_at": _at("23:50"), **far},
        {"incident_id": "outside", "occurred_at": _at("23:50"), "lon": -75.9, "lat": 39.5},
    ]  # fmt: skip
    report = dosage(plan_json, [row], [], shootings)
    flags = {s["incident_id"]: (s["team_before"], s["team_after"]) for s in report["shootings"]}
    assert flags == {
        "after": (True, False),  # the team was there 5 h 20 min before it
        "before": (False, True),
        "days later": (False, False),  # 80 h after: outside the 72 h window
        "too far": (False, False),
    }  # "outside" is in no territory: not in the report


def test_the_page_escapes_what_phones_sent_and_shows_no_victim_attributes(reported):
    *_rest, report = reported
    page = report["page"]
    assert REASON not in page and "&lt;b&gt;police&lt;/b&gt; activity" in page
    assert "Stops per team and night" in page and "Minutes at each hotspot" in page
    for word in ("race", "sex", "age", "victim"):
        assert f'"{word}"' not in page and f"{word}:" not in page.lower()


def test_the_service_gives_the_report_to_coordinators_only(reported):
    *_rest, report = reported
    runs = report["runs"]
    coordinator = add_user(runs, "coord", "coordinator")
    dispatch = add_user(runs, "disp", "dispatch")
    server = Server(runs, now=NOW)  # (a later clock would clear these check-ins: retention)
    server.start()
    try:
        for name in ("report.html", "report.json"):
            path = f"/reports/{WEEK}/{name}"
            status, _, body = server.call(path, token=coordinator)
            assert status == 200
            expected = (runs / "reports" / WEEK / name).read_text("utf-8")
            if name.endswith(".html"):  # its map's libraries from the service, not a CDN
                expected = vendored(expected, assets_dir())
                assert "https://cdn" not in body and "/vendor/leaflet/" in body
            assert body == (json.loads(expected) if name.endswith(".json") else expected)
            assert server.call(path, token=dispatch)[0] == 403
            assert server.call(path, token=report["token"])[0] == 403  # a team account
            assert server.call(path)[0] == 401
        for path in (
            f"/reports/{WEEK}/plan.json",
            f"/reports/..%2F{WEEK}/report.html",
            f"/reports/{WEEK}/..%2F..%2Fservice.sqlite3",
            "/reports/2022-W24/report.html",
        ):
            assert server.call(path, token=coordinator)[0] == 404, path
    finally:
        server.stop()


def test_next_weeks_plan_raises_the_stops_not_done(reported):
    import geopandas as gpd
    import pandas as pd

    from outreach_routes.report import missed_last_week

    plan, route, (first, second, third, _response), _sent, report = reported
    runs = report["runs"]
    result = run_cli("plan", "--runs-dir", str(runs), "--week-of", "2022-06-13", "--quiet")
    assert result.returncode == 0, result.stderr
    after = json.loads((runs / "2022-W24" / "plan.json").read_text("utf-8"))
    raised = {(r["team"], r["stop_id"]): r["why"] for r in after["followup"]}
    # Done on Wednesday: not raised, though other nights of the week sent nothing.
    assert (TEAM, first["stop_id"]) not in raised and (TEAM, second["stop_id"]) not in raised
    # The skipped stop counts as not visited, with its reason; it is raised where this week's
    # stops still have its corner (the hotspots move with the new week's data).
    missed: dict[tuple[str, str], list[str]] = {}
    for m in missed_last_week(runs, pd.Timestamp("2022-06-13", tz="America/New_York")):
        missed.setdefault((m["team"], m["stop_id"]), []).append(m["why"])
    assert REASON in missed[(TEAM, third["stop_id"])]  # and "not reported" on other nights
    assert (TEAM, first["stop_id"]) not in missed and (TEAM, second["stop_id"]) not in missed
    if (TEAM, third["stop_id"]) in raised:
        assert REASON in raised[(TEAM, third["stop_id"])]

    # Every stop raised was last week's by its id, or stands where one of last week's stood (a
    # response walk not reported raises the corner it was at).
    def place(stop) -> tuple:
        return round(stop["lat"], 5), round(stop["lon"], 5)

    before = {(r["team"], s["stop_id"]) for r in plan["teams"] for s in r["stops"]}
    places = {(r["team"], place(s)) for r in plan["teams"] for s in r["stops"]}
    now = {(r["team"], s["stop_id"]): place(s) for r in after["teams"] for s in r["stops"]}
    # A raised stop no route walks this week stands where the week's candidate stops put it.
    candidates = gpd.read_parquet(runs / "2022-W24" / "state" / "stops.parquet").to_crs(4326)
    for team, stop_id, point in zip(
        candidates["team"], candidates["stop_id"], candidates.geometry, strict=True
    ):
        at = {"lat": round(point.y, 6), "lon": round(point.x, 6)}  # as plan.json rounds them
        now.setdefault((team, stop_id), place(at))
    assert raised
    for key in raised:
        assert key in before or (key[0], now.get(key)) in places, key


def test_boost_missed_matches_by_id_or_place_within_the_team():
    import geopandas as gpd
    from shapely import Point

    from outreach_routes.stops import boost_missed

    stops = gpd.GeoDataFrame(
        {"team": ["A", "A", "A", "B"], "stop_id": ["a-1", "a-2", "a-3", "b-1"],
         "corner": ["1st & Main", None, None, "1st & Main"], "prize": [10.0, 20.0, 30.0, 40.0]},
        geometry=[Point(-75.15, 40.0), Point(-75.16, 40.01), Point(-75.17, 40.02),
                  Point(-75.15, 40.0)],
        crs=4326,
    ).to_crs(2272)  # fmt: skip
    missed = [
        {"team": "A", "stop_id": "a-1-2", "lat": 39.0, "lon": -75.0, "why": "not reported"},
        {"team": "A", "stop_id": "old-id", "lat": 40.01, "lon": -75.16, "why": "weather"},
        {"team": "A", "stop_id": "a-9", "lat": 40.0, "lon": -75.15, "why": "police activity",
         "weeks": 4},
    ]  # fmt: skip
    raised, records = boost_missed(stops, missed, 0.5)
    assert list(raised["prize"]) == [15.0, 30.0, 30.0, 40.0]  # B's corner is B's, not A's
    assert records == [
        {"team": "A", "stop_id": "a-1", "corner": "1st & Main", "lat": 40.0, "lon": -75.15,
         "why": ["not reported", "police activity"], "weeks": 4},
        {"team": "A", "stop_id": "a-2", "corner": None, "lat": 40.01, "lon": -75.16,
         "why": ["weather"], "weeks": 1},
    ]  # fmt: skip
    assert list(stops["prize"]) == [10.0, 20.0, 30.0, 40.0]  # the input is not changed


def _week(done: list[int], responses: list[list[bool]]) -> tuple[dict, dict]:
    teams = [f"T{i}" for i in range(len(done))]
    plan = {"city": "C", "week_of": "2022-06-06", "territories": {"features": []},
            "teams": [{"team": t} for t in teams]}  # fmt: skip
    figures = {
        "nights": [
            {"team": t, "done": d, "presence_min": 12.0 * d}
            for t, d in zip(teams, done, strict=True)
        ],
        "response_stops": [
            {"team": t, "within_window": w}
            for t, ws in zip(teams, responses, strict=True)
            for w in ws
        ],
    }
    return plan, figures


def test_public_counts_under_three_are_suppressed_and_totals_give_none_away():
    from outreach_routes.report import public_summary

    week = public_summary([_week([2, 10, 12], [[True] * 3, [True, False], []])])["weeks"][0]
    rows = {r["territory"]: r for r in week["territories"]}
    assert rows["T0"]["stops_done"] is None and rows["T0"]["presence_hours"] is None
    assert rows["T1"]["stops_done"] is None  # the next smallest, or 24 - 12 - 10 gives T0 away
    assert rows["T2"] == {"territory": "T2", "stops_done": 12, "presence_hours": 2.4,
                          "response_rate": None}  # fmt: skip
    assert week["total"] == {"stops_done": 24, "presence_hours": 4.8}
    assert rows["T0"]["response_rate"] == 1.0  # three response walks: enough to give a rate
    assert rows["T1"]["response_rate"] is None  # two: too few
    # Two small ones hide each other: no third is needed.
    week = public_summary([_week([2, 1, 10], [[], [], []])])["weeks"][0]
    assert [r["stops_done"] for r in week["territories"]] == [None, None, 10]
    week = public_summary([_week([1, 1], [[], []])])["weeks"][0]
    assert week["total"] == {"stops_done": None, "presence_hours": None}


def test_public_files_hold_territory_vertices_and_no_free_text(reported, monkeypatch):
    import re

    plan, route, _stops, _sent, report = reported
    runs = report["runs"]
    monkeypatch.setenv("OUTREACH_ROUTES_NOW", "2022-06-28T12:00:00-04:00")
    result = run_cli("report", "--runs-dir", str(runs), "--public")
    assert result.returncode == 0, result.stderr
    folder = runs / "reports" / "public"
    summary = json.loads((folder / "summary.json").read_text("utf-8"))
    assert [w["week_of"] for w in summary["weeks"]] == [MONDAY]  # two weeks old, no newer
    vertices = {
        round(v, 6)
        for f in plan["territories"]["features"]
        for ring in f["geometry"]["coordinates"]
        for point in (ring if isinstance(ring[0][0], float) else [p for r in ring for p in r])
        for v in point
    }
    requests = Path(__file__).parents[1] / "data" / "philadelphia" / "requests.geojson"
    notes = [f["properties"].get("note") for f in json.loads(requests.read_text())["features"]]
    for path in (folder / "summary.json", folder / "summary.html"):
        text = path.read_text("utf-8")
        # Every number that could be a longitude or latitude here (the colour scale's are < 1).
        numbers = {round(float(n), 6) for n in re.findall(r"-?[1-9]\d*\.\d{4,}", text)}
        assert numbers and numbers <= vertices, (path.name, sorted(numbers - vertices)[:5])
        for secret in (REASON, "police", "t22", route["stops"][1]["stop_id"], route["contact"],
                       plan["coordinators_contact"], *filter(None, notes)):  # fmt: skip
            assert secret not in text, (path.name, secret)


def test_response_walks_and_the_weeks_shootings_against_the_check_ins(reported):
    plan, route, (*_stops, response), sent, report = reported
    walks = {r["stop_id"]: r for r in report["response_stops"]}
    owed = [s for r in plan["revisions"] for s in r["response_stops"]]
    assert owed and set(walks) == {s["stop_id"] for s in owed}
    mine = walks[response["stop_id"]]
    source = next(s for s in owed if s["stop_id"] == response["stop_id"])
    hours = (
        dt.datetime.fromisoformat(_at("20:30")) - dt.datetime.fromisoformat(source["occurred_at"])
    ).total_seconds() / 3600
    assert mine["hours_after"] == round(hours, 1) and mine["within_window"] == (hours <= 72)
    assert mine["within_window"]
    late = next(w for w in walks.values() if w["team"] == LATE_TEAM and w["done_at"] is not None)
    owed_late = next(s for s in owed if s["stop_id"] == late["stop_id"])
    hours = (
        dt.datetime.fromisoformat(LATE_TAP) - dt.datetime.fromisoformat(owed_late["occurred_at"])
    ).total_seconds() / 3600
    assert hours > 72 and late["hours_after"] == round(hours, 1) and not late["within_window"]
    assert [w["done_at"] for w in walks.values()].count(None) == len(walks) - 2
    # The week's shootings: each one flagged as a check-in's place says, recomputed here.
    places = {s["stop_id"]: (s["lon"], s["lat"]) for s in route["stops"]}
    seen = [
        (dt.datetime.fromisoformat(b["tapped_at"]),
         (b["lon"], b["lat"]) if "lat" in b else places.get(b.get("stop_id")))
        for b in sent
    ]  # fmt: skip
    late_stop = next(  # and Kensington's late walk, at its stop
        s for r in plan["teams"] if (r["team"], r["night"]) == (LATE_TEAM, NIGHT)
        for s in r["stops"] if s["kind"] == "response"
    )  # fmt: skip
    seen.append((dt.datetime.fromisoformat(LATE_TAP), (late_stop["lon"], late_stop["lat"])))
    shootings = report["shootings"]
    assert len(shootings) >= 5  # a real week of the bundled data
    for shot in shootings:
        when = dt.datetime.fromisoformat(shot["occurred_at"])
        near = [
            t for t, p in seen
            if p and GEOD.inv(p[0], p[1], shot["lon"], shot["lat"])[2] <= 150
        ]  # fmt: skip
        window = dt.timedelta(hours=72)
        assert shot["team_before"] == any(when - window <= t < when for t in near)
        assert shot["team_after"] == any(when < t <= when + window for t in near)
    assert any(s["team_before"] or s["team_after"] for s in shootings)  # the test can fail


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium")
@pytest.mark.parametrize("width", [390, 1280])
def test_the_pages_open_in_chromium_and_read_at_a_glance(reported, width, tmp_path):
    from browser_support import open_page
    from playwright.sync_api import sync_playwright

    *_rest, report = reported
    runs = report["runs"]
    pages = [runs / "reports" / WEEK / "report.html", runs / "reports" / "public" / "summary.html"]
    with sync_playwright() as p:
        for path in pages:
            if not path.is_file():  # the public summary is made by its own test
                continue
            browser, page, seen = open_page(p, path, width=width, height=844)
            try:
                assert seen.errors == [], (path.name, seen.errors)
                # The map above, its shapes drawn; the tables below, scrolling on their own.
                box = page.locator(".folium-map").bounding_box()
                assert box and box["height"] > 300 and box["width"] == width
                assert page.locator(".leaflet-overlay-pane path").count() > 5
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                assert page.locator(".report-body table").count() >= 1
                page.screenshot(path=str(tmp_path / f"{path.stem}-{width}.png"), full_page=True)
            finally:
                browser.close()
    dots = report["shootings"]
    assert dots  # one circle per shooting on the coordinators' map
    with sync_playwright() as p:
        browser, page, _seen = open_page(p, pages[0], width=width, height=844)
        try:
            circles = page.locator(".leaflet-overlay-pane path.leaflet-interactive[stroke='#111']")
            assert circles.count() == len(dots)
        finally:
            browser.close()


def test_reversed_and_overlapping_pairs_and_unknown_stops_are_counted(reported):
    from outreach_routes.report import dosage

    plan, route, (first, second, *_others), _sent, _report = reported

    def row(i, stop_id, status, clock):
        tapped = dt.datetime.fromisoformat(_at(clock))
        return {"client_id": f"r{i}", "team": TEAM, "night": NIGHT, "stop_id": stop_id,
                "status": status, "tapped_at": tapped.isoformat(), "reason": None,
                "lat": None, "lon": None, "scene_request_id": None,
                "tapped_utc": tapped.astimezone(dt.UTC).isoformat()}  # fmt: skip

    rows = [
        row(1, first["stop_id"], "left", "18:00"),  # left before arrived: reversed
        row(2, first["stop_id"], "arrived", "18:20"),
        row(3, second["stop_id"], "arrived", "18:10"),  # inside the first stop's 20 minutes
        row(4, second["stop_id"], "left", "18:25"),
        row(5, "team-22-north-central-nowhere", "arrived", "18:40"),
    ]
    figures = dosage(plan, rows)
    assert figures["problems"] == {
        "left before arrived at the same stop": 1,
        "at two stops at once (overlapping arrived and left)": 1,
        "stop not on that night's route (another plan's database?)": 1,
    }
    night = next(n for n in figures["nights"] if n["team"] == TEAM and n["night"] == NIGHT)
    assert night["done"] == 2 and night["presence_min"] == pytest.approx(20 + 15)


def test_stops_not_done_week_after_week_are_counted_and_listed(reported, tmp_path):
    import shutil

    import geopandas as gpd
    import pandas as pd

    from outreach_routes.changes import changes_page, compare_plans
    from outreach_routes.report import missed_last_week
    from outreach_routes.routing import place_name

    plan, _route, (first, _second, third, _response), _sent, report = reported
    runs = tmp_path / "runs"
    shutil.copytree(report["runs"] / WEEK, runs / WEEK)
    shutil.copy(report["runs"] / "service.sqlite3", runs / "service.sqlite3")
    # That week's plan had raised the skipped stop (and the done one) for two weeks running.
    earlier = [{"team": TEAM, "stop_id": s["stop_id"], "why": ["weather"], "weeks": 2}
               for s in (third, first)]  # fmt: skip
    (runs / WEEK / "plan.json").write_text(json.dumps(plan | {"followup": earlier}), "utf-8")
    missed = missed_last_week(runs, pd.Timestamp("2022-06-13", tz="America/New_York"))
    weeks = {(m["team"], m["stop_id"]): m["weeks"] for m in missed}
    assert weeks[(TEAM, third["stop_id"])] == 3
    assert (TEAM, first["stop_id"]) not in weeks  # done this time: the count starts again
    assert set(weeks.values()) == {1, 3}

    current = {
        "week_of": "2022-06-13",
        "unserved_requests": [],
        "followup": [
            {"team": TEAM, "stop_id": third["stop_id"], "why": [REASON], "weeks": 3}
            | {k: third.get(k) for k in ("corner", "lat", "lon")},
            {"team": TEAM, "stop_id": "x", "why": ["not reported"], "weeks": 2},
        ],
    }
    page = changes_page(compare_plans(current, None, gpd.GeoDataFrame()), "Philadelphia")
    # Named by its place (Philadelphia's streets have no names: lat, lon), never by its id.
    assert "Not done for 3 weeks or more" in page and third["stop_id"] not in page
    assert place_name(third) in page
    assert ">x<" not in page and "&lt;b&gt;police&lt;/b&gt;" in page


def test_scene_requests_and_the_minutes_to_answer(reported):
    *_rest, report = reported
    (scene,) = report["scene_requests"]
    assert scene["minutes_to_answer"] == 12.0  # asked at 22:40 (the server's clock), 22:52
    assert scene["nearest_team"] == TEAM


def test_a_response_stop_listed_by_several_revisions_counts_once_from_its_days_end():
    """A response stop stays in each revision of the week while its window lasts: the report
    counts it once. With dates only (``times_of_day`` false), its hours count from the end of
    the shooting's day, as the plan's ``[response] window_h`` does."""
    from outreach_routes.report import _responses

    stop = {"stop_id": "north-r01", "team": "North", "occurred_at": "2018-04-02T00:00:00-05:00"}
    stop |= {"corner": "Fremont & West Broadway", "lat": 44.999, "lon": -93.295}
    plan = {
        "timezone": "America/Chicago",
        "times_of_day": False,
        "revisions": [{"response_stops": [stop]}, {"response_stops": [stop]}],
    }
    done = {("North", "north-r01"): "2018-04-05T21:00:00-05:00"}
    [row] = _responses(plan, done, 72.0)
    assert row["hours_after"] == 69.0  # from Tue 03 Apr 00:00, not from Mon 02 Apr 00:00 (93 h)
    assert row["within_window"]
    assert row["corner"] == "Fremont & West Broadway"
    [row] = _responses({**plan, "times_of_day": True}, done, 72.0)
    assert row["hours_after"] == 93.0 and not row["within_window"]


def test_the_report_names_each_response_walk_by_its_shootings_place_and_time(reported):
    """Coordinators read the shooting a walk answered, not a stop id."""
    plan, *_rest, report = reported
    page = (report["runs"] / "reports" / WEEK / "report.html").read_text("utf-8")
    walks = {s["stop_id"]: s for r in plan["revisions"] for s in r["response_stops"]}
    assert walks
    for stop in walks.values():
        when = dt.datetime.fromisoformat(stop["occurred_at"])
        place = stop["corner"] or f"{stop['lat']:.5f}, {stop['lon']:.5f}"
        assert f"<td class='text'>{place} on {when:%a %d %b %H:%M}</td>" in page
    assert "<th>Hours after it</th>" in page
