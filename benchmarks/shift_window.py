"""How many shootings a team could be near within the hour at all: the ceiling of
``near_in_time`` in the route backtest (issue 15).

Usage::

    .venv/bin/python benchmarks/shift_window.py [--config FILE] [--from D] [--to D]

Counts the shootings from ``--from`` to ``--to`` (default 2021-01-04 to 2022-12-31), those
inside a team's territory, and those inside a territory and within an hour of one of that
team's shifts (the window ``near_in_time`` scores). Whatever the routes do, ``near_in_time`` of
all shootings cannot pass the last share.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from outreach_routes import load_config, load_incidents, load_teams, week_start_for

HOUR = pd.Timedelta(hours=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--from", dest="start", default="2021-01-04")
    parser.add_argument("--to", dest="end", default="2022-12-31")
    args = parser.parse_args()
    config = load_config(args.config)
    zone = config.city.timezone
    table = load_incidents(config.incidents, crs=config.city.crs, timezone=zone)
    when = table.incidents["occurred_at"]
    shootings = table.incidents[
        (when >= pd.Timestamp(args.start, tz=zone)) & (when <= pd.Timestamp(args.end, tz=zone))
    ]
    monday = week_start_for(dt.date.fromisoformat(args.start), zone)
    teams, _territories, _zones = load_teams(config, week_start=monday)
    xy = shapely.get_coordinates(shootings.geometry.to_numpy())
    inside = np.zeros(len(shootings), bool)
    in_window = np.zeros(len(shootings), bool)
    for team in teams:
        mine = shapely.contains_xy(team.territory, xy[:, 0], xy[:, 1])
        inside |= mine
        for k in np.flatnonzero(mine):
            at = shootings["occurred_at"].iloc[k]
            week = week_start_for(at.date(), zone)
            shifts = team.shifts(week) + team.shifts(week - pd.Timedelta(days=7))
            in_window[k] |= any(s.start - HOUR <= at <= s.end + HOUR for s in shifts)
    n = len(shootings)
    print(f"shootings {n}; inside a territory {inside.sum()} ({inside.sum() / n:.3f})")
    print(
        f"inside and within an hour of the team's shift: {in_window.sum()} "
        f"({in_window.sum() / n:.3f} of all, {in_window.sum() / max(inside.sum(), 1):.3f} of "
        "those inside): the ceiling of near_in_time"
    )


if __name__ == "__main__":
    main()
