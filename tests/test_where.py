"""Which team is nearest at a given time: the schedule lookup, its CLI, calendars, contacts."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import icalendar
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer

from outreach_routes import InputDataError
from outreach_routes.schedule import load_schedule, nearest_teams, position_at, route_track

MONDAY_2030 = "2018-04-02T20:30"  # the Minneapolis plan week: North teams on, Lake St off


@pytest.fixture(scope="module")
def minneapolis(minneapolis_dir: Path):
    plan = json.loads((minneapolis_dir / "plan.json").read_text("utf-8"))
    return minneapolis_dir, plan, load_schedule(minneapolis_dir)


def walking_metres(folder: Path, crs: str, a_lonlat, b_lonlat) -> float:
    """Shortest walk between two points over the saved walking graph, with networkx."""
    nodes = pd.read_parquet(folder / "network_nodes.parquet", columns=["x", "y"])
    edges = pd.read_parquet(folder / "network_edges.parquet").reset_index()
    graph = nx.Graph()
    for u, v, length in zip(edges["u"], edges["v"], edges["length"], strict=True):
        if not graph.has_edge(u, v) or graph[u][v]["length"] > length:
            graph.add_edge(u, v, length=length)
    to_city = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    ends = []
    for lon, lat in (a_lonlat, b_lonlat):
        x, y = to_city.transform(lon, lat)
        gaps = np.hypot(nodes["x"] - x, nodes["y"] - y)
        ends.append((gaps.idxmin(), float(gaps.min())))
    (a, gap_a), (b, gap_b) = ends
    return nx.shortest_path_length(graph, a, b, weight="length") + gap_a + gap_b


def test_nearest_team_ranked_by_walking_time_over_the_streets(minneapolis):
    folder, plan, schedule = minneapolis
    crs = json.loads((folder / "manifest.json").read_text())["outputs"]["walking_graph"]["crs"]
    when = dt.datetime.fromisoformat(MONDAY_2030).replace(tzinfo=schedule.timezone).timestamp()
    on_now = {
        r["team"]: position_at(route_track(r), when)
        for r in plan["teams"]
        if r["night"] == "2018-04-02"
    }
    assert set(on_now) == {"North Broadway", "North Camden"}
    # A point 120 m east of where the plan puts North Camden.
    lon, lat = on_now["North Camden"]
    near = (lat, lon + 120 / (111_320 * np.cos(np.radians(lat))))
    rows = nearest_teams(schedule, MONDAY_2030, near)
    assert [r["team"] for r in rows[:2]] == ["North Camden", "North Broadway"]
    for row in rows[:2]:
        assert row["on_shift"] and row["position"] == pytest.approx(on_now[row["team"]], abs=1e-5)
        metres = walking_metres(folder, crs, on_now[row["team"]], (near[1], near[0]))
        assert row["walk_min"] == pytest.approx(metres / (3.5 * 1000 / 60), abs=0.6)
        assert row["status"].startswith(("at stop", "walking to stop"))
        assert row["next_stop"]["number"] == int(row["status"].split()[-1])
    # Off shift, after those on shift: the Lake Street teams, whose week starts on Tuesday.
    assert [r["on_shift"] for r in rows] == [True, True, False, False]
    for row in rows[2:]:
        assert row["team"].startswith("Lake Street")
        assert row["position"] is None and row["walk_min"] is None
        assert row["next_shift_start"] == "2018-04-03T18:00:00-05:00"


def test_a_corner_name_and_a_time_outside_every_shift(minneapolis):
    _folder, _plan, schedule = minneapolis
    by_corner = nearest_teams(schedule, MONDAY_2030, "W Broadway & Emerson Ave N")
    assert by_corner[0]["team"] in {"North Broadway", "North Camden"}
    morning = nearest_teams(schedule, "2018-04-02T09:00", "44.95,-93.26")
    assert not any(r["on_shift"] for r in morning)
    assert {r["next_shift_start"] for r in morning} == {
        "2018-04-02T18:00:00-05:00",
        "2018-04-03T18:00:00-05:00",
    }
    with pytest.raises(InputDataError, match="outside this plan's week"):
        nearest_teams(schedule, "2018-05-01T20:00", "44.95,-93.26")
    with pytest.raises(InputDataError, match="not a time"):
        nearest_teams(schedule, "tonight", "44.95,-93.26")


def test_where_command_prints_json_for_other_programs(minneapolis):
    folder, _plan, _schedule = minneapolis
    result = subprocess.run(
        [sys.executable, "-m", "outreach_routes", "where", "--plan", str(folder / "plan.json"),
         "--at", MONDAY_2030, "--near", "45.01,-93.29", "--json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    keys = {"team", "on_shift", "position", "next_stop", "walk_min", "contact", "next_shift_start"}
    keys.add("off_network_m")
    assert all(set(r) == keys for r in rows)
    walks = [r["walk_min"] for r in rows if r["on_shift"]]
    assert walks == sorted(walks) and len(walks) == 2


def test_calendars_hold_every_shift(city_plan):
    _city, folder, plan = city_plan
    for slug in {r["slug"] for r in plan["teams"]}:
        calendar = icalendar.Calendar.from_ical((folder / "teams" / f"{slug}.ics").read_bytes())
        events = sorted(calendar.walk("VEVENT"), key=lambda e: e["dtstart"].dt)
        routes = [r for r in plan["teams"] if r["slug"] == slug]
        assert len(events) == len(routes)
        for event, route in zip(events, routes, strict=True):
            assert event["dtstart"].dt == dt.datetime.fromisoformat(route["shift_start"])
            assert event["dtend"].dt == dt.datetime.fromisoformat(route["shift_end"])
            assert f"{len(route['stops']) - 2}. " in str(event["description"])


def test_contact_sheet_lists_every_team_and_the_coordinators(plan_dir: Path, plan_json: dict):
    page = (plan_dir / "contacts.html").read_text("utf-8")
    for route in plan_json["teams"]:
        assert route["contact"] in page and f'href="teams/{route["slug"]}.ics"' in page
    assert plan_json["coordinators_contact"] in page
    assert 'href="contacts.html"' in (plan_dir / "index.html").read_text("utf-8")


HEAVY = ("osmnx", "folium", "sklearn", "dask", "geopandas", "scipy")
# Runs a command as `outreach-routes` does, then prints which heavy libraries it imported.
WATCH = """
import atexit, sys
atexit.register(lambda: print("IMPORTED", [m for m in {heavy} if m in sys.modules],
                              file=sys.stderr))
sys.argv = ["outreach-routes", *sys.argv[1:]]
from outreach_routes.cli import main
main()
"""


def _imported(*args: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    result = subprocess.run(
        [sys.executable, "-c", WATCH.format(heavy=HEAVY), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    line = next(x for x in result.stderr.splitlines() if x.startswith("IMPORTED "))
    return result, json.loads(line.removeprefix("IMPORTED ").replace("'", '"'))


def test_where_answers_without_the_planning_libraries(minneapolis):
    """`where` (a corner by name, so the corner matcher loads too) imports none of osmnx,
    folium, scikit-learn, dask, geopandas or scipy; `--help` none either; `validate` no folium
    or dask."""
    folder, _plan, _schedule = minneapolis
    result, heavy = _imported(
        "where", "--plan", str(folder), "--at", MONDAY_2030, "--near", "Lake St & Chicago Ave"
    )
    assert result.returncode == 0, result.stderr
    assert "Lake Street" in result.stdout
    assert heavy == []
    result, heavy = _imported("--help")
    assert result.returncode == 0 and "where" in result.stdout
    assert heavy == []
    result, heavy = _imported("validate")
    assert result.returncode == 0, result.stderr
    assert "folium" not in heavy and "dask" not in heavy
    assert "geopandas" in heavy  # it did read the inputs


def test_the_package_loads_its_names_on_first_use():
    code = (
        "import sys, outreach_routes as o\n"
        "assert 'geopandas' not in sys.modules and 'outreach_routes.pipeline' not in sys.modules\n"
        "missing = [n for n in o.__all__ if n not in dir(o)]\n"
        "assert not missing, missing\n"
        "assert callable(o.plan_week) and 'outreach_routes.pipeline' in sys.modules\n"
        "assert all(getattr(o, n) is not None for n in o.__all__)\n"
        "assert o.__version__\n"
        "try:\n    o.no_such_name\nexcept AttributeError as e:\n    print(e)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "has no attribute 'no_such_name'" in result.stdout


def test_walking_metres_match_scipy(minneapolis):
    """The heap Dijkstra of the `where` command and the compiled one of the service give
    scipy's metres to every node; told where to stop, they are exact there and stop sooner."""
    from scipy.sparse import csr_array
    from scipy.sparse.csgraph import dijkstra

    from outreach_routes.schedule import walking_metres

    folder, _plan, schedule = minneapolis
    fast = load_schedule(folder, many_queries=True)
    start, to, metres = fast.walk.arrays
    n = len(start) - 1
    matrix = csr_array((metres, to, start), shape=(n, n))
    rng = np.random.default_rng(3)
    for source in (0, n // 2, n - 1, *rng.integers(n, size=3)):
        theirs = dijkstra(matrix, indices=int(source))
        for walk in (schedule.walk, fast.walk):
            ours = walking_metres(walk, int(source))
            assert np.array_equal(np.isinf(ours), np.isinf(theirs))
            finite = np.isfinite(ours)
            assert np.allclose(ours[finite], theirs[finite], rtol=0, atol=1e-6)
            # the nearest and the farthest reachable node, and one in between
            reachable = np.flatnonzero(np.isfinite(theirs))
            by_walk = reachable[np.argsort(theirs[reachable])]
            stop_at = [by_walk[1], by_walk[len(by_walk) // 3]]
            near = walking_metres(walk, int(source), stop_at=stop_at)
            assert np.allclose(near[stop_at], theirs[stop_at], rtol=0, atol=1e-6)
            assert np.isinf(near).sum() > n // 2  # it stopped early
            everything = walking_metres(walk, int(source), stop_at=[by_walk[-1]])
            assert np.isclose(everything[by_walk[-1]], theirs[by_walk[-1]], rtol=0, atol=1e-6)
