"""A fourth city set up from the docs alone (#33): central Portland's OpenStreetMap streets, with
unnamed alleys and park paths, date-only shootings some of which lie tens of km away, no city
limits, and a request whose corner does not exist (``tests/data/portland/``).

A weekly plan and three nightly re-plans run as a user runs them; every output is read back:
no "nan" anywhere, strict JSON, hotspots no larger than the streets warrant, the far rows in
``rejects.csv``. Then each mistake a new user makes in the config gets a hint about this city.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import shapely
from conftest import ROOT, run_cli
from pyproj import Transformer

from outreach_routes.config import load_config
from outreach_routes.network import load_walking_network, network_key
from outreach_routes.pipeline import load_inputs
from outreach_routes.routing import corner_name

PORTLAND = ROOT / "tests" / "data" / "portland"
WEEK = "2018-03-19"
NIGHTS = ("2018-03-20", "2018-03-21", "2018-03-22")
# New shootings of the week, dates only: where two unnamed alleys of Ladd's Addition meet, and
# on Southeast Hawthorne Boulevard.
NEW = [
    ("NEW-ALLEY", "2018-03-19", "1", 45.50769, -122.64942),
    ("NEW-HAWTHORNE", "2018-03-20", "0", 45.51208, -122.65380),
]
TO_UTM = Transformer.from_crs("EPSG:4326", "EPSG:32610", always_xy=True)
NAN = re.compile(r"(?<![A-Za-z_])nan(?![A-Za-z_])", re.IGNORECASE)


def _copy_city(folder: Path) -> Path:
    """The fixture in ``folder``, with this week's new shootings added to the incidents."""
    for item in PORTLAND.iterdir():
        shutil.copy(item, folder / item.name)
    with open(folder / "incidents.csv", "a", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        for incident_id, date, killed, lat, lon in NEW:
            writer.writerow([incident_id, date, killed, "1", "Shot - Wounded/Injured", lat, lon])
    return folder / "plan.toml"


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("portland")
    config = _copy_city(folder)
    out = folder / "out"
    runs = [run_cli("plan", "--config", str(config), "--out", str(out), "--week-of", WEEK)]
    for night in NIGHTS:
        runs.append(run_cli("plan", "--config", str(config), "--out", str(out), "--night", night))
    return config, out, runs


def test_the_week_and_three_nights_run(week):
    _, out, runs = week
    for run in runs:
        assert run.returncode == 0, run.stderr
    document = json.loads((out / "plan.json").read_text("utf-8"))
    assert [r["night"] for r in document["revisions"]] == list(NIGHTS)


def test_no_output_says_nan_and_every_json_is_strict(week):
    _, out, _ = week

    def refuse(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    files = [p for p in out.rglob("*") if p.is_file() and p.suffix != ".parquet"]
    assert any(p.suffix == ".gpx" for p in files) and any(p.suffix == ".ics" for p in files)
    for path in files:
        text = path.read_text("utf-8")
        assert not NAN.search(text), f"{path.name}: {NAN.search(text).group(0)!r}"
        if path.suffix == ".json":
            json.loads(text, parse_constant=refuse)


def test_corners_of_unnamed_ways_say_what_they_are_and_where(week):
    _, out, _ = week
    document = json.loads((out / "plan.json").read_text("utf-8"))
    corners = [s["corner"] for team in document["teams"] for s in team["stops"]]
    assert all(isinstance(c, str) and c for c in corners)
    unnamed = [c for c in corners if c.startswith("unnamed ")]
    assert unnamed
    assert all(re.fullmatch(r"unnamed [a-z ]+(, \d+ m from .+)?", c) for c in unnamed)
    # The shooting where two alleys meet is walked to, at a corner with a name.
    response = [
        s for team in document["teams"] for s in team["stops"] if "NEW-ALLEY" in s["sources"]
    ]
    assert response and response[0]["kind"] == "response"


def test_a_corner_where_only_alleys_meet_is_an_unnamed_alley_near_a_street(week):
    inputs = load_inputs(load_config(week[0]), week_of=dt.date(2018, 3, 19))
    net = inputs.networks["Ladd"]
    x, y = TO_UTM.transform(-122.646068, 45.504828)  # an alley's end in Ladd's Addition
    node = int(np.argmin(np.hypot(net.xy[:, 0] - x, net.xy[:, 1] - y)))
    assert np.hypot(*(net.xy[node] - (x, y))) < 5
    assert not net.streets[node]
    assert corner_name(net, node) == "unnamed alley, 60 m from Southeast Tamarack Avenue"


def test_far_rows_are_rejected_and_hotspots_stay_on_the_streets(week):
    _, out, _ = week
    with open(out / "rejects.csv", encoding="utf-8") as fh:
        reasons = [row["reason"] for row in csv.DictReader(fh)]
    far = "more than 2000 m outside the street network's extent (no [city] limits)"
    assert reasons.count(far) > 100
    document = json.loads((out / "plan.json").read_text("utf-8"))
    assert document["rows_rejected"] == len(reasons)
    network = load_walking_network(load_config(week[0]).network, crs="EPSG:32610")
    extent = network.extent
    hotspots = [
        shapely.transform(
            shapely.geometry.shape(f["geometry"]),
            lambda c: np.column_stack(TO_UTM.transform(c[:, 0], c[:, 1])),
        )
        for f in document["hotspots"]["features"]
    ]
    assert hotspots
    # 3 % of the streets' extent is flagged; a hotspot stretched by far rows would be the city.
    assert sum(h.area for h in hotspots) < 0.06 * extent.area
    assert all(extent.buffer(150).contains(h) for h in hotspots)


def test_validate_is_fast_the_second_time_because_the_network_is_cached(week, tmp_path):
    config = load_config(week[0])
    key = network_key(config.network, "EPSG:32610")
    assert key is not None
    cached = list(Path(__import__("os").environ["XDG_CACHE_HOME"]).rglob(f"networks/{key}/*"))
    assert {p.name for p in cached} == {
        "network_nodes.parquet",
        "network_edges.parquet",
        "network.json",
    }
    again = load_walking_network(config.network, crs="EPSG:32610")
    built = load_walking_network(config.network, crs="EPSG:32610", cache=False)
    assert again.report == built.report
    assert len(again.edges) == len(built.edges)
    assert np.allclose(np.sort(again.edges["length"]), np.sort(built.edges["length"]))
    assert set(again.edges["kind"]) == set(built.edges["kind"])
    # Another rule for the ways is another network, under another key.
    text = (
        week[0]
        .read_text("utf-8")
        .replace('path = "streets.osm.pbf"', 'path = "streets.osm.pbf"\nexclude = ["alley"]')
    )
    (week[0].parent / "alleys.toml").write_text(text, "utf-8")
    other = load_config(week[0].parent / "alleys.toml")
    assert network_key(other.network, "EPSG:32610") != key


def test_exclude_leaves_out_alleys_and_park_paths_and_says_how_much(week):
    text = (
        week[0]
        .read_text("utf-8")
        .replace(
            'path = "streets.osm.pbf"',
            'path = "streets.osm.pbf"\nexclude = ["alley", "park_paths"]',
        )
    )
    path = week[0].parent / "exclude.toml"
    path.write_text(text, "utf-8")
    everything = load_walking_network(load_config(week[0]).network, crs="EPSG:32610")
    fewer = load_walking_network(load_config(path).network, crs="EPSG:32610")
    assert (everything.edges["kind"] == "alley").any()
    assert not (fewer.edges["kind"] == "alley").any()
    assert fewer.report.dropped_kinds["exclude=alley"] > 0
    assert fewer.report.dropped_kinds["exclude=park_paths"] > 0
    note = next(n for n in everything.report.notes if "[network] exclude" in n)
    assert re.search(r"alley \d+\.\d km", note) and re.search(r"park_paths \d+\.\d km", note)
    result = run_cli("validate", "--config", str(path))
    assert result.returncode == 0, result.stderr
    assert "left out: alley, park_paths" in result.stderr


def _variant(week, name: str, old: str, new: str) -> Path:
    text = week[0].read_text("utf-8")
    assert old in text, old
    path = week[0].parent / name
    path.write_text(text.replace(old, new, 1), "utf-8")
    return path


def test_a_degree_crs_is_refused_with_this_citys_utm_zone(week):
    path = _variant(week, "degrees.toml", 'crs = "EPSG:32610"', 'crs = "EPSG:4326"')
    result = run_cli("validate", "--config", str(path))
    assert result.returncode == 2
    assert "must be a projected CRS in metres" in result.stderr
    assert "'EPSG:32610'" in result.stderr and "32618" not in result.stderr


def test_a_wrong_utm_zone_warns_with_the_right_one(week):
    path = _variant(week, "zone18.toml", 'crs = "EPSG:32610"', 'crs = "EPSG:32618"')
    result = run_cli("validate", "--config", str(path))
    assert "warning: [city] crs EPSG:32618 is meant for another part of the world" in (
        result.stderr
    )
    assert "'EPSG:32610'" in result.stderr


def test_a_swapped_base_is_called_swapped(week):
    path = _variant(
        week, "swapped.toml", "base = [45.5085, -122.6520]", "base = [-122.652, 45.5085]"
    )
    result = run_cli("validate", "--config", str(path))
    assert result.returncode == 2
    assert "looks swapped (longitude first); write [45.5085, -122.652]" in result.stderr


def test_a_swapped_no_go_zone_is_called_swapped(week):
    zone = (
        '\n[[no_go_zones]]\nname = "Park blocks"\n'
        "polygon = [[45.5110, -122.6560], [45.5110, -122.6540], [45.5095, -122.6540]]\n"
    )
    path = week[0].parent / "zone.toml"
    path.write_text(week[0].read_text("utf-8") + zone, "utf-8")
    result = run_cli("validate", "--config", str(path))
    assert result.returncode == 2
    assert "no-go zone 'Park blocks': its corners look swapped" in result.stderr
    assert "[-122.656, 45.511]" in result.stderr


def test_points_in_the_wrong_source_crs_are_refused_with_where_they_landed(week):
    folder = week[0].parent
    to_feet = Transformer.from_crs("EPSG:4326", "EPSG:2269", always_xy=True)
    with open(folder / "incidents.csv", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["latitude"]]
    with open(folder / "feet.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["incident_id", "date", "n_killed", "incident_characteristics", "x", "y"])
        for r in rows:
            x, y = to_feet.transform(float(r["longitude"]), float(r["latitude"]))
            kind = r["incident_characteristics"]
            writer.writerow([r["incident_id"], r["date"], r["n_killed"], kind, x, y])
    common = {"old": 'path = "incidents.csv"'}
    missing = _variant(week, "feet.toml", common["old"], 'path = "feet.csv"')
    result = run_cli("validate", "--config", str(missing))
    assert result.returncode == 2
    # Oregon North's State Plane zone, found from where the streets are.
    assert "'EPSG:2269' (NAD83 / Oregon North (ft))" in result.stderr
    wrong = _variant(
        week, "wrong.toml", common["old"], 'path = "feet.csv"\nsource_crs = "EPSG:2272"'
    )
    result = run_cli("validate", "--config", str(wrong))
    assert result.returncode == 2
    assert "no incident inside the city" in result.stderr
    assert "the points landed around" in result.stderr
    assert "Check `source_crs`" in result.stderr
    plan = run_cli("plan", "--config", str(wrong), "--out", str(folder / "never"))
    assert plan.returncode == 2
    assert "no incident inside the city" in plan.stderr
    assert not (folder / "never").exists()


def test_a_week_with_no_hotspot_is_still_planned_and_drawn(week, tmp_path, monkeypatch):
    """Incidents, but no hotspot near a street (e.g. every risk cell across a river): the plan
    holds its other stops, the maps are drawn, and the run says why (folium used to fail)."""
    from outreach_routes import pipeline

    found = pipeline._hotspots

    def none_near_streets(*args, **kwargs):
        cells, hotspots, off = found(*args, **kwargs)
        return cells, hotspots.iloc[0:0], off + len(hotspots)

    monkeypatch.setattr(pipeline, "_hotspots", none_near_streets)
    plan = pipeline.plan_week(load_config(week[0]), week_of=dt.date(2018, 3, 19), skill=False)
    assert plan.hotspots.empty
    assert any(n.startswith("warning: no hotspot this week") for n in plan.notes)
    out = pipeline.write_plan(plan, tmp_path / "out")
    document = json.loads((out / "plan.json").read_text("utf-8"))
    assert document["hotspots"]["features"] == []
    assert document["teams"] and all(t["stops"] for t in document["teams"])
    assert "Hotspots (none this week)" in (out / "index.html").read_text("utf-8")


def test_a_request_written_lon_first_is_called_swapped(week, tmp_path):
    folder = week[0].parent
    with open(folder / "requests.csv", encoding="utf-8") as fh:
        text = fh.read()
    swapped = text.replace(",45.5085,-122.6505", ",-122.6505,45.5085")
    assert swapped != text
    (folder / "requests-swapped.csv").write_text(swapped, "utf-8")
    path = _variant(week, "req.toml", 'path = "requests.csv"', 'path = "requests-swapped.csv"')
    result = run_cli("validate", "--config", str(path))
    assert result.returncode == 2
    assert "request R1: `lat` -122.6505 is no latitude: lat and lon look swapped; " in (
        result.stderr
    )
    assert "write lat = 45.5085, lon = -122.6505" in result.stderr
