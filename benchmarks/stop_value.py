"""What a week's candidate stops turned out to be near: the shootings of the next days, by kind.

Usage::

    .venv/bin/python benchmarks/stop_value.py [--config FILE] [--weeks 30]
        [--from 2021-01-04] [--to 2022-12-26] [--set "recent_prize=12"] ...

Plans ``--weeks`` weekly plans spread evenly from ``--from`` to ``--to``, each from the data
before its Monday (as the route backtest does), and counts, for every candidate stop of each
plan (walked or not), the shootings within ``[routing] presence_m`` of its corner in the 7 and
14 days from that Monday. It prints the mean per stop for hotspot stops by band of prize, and for
``recent`` and ``request`` stops. A stop kind's prize should match what its stops turned out to
be near: a ``recent`` stop (a recent shooting outside every hotspot) worth 60 when it is near as
many later shootings as a hotspot stop worth 15 pulls the routes away from risk (issue 15).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from outreach_routes.config import default_config_path
from outreach_routes.route_backtest import _inputs, _week

sys.path.insert(0, str(Path(__file__).resolve().parent))
from presence_year import spread_mondays
from routing_knobs import config_with

BANDS = [0, 15, 25, 40, 60, 101]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=default_config_path())
    parser.add_argument("--weeks", type=int, default=30)
    parser.add_argument("--from", dest="start", default="2021-01-04")
    parser.add_argument("--to", dest="end", default="2022-12-26")
    parser.add_argument("--set", dest="variant", default="")
    args = parser.parse_args()
    mondays = spread_mondays(args.start, args.end, args.weeks)
    with config_with(args.config, args.variant) as copy:
        frame = pd.concat([_week_stops(str(copy.resolve()), monday) for monday in mondays])
    hotspot = frame["kind"] == "hotspot"
    bands = pd.cut(frame["prize"], BANDS).astype(str)
    frame["stops"] = np.where(hotspot, "hotspot, prize " + bands, frame["kind"])
    table = frame.groupby("stops").agg(
        stops=("next_7_days", "size"),
        mean_prize=("prize", "mean"),
        next_7_days=("next_7_days", "mean"),
        next_14_days=("next_14_days", "mean"),
    )
    print(f"{args.weeks} weekly plans, {args.start} to {args.end} {args.variant}".rstrip())
    print("shootings within presence_m of a candidate stop, per stop:")
    print(table.to_string(float_format=lambda v: f"{v:.3f}"))


def _week_stops(config_path: str, monday: pd.Timestamp) -> pd.DataFrame:
    config, table, _ = _inputs(config_path)
    plan, _, _ = _week(config_path, monday.date().isoformat())
    start = monday.tz_localize(config.city.timezone)
    when = table.incidents["occurred_at"]
    stops = plan.stops
    at = shapely.get_coordinates(stops.geometry.to_numpy())
    out = pd.DataFrame({"kind": stops["kind"].to_numpy(), "prize": stops["prize"].to_numpy()})
    for days in (7, 14):
        later = table.incidents[(when >= start) & (when < start + pd.Timedelta(days=days))]
        tree = cKDTree(shapely.get_coordinates(later.geometry.to_numpy()))
        near = tree.query_ball_point(at, config.routing.presence_m)
        out[f"next_{days}_days"] = [len(k) for k in near]
    return out


if __name__ == "__main__":
    main()
