"""Where the weekly plan's teams stand and walk, scored against a year of later shootings.

Usage::

    .venv/bin/python benchmarks/presence_year.py [--config FILE] [--weeks 10]
        [--from 2021-01-04] [--to 2022-10-03] [--set "risky_streets=0"] ...

The route backtest scores a week's routes against that week's shootings: about 36 a week, so a
difference of ``near_in_time`` between two settings needs 104 weeks to tell from noise (weekly
standard errors near 0.004, issue 15). This benchmark screens settings faster: it plans
``--weeks`` weekly plans spread evenly from ``--from`` to ``--to``, then scores each against
every shooting of the 52 weeks from its Monday, each moved onto the same day of the week and
clock time of the planned week (about 2,000 a plan instead of 36). Risk that holds for a year is
what it rewards; a year's changes blur it, so confirm a setting with the route backtest.

Per setting (the config as it is, then each ``--set``, as in ``routing_knobs.py``) it prints,
for the planned routes and the top-cell baseline, the share of those shootings within 150 m
and an hour of a team (``near_in_time``) and within 150 m of a week's route (``near_route``),
the paired difference of ``near_in_time`` from the config as it is with its standard error, and
where the teams were: the later shootings of the evening (17:00-24:00) within 150 m of a
position sampled every 30 seconds, averaged over the positions at a stop and those walking.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from outreach_routes.config import default_config_path
from outreach_routes.route_backtest import _flags, _inputs, _sample, _week, paired_difference

sys.path.insert(0, str(Path(__file__).resolve().parent))
from routing_knobs import config_with

METHODS = ("planned", "top_cells")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=default_config_path())
    parser.add_argument("--weeks", type=int, default=10)
    parser.add_argument("--from", dest="start", default="2021-01-04")
    parser.add_argument("--to", dest="end", default="2022-10-03")
    parser.add_argument("--set", dest="variants", action="append", default=[])
    args = parser.parse_args()
    weeks = [m.date().isoformat() for m in spread_mondays(args.start, args.end, args.weeks)]
    base = None
    for variant in ["", *args.variants]:
        started = time.perf_counter()
        with config_with(args.config, variant) as copy:
            rows = [row for week in weeks for row in _score_week(str(copy.resolve()), week)]
        frame = pd.DataFrame(rows)
        means = frame.groupby("method").mean(numeric_only=True)
        planned = frame[frame["method"] == "planned"].set_index("week")["near_in_time"]
        paired = ""
        if base is None:
            base = planned
        else:
            paired = f", against as configured {paired_difference(planned, base)}"
        figures = "; ".join(
            f"{m} near_in_time {means.at[m, 'near_in_time']:.4f} near_route "
            f"{means.at[m, 'near_route']:.3f} evening shootings near a stop "
            f"{means.at[m, 'at_stop']:.2f}, walking {means.at[m, 'walking']:.2f}"
            for m in METHODS
        )
        print(
            f"{variant or 'as configured'}: {figures}{paired} "
            f"[{len(weeks)} weeks, {time.perf_counter() - started:.0f} s]",
            flush=True,
        )


def spread_mondays(start: str, end: str, count: int) -> list[pd.Timestamp]:
    """``count`` Mondays spread evenly from ``start`` to ``end`` (the weeks a screen plans)."""
    mondays = pd.date_range(start, end, freq="W-MON")
    return [mondays[i] for i in np.linspace(0, len(mondays) - 1, count).round().astype(int)]


def _score_week(config_path: str, monday: str) -> list[dict]:
    config, table, _ = _inputs(config_path)
    _, _, walks = _week(config_path, monday)
    start = pd.Timestamp(monday).tz_localize(config.city.timezone)
    when = table.incidents["occurred_at"]
    later = table.incidents[(when >= start) & (when < start + pd.Timedelta(weeks=52))]
    moved = [  # the same day of the week and clock time, in the planned week
        start + pd.Timedelta(days=t.day_of_week) + (t - t.normalize()) for t in later["occurred_at"]
    ]
    seconds = np.array([t.timestamp() for t in moved])
    xy = shapely.get_coordinates(later.geometry.to_numpy())
    evening = cKDTree(xy[later["occurred_at"].dt.hour.to_numpy() >= 17])
    rows = []
    for method in METHODS:
        team_walks = [w for team in walks[method].values() for w in team]
        flags = _flags(xy, seconds, team_walks, 150.0, 60.0)
        near = {"at_stop": [], "walking": []}
        for walk in team_walks:
            sampled = _sample(walk)
            still = np.r_[False, (np.diff(sampled[:, 1:], axis=0) == 0).all(axis=1)]
            counts = np.array([len(i) for i in evening.query_ball_point(sampled[:, 1:], 150.0)])
            near["at_stop"].append(counts[still])
            near["walking"].append(counts[~still])
        rows.append(
            {
                "week": monday,
                "method": method,
                "near_in_time": flags["near_in_time"].mean(),
                "near_route": flags["near_route"].mean(),
                "at_stop": np.concatenate(near["at_stop"]).mean(),
                "walking": np.concatenate(near["walking"]).mean(),
            }
        )
    return rows


if __name__ == "__main__":
    main()
