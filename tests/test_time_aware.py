"""Time-aware routes (#15): risk by hour of the day, and each night's stops walked nearer it."""

from __future__ import annotations

import json
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from outreach_routes._teamweek import _at_worst_hours as _reorder
from outreach_routes.hotspots import has_times_of_day, hourly_risk
from outreach_routes.teams import Shift

TZ = "America/New_York"
WEEK = pd.Timestamp("2023-01-02", tz=TZ)


def _at_worst_hours(order, problem, prize, shift: Shift, budget: float) -> list[int]:
    """The reordering of a night's stops for a shift, from a team's numbers."""
    start_min = shift.start.hour * 60 + shift.start.minute
    return _reorder(
        order, problem.travel, problem.service, problem.hourly, prize, start_min, budget
    )


def _shootings(rows: list[tuple[float, float, str]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"occurred_at": pd.to_datetime([r[2] for r in rows], format="mixed").tz_localize(TZ)},
        geometry=gpd.points_from_xy([r[0] for r in rows], [r[1] for r in rows]),
        crs="EPSG:32618",
    )


def test_a_rich_place_keeps_its_hours_a_thin_one_takes_the_citys():
    # The city: shootings all evening; one corner (0, 0) with 200 at 02:00, far from the rest.
    city = [(5000.0 + i, 0.0, f"2022-06-{1 + i % 28:02d} {18 + i % 5}:30") for i in range(600)]
    corner = [(0.0, 0.0, f"2022-07-{1 + i % 28:02d} 02:10") for i in range(200)]
    risk = hourly_risk(
        np.array([[0.0, 0.0], [9000.0, 9000.0]]), _shootings(city + corner), week_start=WEEK
    )
    assert risk.shape == (2, 24)
    assert np.allclose(risk.mean(axis=1), 1.0)
    rich, thin = risk
    assert int(np.argmax(rich)) == 2
    assert rich[2] > 3 * thin[2]
    # No shooting near it: the city's profile, whose evening holds most of the risk.
    assert thin[18:23].sum() > 0.6 * 24
    # Shootings after the week starts are not known to it.
    later = _shootings(city + [(0.0, 0.0, "2023-01-03 03:00")] * 500)
    assert int(np.argmax(hourly_risk(np.zeros((1, 2)), later, week_start=WEEK)[0])) != 3


def test_dates_without_times_are_detected():
    with_times = _shootings(
        [(0, 0, "2022-01-01 21:30"), (0, 0, "2022-01-02 00:00"), (0, 0, "2022-01-03 19:05")]
    )
    assert has_times_of_day(with_times["occurred_at"])
    assert not has_times_of_day(
        _shootings([(0, 0, "2022-01-01"), (0, 0, "2022-01-02"), (0, 0, "2022-01-03 22:00")])[
            "occurred_at"
        ]
    )


def _problem(hourly: np.ndarray) -> SimpleNamespace:
    # Base 0 and stops 1, 2, 3 on a line 10 minutes apart; 15 minutes at each.
    xy = np.array([0.0, 10.0, 20.0, 30.0])
    return SimpleNamespace(
        travel=np.abs(xy[:, None] - xy[None, :]),
        service=np.array([0.0, 15.0, 15.0, 15.0]),
        hourly=hourly,
    )


def _shift(at: str = "18:00") -> Shift:
    start = pd.Timestamp(f"2023-01-02 {at}", tz=TZ)
    return Shift(night=start.date(), start=start, end=start + pd.Timedelta(hours=5))


def test_stops_are_walked_nearer_their_riskiest_hour():
    hourly = np.ones((4, 24))
    hourly[3, 18] = 5.0  # the far stop is riskiest from 18:00 to 19:00
    hourly[1, 19] = 5.0  # the near one from 19:00 to 20:00
    problem = _problem(hourly)
    prize = np.array([0.0, 10.0, 10.0, 10.0])
    order = _at_worst_hours([1, 2, 3], problem, prize, _shift(), budget=300)
    assert order[0] == 3  # out to the far stop first, back by the near one after 19:00
    assert order[-1] == 1
    assert sorted(order) == [1, 2, 3]
    # The same inputs give the same order.
    assert _at_worst_hours([1, 2, 3], problem, prize, _shift(), budget=300) == order


def test_a_better_hour_never_breaks_the_shift():
    # Base 0 and stops 1, 2, 3 on a square walked round in 40 minutes; its diagonals take 30.
    # Stop 2 is riskiest from 18:00; from a shift start at 18:27 it is reached before 19:00
    # only when walked first (a 125-minute walk with the 15 minutes at each stop, against 85
    # round the square, which reaches it at 19:02).
    travel = np.array([[0, 10, 30, 10], [10, 0, 10, 30], [30, 10, 0, 10], [10, 30, 10, 0.0]])
    hourly = np.ones((4, 24))
    hourly[2, 18] = 5.0
    problem = SimpleNamespace(travel=travel, service=np.array([0, 15, 15, 15.0]), hourly=hourly)
    prize = np.array([0.0, 10.0, 10.0, 10.0])

    def minutes(order: list[int]) -> float:
        walk = [0, *order, 0]
        return travel[walk[:-1], walk[1:]].sum() + 45

    free = _at_worst_hours([1, 2, 3], problem, prize, _shift("18:27"), budget=300)
    assert free[0] == 2 and minutes(free) == 125
    tight = _at_worst_hours([1, 2, 3], problem, prize, _shift("18:27"), budget=110)
    assert sorted(tight) == [1, 2, 3] and minutes(tight) <= 110


def test_flat_risk_keeps_the_solvers_order():
    problem = _problem(np.ones((4, 24)))
    prize = np.array([0.0, 10.0, 10.0, 10.0])
    assert _at_worst_hours([2, 1, 3], problem, prize, _shift(), budget=300) == [2, 1, 3]


@pytest.mark.parametrize("city", ["minneapolis"])
def test_a_city_without_times_of_day_says_so(city, minneapolis_dir):
    manifest = json.loads((minneapolis_dir / "manifest.json").read_text("utf-8"))
    notes = " | ".join(manifest["summary"]["notes"])
    assert "carry dates but no times of day" in notes
