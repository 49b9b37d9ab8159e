"""Street corners written by people, matched offline against the Minneapolis street names."""

from __future__ import annotations

import re

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from conftest import CITIES

from outreach_routes import InputDataError, load_config, load_network
from outreach_routes.requests import (
    corner_index,
    corner_outcomes,
    find_corner,
    locate_corners,
    normalise_street,
)

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
    with pytest.raises(InputDataError, match=r"meet at \d places \(\(\d+, \d+\)"):
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
        InputDataError, match=r"do not meet inside the team's territory; they meet at \(\d+"
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
    assert re.search(r"meet at \d places \(\(\d+", unplaced["reason"].iloc[0])


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
