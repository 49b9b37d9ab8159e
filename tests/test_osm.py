"""A city the tool has never seen, from OpenStreetMap: only walkable ways become streets, every
stop is named by its corner, and every gap in the data is said out loud.

``tests/data/osm-city/`` is written by hand: a 3 x 3 street grid whose extract also holds a
railway through a level crossing, a platform, a building whose corner ends a footway, a stream
that shares a node with a street, a motorway, two cycleways (one open to feet) and a private
drive; a police beat far larger than the streets; and shootings on the streets and 750 m away
where the extract has none.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import networkx as nx
import numpy as np
import osmnx as ox
import pytest
import shapely
from conftest import run_cli, run_plan
from pyproj import Transformer

from outreach_routes import load_network
from outreach_routes.config import NetworkConfig
from outreach_routes.network import osm_not_walked

CITY = Path(__file__).parent / "data" / "osm-city"
STREETS = {101, 102, 103, 104, 105, 106}  # the grid, one street tagged sidewalk=separate
WALKED = STREETS | {401, 702}  # a footway, and a cycleway with foot=designated
NOT_STREET_NODES = {20, 21, 31, 32, 33, 50, 52, 60, 70, 80, 90}


def _way_ids(graph: nx.MultiDiGraph) -> set[int]:
    ids: set[int] = set()
    for *_, osmid in graph.edges(data="osmid"):
        ids.update(osmid if isinstance(osmid, list) else [osmid])
    return ids


def test_only_walkable_ways_become_edges():
    graph, report = load_network(NetworkConfig(path=CITY / "streets.osm"), crs="EPSG:32610")
    assert _way_ids(graph) == WALKED
    # The level crossing (node 2), the stream's crossing (45) and the building's corner at the
    # footway's end (30) are walked; no other node of the railway, stream or building is.
    assert {2, 30}.issubset(graph.nodes)
    assert not NOT_STREET_NODES & set(graph.nodes)
    assert report.segments_read == 15
    assert report.dropped_kinds == {
        "railway": 2,
        "building": 1,
        "waterway": 1,
        "highway=motorway": 1,
        "highway=cycleway": 1,
        "access=private": 1,
    }
    assert report.summary()[0].startswith("streets.osm: 7 ways not walked (railway 2, building 1")


@pytest.mark.parametrize(
    ("tags", "reason"),
    [
        ({"highway": "residential", "sidewalk": "separate"}, None),
        ({"highway": "cycleway", "foot": "yes"}, None),
        ({"highway": "footway"}, None),
        ({"highway": "service", "service": "alley"}, None),
        ({"highway": "cycleway"}, "highway=cycleway"),
        ({"highway": "motorway_link"}, "highway=motorway_link"),
        ({"highway": "pedestrian", "area": "yes"}, "area=yes"),
        ({"highway": "path", "foot": "no"}, "foot=no"),
        ({"highway": "service", "service": "private"}, "service=private"),
        ({"highway": "residential", "access": "private", "foot": "yes"}, None),
        ({"railway": "abandoned"}, "railway"),
        ({"power": "line"}, "power"),
        ({"name": "Somewhere"}, "other"),
    ],
)
def test_rule_table(tags, reason):
    assert osm_not_walked(tags) == reason


def test_graphml_edges_without_highway_are_kept_and_said(tmp_path):
    graph, _ = load_network(NetworkConfig(path=CITY / "streets.osm"), crs="EPSG:32610")
    for *_, data in graph.edges(data=True):
        data.pop("highway", None)
    ox.save_graphml(graph, tmp_path / "walk.graphml")
    again, report = load_network(NetworkConfig(path=tmp_path / "walk.graphml"), crs="EPSG:32610")
    assert again.number_of_edges() == graph.number_of_edges()
    assert "have no `highway` attribute; kept as walkable" in report.summary()[0]


@pytest.fixture(scope="module")
def osm_city(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict]:
    out = run_plan(CITY / "plan.toml", tmp_path_factory.mktemp("osm") / "out")
    plan = json.loads((out / "plan.json").read_text("utf-8"))
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    return out, plan, manifest


def test_routes_walk_only_on_streets(osm_city):
    _, plan, _ = osm_city
    graph, _ = load_network(NetworkConfig(path=CITY / "streets.osm"), crs="EPSG:32610")
    streets = ox.graph_to_gdfs(graph, nodes=False).union_all()
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32610", always_xy=True)
    assert plan["teams"]
    for route in plan["teams"]:
        x, y = to_utm.transform(*np.array(route["path"]).T)
        gaps = shapely.distance(shapely.points(x, y), streets)
        assert gaps.max() < 0.5, route["night"]


def test_summary_reports_dropped_ways_and_thin_data(osm_city):
    _, plan, manifest = osm_city
    summary = manifest["summary"]
    assert summary["network"]["dropped_kinds"]["railway"] == 2
    assert summary["network"]["dropped_kinds"]["building"] == 1
    notes = " | ".join(summary["notes"])
    assert "7 ways not walked (railway 2, building 1" in notes
    assert "'Beat One': 10 of its 32 shootings (31%) lie farther than 150 m" in notes
    # The shootings 750 m from any street lie outside the streets' extent (the city, with no
    # [city] limits): the risk grid does not reach them, so no hotspot is drawn there.
    assert "no [city] limits: the city is the walking network's extent" in notes
    assert summary["hotspot_cells_off_network"] == 0
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32610", always_xy=True)
    far = shapely.Point(to_utm.transform(-122.2690, 37.8070))
    for feature in plan["hotspots"]["features"]:
        polygon = shapely.transform(
            shapely.geometry.shape(feature["geometry"]),
            lambda c: np.column_stack(to_utm.transform(c[:, 0], c[:, 1])),
        )
        assert polygon.distance(far) > 300


def test_every_stop_is_named_by_its_corner(osm_city):
    out, plan, _ = osm_city
    stops = [s for r in plan["teams"] for s in r["stops"]]
    assert all(s["corner"] for s in stops)
    assert {s["corner"] for s in stops if s["kind"] == "base"} == {"8th Street & Adeline Street"}
    sheet = (out / "teams" / f"{plan['teams'][0]['slug']}-sheet.html").read_text("utf-8")
    for stop in plan["teams"][0]["stops"][1:-1]:
        assert f"<strong>{html.escape(stop['corner'])}</strong>" in sheet
    gpx = (out / "teams" / f"{plan['teams'][0]['slug']}.gpx").read_text("utf-8")
    assert html.escape(plan["teams"][0]["stops"][1]["corner"], quote=False) in gpx


def test_validate_warns_of_thin_data():
    result = run_cli("validate", "--config", str(CITY / "plan.toml"))
    assert result.returncode == 0, result.stderr
    assert "10 of its 32 shootings (31%) lie farther than 150 m" in result.stderr
    assert "7 ways not walked" in result.stderr


def test_minneapolis_stops_carry_their_corner(minneapolis_dir):
    """Where the network has names, at least 95% of stops say their corner, on every sheet."""
    plan = json.loads((minneapolis_dir / "plan.json").read_text("utf-8"))
    stops = [s for r in plan["teams"] for s in r["stops"]]
    named = [s for s in stops if s["corner"]]
    assert len(named) >= 0.95 * len(stops)
    assert all(" & " in s["corner"] or s["corner"].startswith("on ") for s in named)
    for slug in {r["slug"] for r in plan["teams"]}:
        sheet = (minneapolis_dir / "teams" / f"{slug}-sheet.html").read_text("utf-8")
        for route in (r for r in plan["teams"] if r["slug"] == slug):
            for stop in route["stops"][1:-1]:
                if stop["corner"]:
                    assert f"<strong>{html.escape(stop['corner'])}</strong>" in sheet


def test_philadelphia_sheets_keep_distance_and_heading(plan_dir, plan_json):
    """Philadelphia's centerlines have no names: stops say lat, lon; legs a distance and heading."""
    assert all(s["corner"] is None for r in plan_json["teams"] for s in r["stops"])
    sheet = (plan_dir / "teams" / f"{plan_json['teams'][0]['slug']}-sheet.html").read_text("utf-8")
    stop = plan_json["teams"][0]["stops"][1]
    assert f"<strong>{stop['lat']:.5f}, {stop['lon']:.5f}</strong>" in sheet
    assert "on foot, heading" in sheet
    assert "unnamed path" not in sheet


def test_streets_lists_names_and_corners():
    config = str(CITY / "plan.toml")
    names = run_cli("streets", "--config", config, "--json")
    assert names.returncode == 0, names.stderr
    assert {r["name"] for r in json.loads(names.stdout)} == {
        "6th Street", "7th Street", "8th Street", "Adeline Street", "Chester Street",
        "Market Street",
    }  # fmt: skip
    near = run_cli("streets", "--config", config, "--near", "37.8,-122.27", "--radius-m", "120")
    assert near.returncode == 0, near.stderr
    lines = near.stdout.splitlines()
    assert lines[0] == "3 corners within 120 m of 37.8,-122.27:"
    assert lines[1].startswith("  8th Street & Adeline Street  (37.80000, -122.27000), 0 m")
    on = run_cli("streets", "--config", config, "--match", "market", "--json")
    corners = json.loads(on.stdout)["corners"]
    assert sorted(c["corner"] for c in corners) == [
        "6th Street & Market Street", "7th Street & Market Street", "8th Street & Market Street",
    ]  # fmt: skip
    bad = run_cli("streets", "--config", config, "--near", "somewhere")
    assert bad.returncode == 2 and 'give "lat,lon"' in bad.stderr


def test_where_warns_when_the_place_is_off_the_network(osm_city):
    out, plan, _ = osm_city
    at = plan["teams"][0]["shift_start"][:16]
    far = run_cli("where", "--plan", str(out), "--at", at, "--near", "37.8500,-122.2700")
    assert far.returncode == 0, far.stderr
    assert "is 5.3 km from the nearest street of this plan's walking network" in far.stderr
    close = run_cli("where", "--plan", str(out), "--at", at, "--near", "37.8001,-122.2700")
    assert "warning" not in close.stderr
    assert "Beat One" in close.stdout
