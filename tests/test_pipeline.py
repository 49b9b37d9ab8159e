"""The bundled week, planned through the CLI: what plan.json and the outputs must show."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from conftest import CITIES
from scipy.spatial import cKDTree

from outreach_routes import load_config, plan_document, plan_week
from outreach_routes._io import dumps_json
from outreach_routes.hotspots import risk_near
from outreach_routes.routing import passing_corners, path_nodes, street_risk, walking_paths
from outreach_routes.schedule import corner_visits


def utm_of(city: str) -> str:
    return load_config(CITIES[city]).city.crs


def to_utm(coords, crs: str) -> np.ndarray:
    points = gpd.GeoSeries(gpd.points_from_xy(*np.asarray(coords).T), crs="EPSG:4326")
    return shapely.get_coordinates(points.to_crs(crs).to_numpy())


def territory_of(plan_json: dict, team: str, crs: str) -> shapely.Geometry:
    features = [f for f in plan_json["territories"]["features"] if f["properties"]["team"] == team]
    return gpd.GeoDataFrame.from_features(features, crs="EPSG:4326").to_crs(crs).union_all()


def test_every_output_is_written(plan_dir: Path, plan_json: dict):
    for name in ("index.html", "plan.json", "rejects.csv", "manifest.json"):
        assert (plan_dir / name).is_file(), name
    for slug in {r["slug"] for r in plan_json["teams"]}:
        for suffix in (".html", "-sheet.html", ".gpx"):
            assert (plan_dir / "teams" / f"{slug}{suffix}").is_file(), slug + suffix
    manifest = json.loads((plan_dir / "manifest.json").read_text())
    assert manifest["seed"] == 42
    assert all(len(i["sha256"]) == 64 for i in manifest["inputs"])
    assert {t["stage"] for t in manifest["timings"]} >= {"incidents", "hotspots", "routing"}
    for name in manifest["outputs"]["walking_graph"].values():
        if name.endswith(".parquet"):
            assert (plan_dir / name).is_file()


def test_rows_add_up_and_rejects_file_lists_each(city_plan):
    _, folder, plan_json = city_plan
    assert plan_json["rows_read"] == plan_json["rows_used"] + plan_json["rows_rejected"]
    lines = (folder / "rejects.csv").read_text().strip().splitlines()
    assert len(lines) - 1 == plan_json["rows_rejected"] > 0
    assert lines[0] == "source,row,reason"


def test_every_output_exists_for_both_cities(city_plan):
    _, folder, plan_json = city_plan
    for name in ("index.html", "plan.json", "rejects.csv", "manifest.json"):
        assert (folder / name).is_file(), name
    for route in plan_json["teams"]:
        for suffix in (".html", "-sheet.html", ".gpx"):
            assert (folder / "teams" / f"{route['slug']}{suffix}").is_file()
        assert corner_visits(route) >= 4, (route["team"], route["night"])


def test_minneapolis_gva_export_is_filtered_and_requests_matched(minneapolis_dir: Path):
    plan_json = json.loads((minneapolis_dir / "plan.json").read_text("utf-8"))
    assert plan_json["rows_read"] == 667  # every row of the export, shootings or not
    reasons = {}
    for line in (minneapolis_dir / "rejects.csv").read_text().splitlines()[1:]:
        reason = line.split(",", 2)[2]
        reasons[reason] = reasons.get(reason, 0) + 1
    assert reasons["excluded by the [incidents] filter on `incident_characteristics`"] > 100
    assert reasons["more than 2000 m outside the city limits ([city] limits)"] > 10
    # Corner requests ("W Broadway & Emerson Ave N") were placed and served.
    assert {"M01", "M02", "M04"} <= set(plan_json["requests"]["served"])
    unserved = {r["request_id"]: r["reason"] for r in plan_json["unserved_requests"]}
    assert unserved == {"M05": "inside a no-go zone"}
    manifest = json.loads((minneapolis_dir / "manifest.json").read_text("utf-8"))
    assert any("M07 ignored: expired" in n for n in manifest["summary"]["notes"])


def test_week_is_the_one_after_the_last_incident(plan_json: dict):
    assert plan_json["week_of"] == "2023-01-02"  # last incident: 2022-12-30 local time
    assert plan_json["timezone"] == "America/New_York"


def test_six_teams_each_with_six_nights(plan_json: dict):
    teams = {r["team"] for r in plan_json["teams"]}
    assert len(teams) >= 6
    for team in teams:
        nights = [r["night"] for r in plan_json["teams"] if r["team"] == team]
        assert len(nights) == 6 and len(set(nights)) == 6


def test_routes_start_and_end_at_base_and_fit_the_shift(city_plan):
    _, _, plan_json = city_plan
    for route in plan_json["teams"]:
        stops = route["stops"]
        assert stops[0]["kind"] == stops[-1]["kind"] == "base"
        assert [stops[0]["lon"], stops[0]["lat"]] == route["base"]
        assert [stops[-1]["lon"], stops[-1]["lat"]] == route["base"]
        start = dt.datetime.fromisoformat(route["shift_start"])
        end = dt.datetime.fromisoformat(route["shift_end"])
        assert start.utcoffset() is not None
        assert dt.datetime.fromisoformat(stops[0]["depart"]) >= start
        assert dt.datetime.fromisoformat(stops[-1]["arrive"]) <= end
        times = [dt.datetime.fromisoformat(t) for s in stops for t in (s["arrive"], s["depart"])]
        assert times == sorted(times)
        # Not the base between loops. Two loops cost a team whose base is far from its hot
        # corners a walk out and back each: Fairhill's walks 4 to 7 stops a night.
        visits = [s for s in stops[1:-1] if s["kind"] != "base"]
        assert len(visits) == corner_visits(route) >= 4, (route["team"], route["night"])
        for stop in stops[1:-1]:
            dwell = dt.datetime.fromisoformat(stop["depart"]) - dt.datetime.fromisoformat(
                stop["arrive"]
            )
            assert dwell == dt.timedelta(minutes=route["dwell_min"] if stop in visits else 0)
        walking = route["walk_km"] / route["walk_speed_kmh"] * 60
        dwelling = len(visits) * route["dwell_min"]
        assert route["duration_min"] == pytest.approx(walking + dwelling, abs=0.05)
        assert route["duration_min"] <= (end - start).total_seconds() / 60 + 1e-6


def test_nights_are_loops_from_the_base_and_second_visits_come_hours_later(city_plan):
    city, _, plan_json = city_plan
    routing = load_config(CITIES[city]).routing
    revisited = 0
    for route in plan_json["teams"]:
        stops, slug = route["stops"], route["slug"]
        ids = [s["stop_id"] for s in stops[1:-1]]
        assert len(ids) == len(set(ids)), (route["team"], route["night"])
        between = [s for s in stops[1:-1] if s["kind"] == "base"]
        assert len(between) <= routing.loops - 1
        for k, stop in enumerate(between, start=2):
            assert stop["stop_id"] == f"{slug}-base-{k}"
            assert [stop["lon"], stop["lat"]] == route["base"]
        first = {s["stop_id"]: s for s in stops[1:-1]}
        for stop in stops[1:-1]:
            if stop["kind"] == "base" or not stop["stop_id"].endswith("-2"):
                continue
            earlier = first[stop["stop_id"][:-2]]
            revisited += 1
            assert (earlier["lat"], earlier["lon"]) == (stop["lat"], stop["lon"])
            gap = dt.datetime.fromisoformat(stop["arrive"]) - dt.datetime.fromisoformat(
                earlier["arrive"]
            )
            assert gap >= dt.timedelta(minutes=routing.revisit_gap_min)
            assert stop["prize"] == pytest.approx(
                earlier["prize"] * routing.revisit_share, abs=1e-3
            )
    if routing.loops > 1:
        assert sum("-base-2" in s["stop_id"] for r in plan_json["teams"] for s in r["stops"])
        assert revisited or city == "minneapolis"


def test_paths_stay_in_territory_and_out_of_no_go_zones(city_plan):
    city, _, plan_json = city_plan
    crs = utm_of(city)
    tolerance = load_config(CITIES[city]).territories.edge_tolerance_m
    zones = gpd.GeoDataFrame.from_features(plan_json["no_go_zones"]["features"], crs="EPSG:4326")
    assert len(zones) == 1
    zones = zones.to_crs(crs)
    for route in plan_json["teams"]:
        area = territory_of(plan_json, route["team"], crs).buffer(tolerance + 1)
        path = shapely.LineString(to_utm(route["path"], crs))
        assert area.contains(path), (route["team"], route["night"])
        for zone in zones.itertuples():
            if not zone.teams or route["team"] in zone.teams:
                assert not path.intersects(zone.geometry), (route["team"], route["night"])


def test_paths_follow_the_street_network_through_every_stop(city_plan):
    city, folder, plan_json = city_plan
    crs = utm_of(city)
    edges = gpd.read_parquet(folder / "network_edges.parquet")
    for route in plan_json["teams"]:
        path_xy = to_utm(route["path"], crs)
        # Every vertex of the path lies on a street of the walking graph.
        _, gap = edges.sindex.nearest(shapely.points(path_xy), return_distance=True)
        assert gap.max() < 0.5, (route["team"], route["night"])
        path = shapely.LineString(path_xy)
        for stop in route["stops"]:
            corner = shapely.Point(to_utm([[stop["lon"], stop["lat"]]], crs)[0])
            assert path.distance(corner) < 0.5, stop["stop_id"]
        assert shapely.Point(path_xy[0]).distance(shapely.Point(path_xy[-1])) < 0.5


def test_stops_are_street_corners_not_incident_points(plan_json: dict):
    config = load_config()
    incidents = gpd.read_parquet(config.incidents.path)
    incidents = incidents[incidents.geometry.notna()].to_crs(config.city.crs)
    stops = [s for r in plan_json["teams"] for s in r["stops"] if s["kind"] != "base"]
    xy = to_utm([[s["lon"], s["lat"]] for s in stops], config.city.crs)
    nearest = incidents.sindex.nearest(shapely.points(xy), return_distance=True)[1]
    assert nearest.min() > 1.0


def test_requests_are_served_or_listed_with_a_reason(plan_json: dict):
    served = set(plan_json["requests"]["served"])
    unserved = {r["request_id"]: r["reason"] for r in plan_json["unserved_requests"]}
    assert unserved["R11"] == "outside every team's territory"
    assert "R12" not in served and "R12" not in unserved  # expired before the week
    assert len(served) >= 8
    visited = {src for r in plan_json["teams"] for s in r["stops"] for src in s["sources"]}
    assert served <= visited


def test_no_victim_attribute_anywhere_in_the_output(plan_dir: Path):
    words = ("race", "sex", "age_group", '"age"', "gender")
    for path in plan_dir.rglob("*"):
        if path.suffix in {".html", ".json", ".csv", ".gpx"}:
            text = path.read_text(encoding="utf-8").lower()
            for word in words:
                assert f'"{word.strip(chr(34))}"' not in text, (path.name, word)
            assert ",race," not in text and ",sex," not in text


def test_outside_text_is_escaped_in_every_page(plan_dir: Path):
    for path in [plan_dir / "index.html", *sorted((plan_dir / "teams").glob("*.html"))]:
        text = path.read_text(encoding="utf-8")
        assert "<script>alert" not in text, path.name
        assert "<b>Diamond St</b>" not in text, path.name
    assert "&lt;script&gt;alert" in (plan_dir / "index.html").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def bundled_plan():
    """The bundled week planned again in this process."""
    return plan_week(week_of=dt.date(2023, 1, 2))


def test_same_inputs_give_byte_identical_plan_json(plan_dir: Path, bundled_plan):
    assert dumps_json(plan_document(bundled_plan)) == (plan_dir / "plan.json").read_text("utf-8")


def test_stops_are_worth_the_risk_near_them_and_walks_pass_risky_streets(bundled_plan):
    plan = bundled_plan
    cells, reach = plan.cells[plan.cells["reachable"]], plan.config.routing.presence_m
    # A hotspot stop is worth the risk within reach of its corner, scaled alike for all teams.
    hot = plan.stops[plan.stops["kind"] == "hotspot"]
    near = risk_near(cells, shapely.get_coordinates(hot.geometry.to_numpy()), reach)
    scale = np.median(hot["prize"] / near)
    np.testing.assert_allclose(hot["prize"], near * scale, atol=2e-3)
    # Walks between stops lean to risky streets: more risk passed than on the shortest paths,
    # for a few metres more, and the routes' minutes count the metres really walked.
    pull = plan.config.routing.risky_streets
    passed = {pull: 0.0, 0.0: 0.0}
    metres = {pull: 0.0, 0.0: 0.0}
    for team, risk in street_risk(plan.networks, cells, reach).items():
        net = plan.networks[team]
        for route in (r for r in plan.routes if r.team == team):
            nodes = route.stops["node"].to_numpy()
            for way in passed:
                walked, pred = walking_paths(net.matrix, nodes, risk, way)
                legs = [walked[k, nodes[k + 1]] for k in range(len(nodes) - 1)]
                for k in range(len(nodes) - 1):
                    passed[way] += risk[path_nodes(pred, k, nodes[k], nodes[k + 1])[1:-1]].sum()
                metres[way] += sum(legs)
    assert passed[pull] > 1.1 * passed[0.0]
    assert metres[pull] < 1.1 * metres[0.0]


def test_walks_pass_the_risky_corners_between_stops_and_time_the_metres_walked(bundled_plan):
    plan = bundled_plan
    routing = plan.config.routing
    cells = plan.cells[plan.cells["reachable"]]
    risk = street_risk(plan.networks, cells, routing.presence_m)
    passed = 0
    for team in plan.teams:
        net = plan.networks[team.name]
        stops = plan.stops[plan.stops["team"] == team.name]["node"].astype(int).tolist()
        corners = passing_corners(
            net, risk[team.name], [net.base, *stops], routing.pass_corners, 2 * routing.presence_m
        )
        assert 0 < len(corners) <= routing.pass_corners
        assert not set(corners) & set(stops)  # a corner walked past is never a stop
        speed = team.config.walk_speed_kmh * 1000 / 60
        for route in (r for r in plan.routes if r.team == team.name):
            on_path = cKDTree(route.path).query(net.xy[corners])[0] < 0.5
            passed += int(on_path.sum())
            assert not set(route.stops["node"]) & set(corners[on_path])
            # The route's clock counts every metre walked, past the corners too: its minutes
            # are the path's length at the team's pace plus the dwell at each stop.
            length = float(np.hypot(*np.diff(route.path, axis=0).T).sum())
            assert route.walk_m == pytest.approx(length, abs=1.0)  # edge lengths, rounded
            dwell = (route.stops["kind"] != "base").sum() * team.config.dwell_min
            assert route.duration_min == pytest.approx(length / speed + dwell, abs=0.05)
            # The sheet's streets of each leg add up to the metres walked.
            legs = sum(m for leg in route.legs for _, m in leg)
            assert legs == pytest.approx(length, abs=1.0)
    assert passed >= len(plan.routes)  # most nights walk past some


def test_week_walks_the_riskiest_corner_nightly_and_covers_the_rest(plan_json: dict):
    for team, cover in plan_json["coverage"].items():
        routes = [r for r in plan_json["teams"] if r["team"] == team]
        visited = {  # corners, not returns to base or second visits in a night
            s["stop_id"]
            for r in routes
            for s in r["stops"]
            if s["kind"] != "base" and not s["label"].endswith(", again")
        }
        assert cover["stops_visited"] == len(visited)
        assert 0 < cover["stop_share"] <= 1 and 0 < cover["risk_share"] <= 1
        # The first night's prizes are undiscounted: its top stop is the team's riskiest corner.
        riskiest = max(routes[0]["stops"][1:-1], key=lambda s: s["prize"])["stop_id"]
        assert all(riskiest in {s["stop_id"] for s in r["stops"]} for r in routes), team
        orders = {tuple(s["stop_id"] for s in r["stops"]) for r in routes}
        assert len(orders) == len(routes)  # no two nights walked the same way
    total = sum(c["stops"] for c in plan_json["coverage"].values())
    # Two loops a night walk fewer distinct corners a week than one tour did (0.9 and more):
    # the README's route backtest gives the trade.
    assert sum(c["stops_visited"] for c in plan_json["coverage"].values()) / total >= 0.85
    assert plan_json["hotspot_presence_min"]["H01"] >= 60


def test_plan_reports_the_backtested_skill_of_its_hotspots(plan_json: dict, plan_dir: Path):
    skill = plan_json["forecast_skill"]
    assert skill["weeks"] == 26 and skill["area_share"] == 0.05
    assert 0.2 < skill["hit_rate"] < 1 and skill["pai"] > 4
    assert 0 < skill["baseline_count_all_hit_rate"] < 1
    assert f"{skill['hit_rate']:.0%} of shootings fell in the riskiest 5%" in (
        (plan_dir / "index.html").read_text("utf-8")
    )


def test_pages_render_the_same_without_compiling_finished_text():
    """Maps render with finished text held as it is (render._literal_pieces) to the same bytes
    as folium renders them, line ends, braces and Jinja-like text in popups included."""
    import folium

    from outreach_routes.render import _counted_ids, _literal_pieces

    def page() -> str:
        with _counted_ids():
            fmap = folium.Map(location=[39.99, -75.15], zoom_start=14, tiles=None)
            for k, text in enumerate(["plain", "a\r\nb\n", "{a: {b: 1}}", "{{ not jinja }}", ""]):
                folium.CircleMarker(
                    [39.99 + k / 1000, -75.15],
                    radius=6,
                    tooltip=folium.Tooltip(f"stop {k}: {text}"),
                    popup=folium.Popup(f"<b>{k}</b> {text}\n"),
                ).add_to(fmap)
            folium.PolyLine([[39.99, -75.15], [39.995, -75.14]], tooltip="leg\n").add_to(fmap)
            fmap.get_root().script.add_child(folium.Element("var x = {y: 1};\r\n"))
            return fmap

    expected = page().get_root().render()
    with _literal_pieces():
        fast = page().get_root().render()
    assert fast == expected
    assert "stop 3" in fast and "a\nb" in fast


def test_a_team_without_a_contact_line_shows_the_coordinators(plan_json: dict):
    from outreach_routes.render import _title_block

    routes = [
        dict(r, contact="") for r in plan_json["teams"] if r["slug"] == "team-22-north-central"
    ]
    block = _title_block(dict(plan_json, coordinators_contact="Coordinators <24 h>"), routes=routes)
    assert "Contact: Coordinators &lt;24 h&gt;" in block
    none = _title_block(dict(plan_json, coordinators_contact=""), routes=routes)
    assert "Contact: none set" in none


def test_two_teams_sharing_a_district_split_its_corners(tmp_path: Path, plan_json: dict):
    """A second team in North Central on a later shift (21:00-02:00, overlapping the first's
    18:00-23:00): it never reaches a corner within ``revisit_gap_min`` of the first team's visit
    there, most of its stops are corners the first team does not walk that night, and every
    other team is planned exactly as without it. Planned each alone, the two teams met at the
    same corner within two hours 10 times in the week, and 21 of the late team's 44 stops were
    the first team's corners."""
    from conftest import LATE_TEAM_22, run_plan, write_bundled_config

    out = run_plan(write_bundled_config(tmp_path, extra=LATE_TEAM_22), tmp_path / "out")
    plan = json.loads((out / "plan.json").read_text("utf-8"))
    gap = dt.timedelta(minutes=load_config(CITIES["philadelphia"]).routing.revisit_gap_min)
    visits: dict[tuple[str, str], dict[tuple[float, float], list[dt.datetime]]] = {}
    for route in plan["teams"]:
        at = visits.setdefault((route["team"], route["night"]), {})
        for stop in route["stops"]:
            if stop["kind"] != "base":
                at.setdefault((stop["lat"], stop["lon"]), []).append(
                    dt.datetime.fromisoformat(stop["arrive"])
                )
    late = shared = close = 0
    for (team, night), corners in visits.items():
        if team != "Team 22 late":
            continue
        first = visits[("Team 22 North Central", night)]
        for corner, times in corners.items():
            late += len(times)
            shared += len(times) * (corner in first)
            close += sum(abs(t - u) < gap for t in times for u in first.get(corner, []))
    assert late >= 30  # the late team walks a full week
    notes = json.loads((out / "manifest.json").read_text("utf-8"))["summary"]["notes"]
    assert any(n.endswith("Team 22 North Central, then Team 22 late") for n in notes), notes
    assert close == 0
    assert shared < late / 3
    before = {(r["team"], r["night"]): r["stops"] for r in plan_json["teams"]}
    after = {(r["team"], r["night"]): r["stops"] for r in plan["teams"]}
    assert {k: after[k] for k in before} == before
