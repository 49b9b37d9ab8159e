"""The nightly re-plan (#15): a shooting on Tuesday night reaches Wednesday's route.

The bundled Philadelphia week (2023-01-02) is planned on "Monday" by the session fixture; four
shootings are then added to a copy of its incident file, and `plan --night 2023-01-04` revises
the week in a copy of that folder.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from conftest import (
    BUNDLED,
    CITIES,
    LATE_TEAM_22,
    minneapolis_config,
    run_cli,
    write_bundled_config,
)
from pyproj import Transformer

from outreach_routes.render import (
    _counted_ids,
    route_gpx,
    route_sheet,
    shift_calendar,
    team_map,
    team_view,
)

NIGHT = "2023-01-04"
TEAM = "Team 22 North Central"
# (id, local time, lat, lon): Tuesday night in district 22; Tuesday in the Fairhill no-go zone;
# Tuesday in Center City (no team's territory); 13 days before Wednesday, reported late.
NEW = [
    ("N-TUE-22", "2023-01-03 22:30:00", 39.98700, -75.16500),
    ("N-NOGO", "2023-01-03 21:00:00", 40.01200, -75.13700),
    ("N-CENTER", "2023-01-03 20:00:00", 39.95260, -75.16520),
    ("N-LATE", "2022-12-22 20:00:00", 39.99600, -75.11000),
]
RUN_STAMPED = {"manifest.json"}
TO_UTM = Transformer.from_crs("EPSG:4326", "EPSG:32618", always_xy=True)


def _utm(lon: float, lat: float) -> shapely.Point:
    return shapely.Point(TO_UTM.transform(lon, lat))


@pytest.fixture(scope="module")
def nightly(plan_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("nightly")
    incidents = gpd.read_parquet(BUNDLED / "incidents.parquet")
    added = gpd.GeoDataFrame(
        {
            "dc_key": [n[0] for n in NEW],
            "victim_no": ["1"] * len(NEW),
            "date": [n[1] for n in NEW],
            "fatal": [False] * len(NEW),
        },
        geometry=gpd.points_from_xy([n[3] for n in NEW], [n[2] for n in NEW]),
        crs=incidents.crs,
    )
    pd.concat([incidents, added.astype({"victim_no": incidents["victim_no"].dtype})]).to_parquet(
        folder / "incidents.parquet"
    )
    config = write_bundled_config(folder, keep=("incidents.parquet",))
    out = folder / "out"
    shutil.copytree(plan_dir, out)
    result = run_cli("plan", "--config", str(config), "--out", str(out), "--night", NIGHT)
    assert result.returncode == 0, result.stderr
    before = json.loads((plan_dir / "plan.json").read_text("utf-8"))
    after = json.loads((out / "plan.json").read_text("utf-8"))
    return before, after, out, result.stderr


def _routes(document: dict, team: str) -> dict[str, dict]:
    return {r["night"]: r for r in document["teams"] if r["team"] == team}


def test_nights_before_are_kept_to_the_byte(nightly):
    before, after, _, _ = nightly
    earlier = [r for r in before["teams"] if r["night"] < NIGHT]
    assert earlier
    assert [r for r in after["teams"] if r["night"] < NIGHT] == earlier


def test_wednesday_walks_a_response_stop_at_the_shooting(nightly, plan_dir):
    before, after, _, _ = nightly
    wednesday = _routes(after, TEAM)[NIGHT]
    responses = [s for s in wednesday["stops"] if s["kind"] == "response"]
    stop, *again = responses
    # The scene may be walked again in the night's second loop, two hours or more later.
    for later in again:
        assert later["stop_id"] == f"{stop['stop_id']}-2"
        assert (later["lat"], later["lon"]) == (stop["lat"], stop["lon"])
        hours = dt.datetime.fromisoformat(later["arrive"]) - dt.datetime.fromisoformat(
            stop["arrive"]
        )
        assert hours >= dt.timedelta(hours=2)
    assert len(again) <= 1
    assert stop["sources"] == ["N-TUE-22"]
    assert stop["stop_id"] == "team-22-north-central-r01"
    place = _utm(stop["lon"], stop["lat"])
    assert place.distance(_utm(NEW[0][3], NEW[0][2])) < 150
    # On the street network the plan saved, inside the territory, outside every no-go zone.
    streets = gpd.read_parquet(plan_dir / "network_edges.parquet").to_crs("EPSG:32618")
    assert streets.distance(place).min() < 0.5
    territory = next(f for f in after["territories"]["features"] if f["properties"]["team"] == TEAM)
    territory = gpd.GeoSeries([shapely.geometry.shape(territory["geometry"])], crs=4326)
    assert territory.to_crs("EPSG:32618").iloc[0].contains(place)
    zones = gpd.GeoDataFrame.from_features(after["no_go_zones"]["features"], crs=4326)
    assert not zones.to_crs("EPSG:32618").contains(place).any()
    record = after["revisions"][-1]
    assert record["night"] == NIGHT
    assert record["cutoff"] == "2023-01-04T18:00:00-05:00"
    assert [r["stop_id"] for r in record["response_stops"]] == [stop["stop_id"]]
    assert record["response_stops"][0]["walked_on"] == NIGHT


def test_the_rest_of_wednesday_mostly_holds_and_the_counts_match(nightly):
    before, after, _, _ = nightly
    record = after["revisions"][-1]
    for change in record["changes"]:
        was = _corners(_routes(before, change["team"])[change["night"]])
        now = _corners(_routes(after, change["team"])[change["night"]])
        assert change["kept"] == len(was & now)
        assert change["added"] == sorted(now - was)
        assert change["dropped"] == sorted(was - now)
    wednesday = next(c for c in record["changes"] if c["team"] == TEAM and c["night"] == NIGHT)
    was = _corners(_routes(before, TEAM)[NIGHT])
    assert wednesday["kept"] >= 0.6 * len(was), wednesday
    assert "team-22-north-central-r01" in wednesday["added"]


def _corners(route: dict) -> set[str]:
    """The stop ids of a night's route, without the base (start, end and between loops)."""
    return {s["stop_id"] for s in route["stops"] if s["kind"] != "base"}


def test_kept_stops_keep_their_ids_and_places(nightly):
    before, after, _, _ = nightly
    placed = {s["stop_id"]: (s["lat"], s["lon"]) for r in before["teams"] for s in r["stops"]}
    for route in after["teams"]:
        for stop in route["stops"]:
            if stop["stop_id"] in placed:
                assert placed[stop["stop_id"]] == (stop["lat"], stop["lon"]), stop["stop_id"]
    later = [r for r in after["teams"] if r["team"] == TEAM and r["night"] > NIGHT]
    ids = [s["stop_id"] for r in later for s in r["stops"]]
    assert sum(i in placed for i in ids) / len(ids) >= 0.9


def test_other_teams_files_are_unchanged(nightly, plan_dir):
    _, after, out, _ = nightly
    slugs = {r["slug"] for r in after["teams"] if r["team"] != TEAM}
    assert len(slugs) == 5
    for slug in slugs:
        for suffix in (".html", "-sheet.html", ".gpx", ".ics"):
            name = f"teams/{slug}{suffix}"
            assert (out / name).read_bytes() == (plan_dir / name).read_bytes(), name
    changed = "teams/team-22-north-central-sheet.html"
    assert (out / changed).read_bytes() != (plan_dir / changed).read_bytes()


def test_shootings_given_no_response_stop_are_reported(nightly):
    _, after, _, stderr = nightly
    reasons = {r["incident_id"]: r["reason"] for r in after["revisions"][-1]["not_answered"]}
    assert set(reasons) == {"N-NOGO", "N-CENTER", "N-LATE"}
    assert reasons["N-NOGO"] == "inside a no-go zone of team Team 25 Fairhill"
    assert reasons["N-CENTER"].startswith("outside every territory; nearest team Team ")
    assert reasons["N-LATE"] == "older than 72 h ([response] window_h) at the cut-off"
    for incident in reasons:
        assert f"({incident}): no response stop: " in stderr


def test_team_files_are_made_from_the_team_view_alone(nightly):
    """A team's files are copied when its view is unchanged: sound only if the view is all
    they are made from. Checked on every team of the revised plan."""
    _, after, _, _ = nightly
    for slug in dict.fromkeys(r["slug"] for r in after["teams"]):
        view = team_view(after, slug)
        for make in (route_sheet, route_gpx, shift_calendar):
            assert make(view, slug) == make(after, slug), (slug, make.__name__)
        maps = []
        for document in (view, after):
            with _counted_ids():
                maps.append(team_map(document, slug).get_root().render())
        assert maps[0] == maps[1], slug


def test_the_same_night_again_gives_the_same_bytes(nightly, tmp_path):
    _, _, out, _ = nightly
    again = tmp_path / "again"
    shutil.copytree(out, again)
    # A team file edited since it was made is made again, not copied.
    gpx = next((again / "teams").glob("*.gpx"))
    gpx.write_bytes(gpx.read_bytes() + b"<!-- edited -->")
    config = out.parent / "plan.toml"
    rerun = run_cli("plan", "--config", str(config), "--out", str(again), "--night", NIGHT)
    assert rerun.returncode == 0, rerun.stderr
    for path in sorted(out.rglob("*")):
        # The manifest holds the run's times and memory: the one file a rerun changes.
        if path.is_file() and path.relative_to(out).as_posix() not in RUN_STAMPED:
            assert path.read_bytes() == (again / path.relative_to(out)).read_bytes(), path.name


def test_coordinators_see_what_is_new_tonight(nightly):
    _, _, out, _ = nightly
    for page in ("index.html", "changes.html"):
        text = (out / page).read_text("utf-8")
        assert "New tonight (Wednesday 04 Jan, shootings to 18:00)" in text, page
        assert "<b>Team 22 North Central</b>: response walk to " in text, page
        assert "after the shooting of Tue 03 Jan 22:30 (walked Wednesday 04 Jan)" in text, page
        # Named by place and time, never by incident id.
        assert (
            "Shooting at 39.95260, -75.16520 on Tue 03 Jan 20:00: no response stop, outside every"
            in text
        ), page
        assert "N-CENTER" not in text, page


@pytest.fixture(scope="module")
def later_nights(nightly, tmp_path_factory: pytest.TempPathFactory):
    """After Wednesday's revision, `plan --night` on Thursday, Friday and Saturday in one
    folder, as the README's cron lines do: each night's plan.json and overview."""
    _, _, out, _ = nightly
    folder = tmp_path_factory.mktemp("later") / "out"
    shutil.copytree(out, folder)
    config = out.parent / "plan.toml"
    nights = {}
    for night in ("2023-01-05", "2023-01-06", "2023-01-07"):
        result = run_cli("plan", "--config", str(config), "--out", str(folder), "--night", night)
        assert result.returncode == 0, result.stderr
        nights[night] = (
            json.loads((folder / "plan.json").read_text("utf-8")),
            (folder / "index.html").read_text("utf-8"),
            result.stderr,
        )
    return nights


def test_a_shooting_answered_once_stays_answered(later_nights):
    """Tuesday's shooting N-TUE-22 had its response walk on Wednesday. On Saturday it is older
    than the 72 h window: it is listed as answered on Wednesday by its team, never as "no
    response stop, older than 72 h" (said only of N-LATE, which never got a walk), and the
    overview names it by place and time, not by id."""
    for night, (plan, overview, _) in later_nights.items():
        record = plan["revisions"][-1]
        assert record["night"] == night
        unanswered = {r["incident_id"]: r["reason"] for r in record["not_answered"]}
        assert "N-TUE-22" not in unanswered, night
        assert unanswered["N-LATE"] == "older than 72 h ([response] window_h) at the cut-off"
        assert "N-TUE-22" not in overview, night
    plan, overview, stderr = later_nights["2023-01-07"]
    [answered] = plan["revisions"][-1]["answered_before"]
    assert answered["incident_id"] == "N-TUE-22"
    assert answered["occurred_at"] == "2023-01-03T22:30:00-05:00"
    assert (answered["team"], answered["walked_on"]) == (TEAM, NIGHT)
    assert answered["stop_id"] == "team-22-north-central-r01"
    place = f"{answered['lat']:.5f}, {answered['lon']:.5f}"  # Philadelphia's streets: no names
    assert (
        f"Shooting at {place} on Tue 03 Jan 22:30: response walk Wednesday 04 Jan by "
        f"<b>{TEAM}</b>" in overview
    )
    assert f"Shooting at {place} on Tue 03 Jan 22:30: no response stop" not in overview
    unanswered = {r["incident_id"] for r in plan["revisions"][-1]["not_answered"]}
    assert unanswered == {"N-LATE", "N-NOGO", "N-CENTER"}  # never walked: older than 72 h now
    assert f"answered by {TEAM} on the night of {NIGHT}" in stderr
    # The title box: the latest revision and how many came before, not each one's line.
    assert (
        "revised for the night of Saturday 07 Jan with shootings to Sat 07 Jan 18:00 "
        "(after 3 earlier revisions)" in overview
    )
    assert "revised for the night of 2023-01-04" not in overview
    assert [r["night"] for r in plan["revisions"]] == [NIGHT, *later_nights]
    for night in ("2023-01-05", "2023-01-06"):  # inside its window: its stop, walked Wednesday
        assert (
            "team-22-north-central-r01 was walked on the night of 2023-01-04"
            in (later_nights[night][2])
        )


def test_the_weeks_saved_state_is_read_back_only_when_it_matches(plan_dir, tmp_path, monkeypatch):
    """The weekly run saves its walking graph, hotspots and stops; `--night` reads them back
    when they were made from the same inputs (and plans the same bytes as when it computes
    them), and computes them again when an old row of the incident file has changed."""
    import outreach_routes.pipeline as pipeline
    from outreach_routes import load_config, plan_week, write_plan

    shutil.copy(BUNDLED / "incidents.parquet", tmp_path / "incidents.parquet")
    config = load_config(write_bundled_config(tmp_path, keep=("incidents.parquet",)))
    night = dt.date.fromisoformat(NIGHT)
    calls = []
    for name in ("_hotspots", "_stops", "load_walking_network"):
        real = getattr(pipeline, name)
        monkeypatch.setattr(
            pipeline,
            name,
            lambda *a, _real=real, _name=name, **k: calls.append(_name) or _real(*a, **k),
        )

    def revise(folder: Path) -> list[str]:
        calls.clear()
        document = json.loads((folder / "plan.json").read_text("utf-8"))
        write_plan(plan_week(config, night=night, previous=document, reuse=folder), folder)
        return sorted(calls)

    saved, fresh = tmp_path / "saved", tmp_path / "fresh"
    shutil.copytree(plan_dir, saved)
    shutil.copytree(plan_dir, fresh)
    shutil.rmtree(fresh / "state")
    assert revise(saved) == []  # all three read back
    assert revise(fresh) == ["_hotspots", "_stops", "load_walking_network"]
    for path in sorted(saved.rglob("*")):
        if path.is_file() and path.name not in RUN_STAMPED:
            assert path.read_bytes() == (fresh / path.relative_to(saved)).read_bytes(), path

    # An old shooting moved in the export: the hotspots come from other data now.
    incidents = gpd.read_parquet(tmp_path / "incidents.parquet")
    incidents.loc[incidents.index[100], "geometry"] = shapely.Point(-75.16, 39.99)
    incidents.to_parquet(tmp_path / "incidents.parquet")
    assert revise(saved) == ["_hotspots", "_stops"]


def test_a_re_planned_team_walks_around_a_kept_team_sharing_its_district(tmp_path: Path):
    """Two shifts in North Central; Tuesday's shooting lies in a no-go zone of the late team
    only, so the nightly re-plan answers it with the evening team alone and keeps the late
    team's week to the byte. The evening team's new nights are planned around the late team's
    kept routes (`plan_routes` hands them to the solver as other teams' visits): no corner sees
    both teams within ``revisit_gap_min`` on any night."""
    from outreach_routes import load_config

    extra = """
[[no_go_zones]]
name = "Late team stays clear"
reason = "Test: only the late team avoids this block."
teams = ["Team 22 late"]
polygon = [[-75.1670, 39.9860], [-75.1630, 39.9860], [-75.1630, 39.9880], [-75.1670, 39.9880]]
"""
    shutil.copy(BUNDLED / "incidents.parquet", tmp_path / "incidents.parquet")
    config = write_bundled_config(tmp_path, keep=("incidents.parquet",), extra=LATE_TEAM_22 + extra)
    out = tmp_path / "out"
    weekly = run_cli("plan", "--config", str(config), "--out", str(out), "--quiet")
    assert weekly.returncode == 0, weekly.stderr
    before = json.loads((out / "plan.json").read_text("utf-8"))
    incidents = gpd.read_parquet(tmp_path / "incidents.parquet")
    shooting = incidents.iloc[:1].assign(dc_key="N-TUE-22", date=NEW[0][1])
    shooting = shooting.set_geometry(gpd.points_from_xy([NEW[0][3]], [NEW[0][2]], crs=4326))
    pd.concat([incidents, shooting]).to_parquet(tmp_path / "incidents.parquet")
    night = run_cli("plan", "--config", str(config), "--out", str(out), "--night", NIGHT)
    assert night.returncode == 0, night.stderr
    after = json.loads((out / "plan.json").read_text("utf-8"))

    assert _routes(after, "Team 22 late") == _routes(before, "Team 22 late")
    wednesday = _routes(after, TEAM)[NIGHT]
    assert any(s["kind"] == "response" for s in wednesday["stops"])
    assert wednesday != _routes(before, TEAM)[NIGHT]
    gap = dt.timedelta(minutes=load_config(config).routing.revisit_gap_min)

    def visits(team: str) -> list[tuple[float, float, dt.datetime]]:
        return [
            (s["lat"], s["lon"], dt.datetime.fromisoformat(s["arrive"]))
            for r in after["teams"]
            if r["team"] == team
            for s in r["stops"]
            if s["kind"] != "base"
        ]

    late = visits("Team 22 late")
    close = [
        (a, b) for a in visits(TEAM) for b in late if a[:2] == b[:2] and abs(a[2] - b[2]) < gap
    ]
    assert close == []


def test_date_only_shootings_are_walked_from_the_end_of_their_day(tmp_path: Path):
    """Minneapolis's Gun Violence Archive export has dates only: every shooting sits at 00:00.
    A fatal shooting dated Monday 02 Apr counts from the end of its day, so with ``delay_h =
    12`` it is walked on a shift starting Tuesday 12:00 or later, not on Monday evening (where
    00:00 + 12 h put it before); the run says so, and no page gives it a time of day."""
    source = CITIES["minneapolis"].parent
    export = pd.read_csv(source / "gva_minneapolis_2013-2018.csv", dtype=str)
    shooting = {
        "incident_id": "9990001",
        "date": "2018-04-02",
        "n_killed": "1",
        "n_injured": "0",
        "incident_characteristics": "Shot - Dead (murder, accidental, suicide)",
        "latitude": "44.9990",
        "longitude": "-93.2950",
    }
    incidents = tmp_path / "incidents.csv"
    pd.concat([export, pd.DataFrame([shooting])]).to_csv(incidents, index=False)
    config = minneapolis_config(
        tmp_path,
        source / "requests.csv",
        **{
            json.dumps(str(source / "gva_minneapolis_2013-2018.csv")): json.dumps(str(incidents)),
            "iterations = 150": "iterations = 10",
        },
    )
    out = tmp_path / "out"
    result = run_cli("plan", "--config", str(config), "--out", str(out), "--night", "2018-04-02")
    assert result.returncode == 0, result.stderr
    plan = json.loads((out / "plan.json").read_text("utf-8"))
    walked = [
        (route, stop)
        for route in plan["teams"]
        for stop in route["stops"]
        if stop["kind"] == "response"
    ]
    assert walked
    for route, stop in walked:
        assert stop["sources"] == ["9990001"]
        assert route["shift_start"] >= "2018-04-03T12:00:00-05:00", route["shift_start"]
        assert stop["label"] == "response: shooting Mon 02 Apr"
    assert plan["revisions"][-1]["response_stops"][0]["walked_on"] == "2018-04-03"
    assert plan["times_of_day"] is False
    notes = json.loads((out / "manifest.json").read_text("utf-8"))["summary"]["notes"]
    assert any("count from the end of its shooting's day" in n for n in notes), notes
    assert "count from the end of its shooting's day" in result.stderr
    pages = [out / "index.html", out / "changes.html", *sorted((out / "teams").glob("*.html"))]
    for page in pages:
        assert "Mon 02 Apr 00:00" not in page.read_text("utf-8"), page.name
    assert "after the shooting of Mon 02 Apr (walked Tuesday 03 Apr)" in (
        out / "changes.html"
    ).read_text("utf-8")
    # Saturday: its window (from Tue 00:00) has closed; it is named by its corner and date as
    # answered on Tuesday, not as older than the window.
    result = run_cli("plan", "--config", str(config), "--out", str(out), "--night", "2018-04-07")
    assert result.returncode == 0, result.stderr
    record = json.loads((out / "plan.json").read_text("utf-8"))["revisions"][-1]
    assert "9990001" not in {r["incident_id"] for r in record["not_answered"]}
    [answered] = record["answered_before"]
    assert (answered["team"], answered["walked_on"]) == ("North Broadway", "2018-04-03")
    assert answered["corner"]
    corner = html.escape(answered["corner"])
    assert (
        f"Shooting at {corner} on Mon 02 Apr: response walk Tuesday 03 Apr by <b>North Broadway"
        in (out / "index.html").read_text("utf-8")
    )
