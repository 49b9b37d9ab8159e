"""Street corners written by people, matched offline against the Minneapolis street names."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from conftest import CITIES

from outreach_routes import InputDataError, load_config, load_network
from outreach_routes.corners import corner_index, corner_outcomes, find_corner, normalise_street
from outreach_routes.requests import locate_corners

# GVA addresses that are not street corners in the city's walking network: freeways (not
# walked), campus buildings, and blocks.
NOT_A_CORNER = re.compile(r"interstate|\bI-\d|\bMN \d|highway|\bhall\b|block of", re.IGNORECASE)


@pytest.fixture(scope="module")
def minneapolis():
    config = load_config(CITIES["minneapolis"])
    graph, _ = load_network(config.network, crs=config.city.crs)
    areas = gpd.read_file(config.territories.path).to_crs(config.city.crs)
    return config, corner_index(graph), areas


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("Emerson Avenue N.", "EMERSON AVE N"),
        ("42nd Street", "42ND ST"),
        ("42 St", "42ND ST"),
        ("Eighth Street South", "8TH ST S"),
        ("W. Broadway", "W BROADWAY"),
        ("WEST BROADWAY", "W BROADWAY"),
    ],
)
def test_names_are_normalised(written, expected):
    assert normalise_street(written) == expected


def test_direction_that_is_part_of_the_name_is_kept(minneapolis):
    _, index, _ = minneapolis
    west_broadway = find_corner("W Broadway & Emerson Ave N", index)
    # Plain BROADWAY is another street (north-east Minneapolis), several km away.
    ne_broadway = find_corner("Broadway St NE & Central Ave NE", index)
    assert shapely.Point(west_broadway).distance(shapely.Point(ne_broadway)) > 2000
    assert find_corner("Emerson and Broadway", index) == west_broadway


def test_unknown_street_lists_the_closest_names(minneapolis):
    _, index, _ = minneapolis
    with pytest.raises(
        InputDataError,
        match=r"no street named 'Chicgo Ave'.*closest names: "
        r".*CHICAGO",
    ):
        find_corner("Lake St & Chicgo Ave", index)


def test_streets_meeting_twice_are_reported_with_candidates(minneapolis):
    _, index, _ = minneapolis
    with pytest.raises(
        InputDataError, match=r"meet at \d places \(44\.\d{5}, -93\.\d{5}; 44\.\d{5}, -93\.\d{5}"
    ):
        find_corner("3rd St N and 1st Ave N", index)


def test_one_string_that_is_not_a_corner(minneapolis):
    _, index, _ = minneapolis
    with pytest.raises(InputDataError, match="write two street names joined by '&' or 'and'"):
        find_corner("1611 E Lake St", index)


def test_a_name_the_file_keeps_with_its_suffix(minneapolis):
    _, index, _ = minneapolis
    # Downtown, Nicollet Avenue is NICOLLET MALL in the city's file.
    corner = shapely.Point(find_corner("3rd Street and Nicollet Avenue", index))
    mall = [index.xy[n] for n in index.nodes_by_name["NICOLLET MALL"]]
    assert min(corner.distance(shapely.Point(xy)) for xy in mall) < 1


def test_a_corner_outside_the_territory_is_reported_not_guessed(minneapolis):
    _, index, areas = minneapolis
    phillips = areas[areas["BDNAME"] == "East Phillips"].union_all()
    # W Lake St & Pillsbury Ave S is 2.7 km west of East Phillips.
    elsewhere = find_corner("Pillsbury and Lake", index)
    assert not phillips.buffer(500).contains(shapely.Point(elsewhere))
    with pytest.raises(
        InputDataError,
        match=r"do not meet inside the team's territory; they meet at 44\.\d{5}, -93\.\d{5}",
    ):
        find_corner("Pillsbury and Lake", index, within=phillips)


def test_unmatched_corner_requests_are_listed_not_fatal(minneapolis):
    _, index, areas = minneapolis
    requests = gpd.GeoDataFrame(
        {
            "request_id": ["A", "B"],
            "active": [True, True],
            "intersection": ["Lake St and Chicago Ave", "3rd St N and 1st Ave N"],
            "team": [None, None],
        },
        geometry=[None, None],
        crs=areas.crs,
    )
    territories = areas.rename(columns={"BDNAME": "team"})
    located, unplaced = locate_corners(requests, index, territories)
    assert located.geometry.notna().tolist() == [True, False]
    assert unplaced["request_id"].tolist() == ["B"]
    assert re.search(r"meet at \d places \(44\.\d{5}, -93\.\d{5}", unplaced["reason"].iloc[0])


def test_real_gva_corners_resolve(minneapolis):
    """GVA's hand-written corners inside the city, against their geocoded points."""
    config, index, areas = minneapolis
    gva = pd.read_csv(config.incidents.path)
    gva = gva[gva["address"].str.contains(" and ", na=False) & gva["latitude"].notna()]
    points = gpd.GeoSeries(gpd.points_from_xy(gva["longitude"], gva["latitude"]), crs=4326)
    points = points.to_crs(config.city.crs).to_numpy()
    city = areas.union_all()
    in_city = [
        city.contains(p) and not NOT_A_CORNER.search(a)
        for a, p in zip(gva["address"], points, strict=True)
    ]
    frame = corner_outcomes(gva["address"].tolist(), points, index, areas.geometry)
    frame = frame[in_city]
    assert len(frame) > 150
    assert (frame["outcome"] != "wrong").all()
    trusted = frame[frame["truth_on_streets"]]
    assert len(trusted) > 0.95 * len(frame)
    assert (trusted["outcome"] == "right").mean() >= 0.95
    reported = frame[frame["outcome"] == "reported"]
    assert reported["message"].str.contains(r"meet at|come closest at|closest names").all()


def test_plan_with_every_kind_of_unplaceable_corner(tmp_path):
    """Unknown street, streets that never meet, a corner outside its team's territory, one that
    meets at several places, a place outside every territory: the plan runs, each is listed
    with its reason, and the overview opens in Chromium without an error."""
    from browser_support import open_page
    from conftest import minneapolis_config, run_plan
    from playwright.sync_api import sync_playwright

    requests = tmp_path / "requests.csv"
    requests.write_text(
        "request_id,priority,requester,note,valid_from,valid_to,intersection,team,lat,lon\n"
        "U1,5,Block club,Unknown street,2018-03-01,2018-05-31,Nowhere Blvd & Lake St,,,\n"
        "U2,5,Block club,Never meet,2018-03-01,2018-05-31,Lake St & Lowry Ave N,,,\n"
        "U3,5,Block club,Wrong team,2018-03-01,2018-05-31,Lake St & Chicago Ave,North Broadway,,\n"
        "U4,5,Block club,Meets twice,2018-03-01,2018-05-31,3rd St N & 1st Ave N,,,\n"
        "U5,5,Block club,No territory,2018-03-01,2018-05-31,,,44.9000,-93.2000\n"
        "U6,5,Block club,Ambiguous,2018-03-01,2018-05-31,Lake St and Lake St,,,\n"
        "OK1,5,Block club,Fine,2018-03-01,2018-05-31,Penn Ave N & Lowry Ave N,North Camden,,\n",
        encoding="utf-8",
    )
    config = minneapolis_config(tmp_path, requests, **{"iterations = 150": "iterations = 10"})
    out = run_plan(config, tmp_path / "out")
    plan = json.loads((out / "plan.json").read_text("utf-8"))
    reasons = {r["request_id"]: r["reason"] for r in plan["unserved_requests"]}
    assert set(reasons) == {"U1", "U2", "U3", "U4", "U5", "U6"}
    assert "closest names" in reasons["U1"] or "unknown" in reasons["U1"].lower()
    assert "do not meet" in reasons["U2"]
    assert "territory" in reasons["U3"]
    assert "they meet at" in reasons["U4"]  # downtown: in no team territory here
    assert reasons["U5"] == "outside every team's territory"
    assert "OK1" in plan["requests"]["served"]
    with sync_playwright() as p:
        browser, page, report = open_page(p, out / "index.html")
        page.click("text=6 request(s) not served")
        listed = page.inner_text(".plan-summary ul.unserved")
        browser.close()
    assert report.errors == []
    for rid in reasons:
        assert rid in listed


def test_corner_groups_are_dbscans_with_one_sample():
    """The few nodes where two streets meet are grouped as DBSCAN(min_samples=1) groups them
    (same groups, same order), without importing scikit-learn for `where`."""
    import numpy as np
    from sklearn.cluster import DBSCAN

    from outreach_routes.corners import _cluster

    rng = np.random.default_rng(15)
    for _ in range(200):
        points = rng.uniform(0, 500, size=(int(rng.integers(1, 12)), 2))
        labels = DBSCAN(eps=120.0, min_samples=1).fit_predict(points)
        expected = []
        for label in sorted(set(labels)):
            members = points[labels == label]
            best = members[np.argmin(np.hypot(*(members - members.mean(axis=0)).T))]
            expected.append((float(best[0]), float(best[1])))
        assert _cluster([tuple(p) for p in points], 120.0) == expected


# A city's own spelling (#39): ordinals and words spelled out, several names on one way.
SPELLED = [
    (1, 2, "East Eleventh Avenue"),
    (2, 3, "East Eleventh Avenue"),
    (4, 2, "Mount Vernon Street"),
    (2, 5, "Mount Vernon Street"),
    (6, 7, "Leonard Avenue; Fifth Avenue"),
    (7, 8, "Leonard Avenue; Fifth Avenue"),
    (9, 7, "Northeast Twenty-First Avenue"),
    (7, 10, "Northeast Twenty-First Avenue"),
    (11, 12, ["Thirty Second Street", "Oak Street"]),
    (12, 13, "Elm Street"),
]


@pytest.fixture(scope="module")
def spelled():
    from outreach_routes.corners import street_corners

    return street_corners(SPELLED, {i: (i * 100.0, 0.0) for i in range(1, 14)})


@pytest.mark.parametrize(
    ("written", "node"),
    [
        ("E 11th Ave & Mt Vernon", 2),
        ("East 11th Avenue & Mount Vernon St", 2),
        ("Fifth Ave & NE 21st Ave", 7),
        ("Leonard Ave & Northeast Twenty First Avenue", 7),
        ("32nd St & Elm St", 12),
        ("Oak St & Elm", 12),
    ],
)
def test_a_citys_own_spelling_is_read_both_ways(spelled, written, node):
    assert find_corner(written, spelled) == (node * 100.0, 0.0)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("Twenty-First Avenue", "21ST AVE"),
        ("Thirty Second St", "32ND ST"),
        ("Fortieth Street", "40TH ST"),
        ("Mount Vernon", "MT VERNON"),
        ("Wilkes-Barre Street", "WILKES-BARRE ST"),
    ],
)
def test_ordinals_beyond_twentieth_and_mount_are_normalised(written, expected):
    assert normalise_street(written) == expected


def test_suggestions_are_spelled_as_the_network_spells_them(spelled):
    with pytest.raises(InputDataError, match=r"closest names: Mount Vernon Street$"):
        find_corner("E 11th Ave & Mt Vernnon Rd", spelled)


def test_the_first_of_several_names_names_a_street():
    from outreach_routes.routing import street_name

    assert street_name("Leonard Avenue; Fifth Avenue") == "Leonard Avenue"
    assert street_name("Northeast 15th Avenue;") == "Northeast 15th Avenue"
