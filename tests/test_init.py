"""`outreach-routes init`: a new city's config from two files (#39).

On the Portland fixture (OpenStreetMap streets, date-only shootings some far away, no
territories) init cuts three territories and the plan runs on what it wrote; on the bundled
Minneapolis files (centerlines, neighbourhoods) it groups the areas into six. Each detection has
a file that defeats the naive guess: a `date` column of text, x/y in State Plane feet, a `lat`
column holding longitudes.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import ROOT, run_cli
from pyproj import Transformer

from outreach_routes.config import PLACEHOLDER_CONTACT
from outreach_routes.districts import cut_territories, group_areas
from outreach_routes.newcity import detect_incidents, detect_streets

PORTLAND = ROOT / "tests" / "data" / "portland"
MINNEAPOLIS = ROOT / "data" / "minneapolis"
TO_UTM10 = Transformer.from_crs("EPSG:4326", "EPSG:32610", always_xy=True)


def _utm10(geometry: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(
        geometry, lambda c: np.column_stack(TO_UTM10.transform(c[:, 0], c[:, 1]))
    )


def _init(folder: Path, incidents: Path, streets: Path, *more: str):
    """``init FOLDER --incidents ... --streets ... MORE`` as a user runs it."""
    return run_cli(
        "init", str(folder), "--incidents", str(incidents), "--streets", str(streets), *more
    )


def _init_and_plan(folder: Path, incidents: Path, streets: Path, *more: str):
    made = _init(folder, incidents, streets, *more)
    planned = run_cli("plan", "--config", str(folder / "plan.toml"), "--out", str(folder / "out"))
    return folder, made, planned


PORTLAND_FILES = (PORTLAND / "incidents.csv", PORTLAND / "streets.osm.pbf")


@pytest.fixture(scope="module")
def portland(tmp_path_factory: pytest.TempPathFactory):
    """init --teams 3 on the fixture's streets and shootings (not its plan.toml), then plan."""
    folder = tmp_path_factory.mktemp("init") / "portland"
    return _init_and_plan(folder, *PORTLAND_FILES, "--teams", "3")


def test_init_writes_a_config_that_validates_and_plans(portland):
    folder, made, planned = portland
    assert made.returncode == 0, made.stderr
    assert "Traceback" not in made.stderr
    assert {p.name for p in folder.iterdir()} >= {
        "plan.toml",
        "setup.html",
        "limits.geojson",
        "territories.geojson",
    }
    assert planned.returncode == 0, planned.stderr
    # The next three commands: plan, streets --near, and the cron line.
    lines = made.stdout.splitlines()
    assert any(line.strip().startswith("outreach-routes plan --config") for line in lines)
    assert any("streets --config" in line and "--near" in line for line in lines)
    assert any(line.strip().startswith("0 6 * * 1") and "--runs-dir" in line for line in lines)


def test_the_config_names_the_inputs_relative_to_it_and_copies_none(portland):
    folder, _, _ = portland
    config = tomllib.loads((folder / "plan.toml").read_text("utf-8"))
    for table, name in (("incidents", "incidents.csv"), ("network", "streets.osm.pbf")):
        path = config[table]["path"]
        assert not Path(path).is_absolute()
        assert (folder / path).resolve() == (PORTLAND / name).resolve()
        assert not (folder / name).exists()
    assert config["city"]["crs"] == "EPSG:32610"
    assert config["city"]["timezone"] == "America/Los_Angeles"
    assert config["city"]["limits"] == "limits.geojson"
    assert len(config["teams"]) == 3


def test_every_choice_is_commented(portland):
    folder, _, _ = portland
    text = (folder / "plan.toml").read_text("utf-8")
    lines = text.splitlines()
    for key in ("timezone", "crs", "limits", "date_column", "lat_column", "rows"):
        at = next(i for i, line in enumerate(lines) if line.startswith(f"{key} = "))
        assert lines[at - 1].startswith("# "), key
    assert "State Plane zone is EPSG:2269" in text  # the local zone, as a comment
    assert "dates only" in text
    # The incident type column: its common values and a filter to switch on, commented out.
    assert '# filter_column = "incident_characteristics"' in text
    suggested = next(line for line in lines if line.startswith("# filter_contains = "))
    assert "Shot - Wounded/Injured" in suggested
    assert "Non-Shooting" not in suggested


def test_every_stop_has_a_corner_and_no_hotspot_is_over_3_km2(portland):
    folder, _, _ = portland
    document = json.loads((folder / "out" / "plan.json").read_text("utf-8"))
    stops = [s for team in document["teams"] for s in team["stops"]]
    assert stops
    assert all(isinstance(s["corner"], str) and s["corner"] for s in stops)
    hotspots = [
        _utm10(shapely.geometry.shape(f["geometry"])) for f in document["hotspots"]["features"]
    ]
    assert hotspots
    assert max(h.area for h in hotspots) <= 3e6


def test_territories_are_contiguous_named_by_streets_with_similar_risk(portland):
    folder, _, _ = portland
    areas = gpd.read_file(folder / "territories.geojson")
    assert len(areas) == 3
    assert all(g.geom_type == "Polygon" for g in areas.geometry)
    assert all(" / " in name for name in areas["name"])  # "SE Yamhill St / SE 16th Ave"
    assert areas["risk_share"].max() - areas["risk_share"].min() < 0.15
    config = tomllib.loads((folder / "plan.toml").read_text("utf-8"))
    for team, area in zip(config["teams"], areas.itertuples(), strict=True):
        lat, lon = team["base"]
        assert area.geometry.buffer(0.0003).contains(shapely.Point(lon, lat))


def test_validate_warns_about_the_placeholder_contact_until_it_is_changed(portland, tmp_path):
    folder, _, _ = portland
    checked = run_cli("validate", "--config", str(folder / "plan.toml"))
    assert checked.returncode == 0
    assert checked.stderr.count("is still the placeholder init wrote") == 3
    text = (folder / "plan.toml").read_text("utf-8").replace(PLACEHOLDER_CONTACT, "555-0100")
    (folder / "changed.toml").write_text(text, encoding="utf-8")
    checked = run_cli("validate", "--config", str(folder / "changed.toml"))
    assert checked.returncode == 0
    assert "placeholder" not in checked.stderr


def test_init_refuses_to_overwrite_a_config_without_force(portland):
    folder, _, _ = portland
    before = (folder / "plan.toml").read_bytes()
    again = _init(folder, *PORTLAND_FILES)
    assert again.returncode == 2
    assert "exists" in again.stderr and "--force" in again.stderr
    assert (folder / "plan.toml").read_bytes() == before


def test_an_export_without_dates_or_places_is_written_with_each_problem_once(tmp_path):
    rows = _portland_rows()[["incident_id"]].assign(when="unknown")
    rows.to_csv(tmp_path / "export.csv", index=False)
    result = _init(tmp_path / "city", tmp_path / "export.csv", PORTLAND / "streets.osm.pbf")
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2, errors
    assert "no column holds dates" in errors[0] and "no coordinate columns" in errors[1]
    assert (tmp_path / "city" / "plan.toml").exists()
    assert (tmp_path / "city" / "setup.html").exists()
    assert "Traceback" not in result.stderr


def test_a_missing_file_is_named_without_a_traceback(tmp_path):
    result = _init(tmp_path / "city", tmp_path / "nothere.csv", PORTLAND / "streets.osm.pbf")
    assert result.returncode == 2
    assert "nothere.csv: no such file (--incidents)" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "city" / "plan.toml").exists()


@pytest.mark.skipif(
    not (Path("/usr/bin/chromium").exists() and (ROOT / "assets" / "node_modules").is_dir())
    and not os.environ.get("CI"),
    reason="needs Debian's chromium and assets/node_modules (`make test` installs both)",
)
def test_setup_html_opens_in_chromium_without_a_console_error(portland):
    from browser_support import open_page
    from playwright.sync_api import sync_playwright

    folder, _, _ = portland
    with sync_playwright() as p:
        for width, height in ((1280, 800), (390, 844)):
            browser, page, report = open_page(p, folder / "setup.html", width=width, height=height)
            territories = page.locator("path.leaflet-interactive").count()
            title = page.inner_text(".setup-note h1")
            note = page.locator(".setup-note").bounding_box()
            layers = page.locator(".leaflet-control-layers").bounding_box()
            browser.close()
            assert report.errors == []
            assert note["x"] + note["width"] < layers["x"], width  # the title clears the button
            assert territories >= 3
            assert title == "Portland: proposed set-up"


# --- Minneapolis: centerlines and the program's own areas ----------------------------------------


@pytest.fixture(scope="module")
def minneapolis(tmp_path_factory: pytest.TempPathFactory):
    return _init_and_plan(
        tmp_path_factory.mktemp("init") / "minneapolis",
        MINNEAPOLIS / "gva_minneapolis_2013-2018.csv",
        MINNEAPOLIS / "streets.parquet",
        "--territories",
        str(MINNEAPOLIS / "neighborhoods.geojson"),
        "--teams",
        "6",
    )


def test_minneapolis_areas_grouped_into_six_teams(minneapolis):
    folder, made, planned = minneapolis
    assert made.returncode == 0, made.stderr
    config = tomllib.loads((folder / "plan.toml").read_text("utf-8"))
    assert config["territories"]["name_column"] == "BDNAME"
    assert config["network"]["name_column"] == "streetname"
    assert "INTERSTATE" in config["network"]["drop_name_pattern"]
    # The guesses are shown as init makes them, not only in the file.
    assert 'chose [territories] name_column = "BDNAME"' in made.stderr
    assert 'chose [network] name_column = "streetname"' in made.stderr
    assert config["city"]["crs"] == "EPSG:32615"
    assert config["city"]["timezone"] == "America/Chicago"
    assert len(config["teams"]) == 6
    names = [n for team in config["teams"] for n in team["territory"]]
    assert len(names) == len(set(names)) == 87  # every neighbourhood, each in one territory
    assert not (folder / "territories.geojson").exists()  # the program's own file is used
    assert planned.returncode == 0, planned.stderr
    document = json.loads((folder / "out" / "plan.json").read_text("utf-8"))
    corners = [s["corner"] for team in document["teams"] for s in team["stops"]]
    assert corners and all(" & " in c or c.startswith("on ") for c in corners)
    assert sum(" & " in c for c in corners) > 0.8 * len(corners)


def test_grouped_areas_are_one_piece_each(tmp_path):
    areas = gpd.read_file(MINNEAPOLIS / "neighborhoods.geojson").to_crs("EPSG:32615")
    xy = shapely.get_coordinates(areas.geometry.representative_point().to_numpy())
    risk = np.linspace(1, 3, len(xy))
    labels = group_areas(areas, xy, risk, 6)
    assert sorted(set(labels.tolist())) == list(range(6))
    for group in range(6):
        shape = areas.geometry[labels == group].buffer(5).union_all().buffer(-5)
        assert sum(part.area >= 1 for part in getattr(shape, "geoms", [shape])) == 1


def test_cut_territories_share_the_risk_and_are_reproducible():
    rng = np.random.default_rng(7)
    xy = rng.uniform(0, 5000, size=(3000, 2))
    risk = np.exp(-np.hypot(*(xy - [1200, 1500]).T) / 800) + 0.05
    extent = shapely.box(0, 0, 5000, 5000)
    shapes = cut_territories(xy, risk, extent, 4)
    assert len(shapes) == 4
    assert all(s.geom_type == "Polygon" for s in shapes)
    assert abs(sum(s.area for s in shapes) - extent.area) < 1
    shares = [risk[shapely.contains_xy(s, xy[:, 0], xy[:, 1])].sum() / risk.sum() for s in shapes]
    assert max(shares) - min(shares) < 0.1
    again = cut_territories(xy, risk, extent, 4)
    assert all(a.equals(b) for a, b in zip(shapes, again, strict=True))


def test_street_names_and_freeway_rules_of_centerlines():
    choices, _, config = detect_streets(MINNEAPOLIS / "streets.parquet", crs="EPSG:32615")
    assert config.name_column == "streetname"
    assert config.speed_column == "speed_lim" and config.drop_speed_at_least == 55
    streets = gpd.read_parquet(MINNEAPOLIS / "streets.parquet")
    import re

    dropped = (
        streets["streetname"]
        .fillna("")
        .str.contains(re.compile(config.drop_name_pattern, re.IGNORECASE))
    )
    assert dropped.any()
    assert not streets["streetname"][dropped].isin(["LAKE", "NICOLLET", "CHICAGO"]).any()
    assert all(c.why for c in choices if c.key != "path")


# --- detections that defeat the naive guess ----------------------------------------------------


def _portland_area() -> shapely.Geometry:
    shapes = gpd.read_file(PORTLAND / "territories.geojson").to_crs("EPSG:32610")
    return shapes.union_all()


def _portland_rows() -> pd.DataFrame:
    return pd.read_csv(PORTLAND / "incidents.csv")


def test_a_date_column_of_text_is_passed_over_for_the_one_with_dates():
    rows = _portland_rows()
    rows = rows.rename(columns={"date": "reported_on"})
    rows.insert(1, "date", "see the narrative")
    found = detect_incidents(rows, Path("x.csv"), crs="EPSG:32610", area=_portland_area())
    chosen = {c.key: c for c in found.choices}
    assert chosen["date_column"].value == "reported_on"
    assert "`date` was passed over" in chosen["date_column"].why
    assert found.problems == []


def test_x_y_in_state_plane_feet_get_the_state_plane_crs():
    rows = _portland_rows().dropna(subset=["latitude", "longitude"])
    to_feet = Transformer.from_crs("EPSG:4326", "EPSG:2269", always_xy=True)
    x, y = to_feet.transform(rows["longitude"].to_numpy(), rows["latitude"].to_numpy())
    rows = rows.drop(columns=["latitude", "longitude"]).assign(x=x, y=y)
    found = detect_incidents(rows, Path("x.csv"), crs="EPSG:32610", area=_portland_area())
    chosen = {c.key: c.value for c in found.choices}
    assert chosen["source_crs"] == "EPSG:2269"
    assert (chosen["x_column"], chosen["y_column"]) == ("x", "y")
    assert found.problems == []


def test_a_lat_column_holding_longitudes_is_read_the_right_way_round():
    rows = _portland_rows().rename(columns={"latitude": "lon", "longitude": "lat"})
    found = detect_incidents(rows, Path("x.csv"), crs="EPSG:32610", area=_portland_area())
    chosen = {c.key: c for c in found.choices}
    assert chosen["lat_column"].value == "lon"
    assert chosen["lon_column"].value == "lat"
    assert "whatever their names say" in chosen["lat_column"].why


def test_victim_rows_sharing_an_id_are_grouped():
    rows = _portland_rows()
    rows = pd.concat([rows, rows.head(20)], ignore_index=True)
    found = detect_incidents(rows, Path("x.csv"), crs="EPSG:32610", area=_portland_area())
    chosen = {c.key: c.value for c in found.choices}
    assert chosen["id_column"] == "incident_id"
    assert chosen["rows"] == "victims"


def test_coordinates_of_another_city_are_a_problem_naming_the_fix():
    rows = _portland_rows().assign(latitude=44.97, longitude=-93.26)  # Minneapolis
    found = detect_incidents(rows, Path("x.csv"), crs="EPSG:32610", area=_portland_area())
    assert found.problems and "land nowhere near the streets" in found.problems[0]
    assert "source_crs" in found.problems[0]


def test_incidents_in_a_geojson_are_placed_by_their_geometry(tmp_path):
    rows = _portland_rows().dropna(subset=["latitude", "longitude"])
    frame = gpd.GeoDataFrame(
        rows.drop(columns=["latitude", "longitude"]),
        geometry=gpd.points_from_xy(rows["longitude"], rows["latitude"]),
        crs="EPSG:4326",
    )
    found = detect_incidents(frame, Path("x.geojson"), crs="EPSG:32610", area=_portland_area())
    keys = {c.key for c in found.choices}
    assert not keys & {"lat_column", "lon_column", "x_column", "y_column", "source_crs"}
    assert found.problems == [] and len(found.points) == len(rows)


def test_the_time_zone_is_looked_up_offline_and_none_at_sea():
    from outreach_routes.newcity import _timezone_at

    assert _timezone_at(-93.26, 44.97) == "America/Chicago"
    assert _timezone_at(0.0, 0.0) is None  # the Gulf of Guinea: init asks for --timezone


def test_init_builds_the_network_once_for_itself_validate_and_plan(tmp_path, monkeypatch):
    import outreach_routes.network as network
    from outreach_routes.newcity import CityFiles, init_city

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    built = []
    original = network._build_walking_network
    monkeypatch.setattr(
        network, "_build_walking_network", lambda *a: built.append(a) or original(*a)
    )
    monkeypatch.chdir(ROOT)  # the files named as a user names them, relative to here
    given = CityFiles(
        Path("tests/data/portland/incidents.csv"), Path("tests/data/portland/streets.osm.pbf")
    )
    result = init_city(tmp_path / "city", replace(given, teams=2))
    assert result.problems == []
    assert len(built) == 1


def test_setup_page_escapes_text_from_the_files():
    from outreach_routes.render import setup_page

    square = shapely.box(-122.67, 45.51, -122.66, 45.52)
    page = setup_page(
        city="<script>alert(1)</script>",
        extent=square,
        streets=None,
        incidents=gpd.GeoDataFrame({"outside": [False]}, geometry=[square.centroid]),
        territories=gpd.GeoDataFrame({"team": ["<b>x</b>"]}, geometry=[square]),
        bases=[{"name": "<b>x</b>", "lat": 45.515, "lon": -122.665, "corner": "A & <i>B</i>"}],
        hotspots=None,
        checks=["<img src=x>"],
    )
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert "<img src=x>" not in page and "<i>B</i>" not in page and "<b>x</b>" not in page


def test_with_no_time_zone_found_init_asks_for_timezone():
    from outreach_routes.newcity import _city_choices

    streets = Path("sea.osm.pbf")
    city, problems = _city_choices(0.0, 0.0, "EPSG:32631", None, None, streets)
    assert next(c.value for c in city if c.key == "timezone") == "UTC"
    assert problems and "give --timezone" in problems[0]
    city, problems = _city_choices(0.0, 0.0, "EPSG:32631", "Africa/Lagos", "Gulf", streets)
    assert {c.key: c.value for c in city}["timezone"] == "Africa/Lagos"
    assert {c.key: c.value for c in city}["name"] == "Gulf"
    assert problems == []
