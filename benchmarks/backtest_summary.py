"""The headline figures of saved route backtests, over every week they hold together.

Usage::

    .venv/bin/python benchmarks/backtest_summary.py RUN.csv [MORE.csv ...]

Each file is the ``--csv`` of ``outreach-routes route-backtest`` (``--nightly`` or not), for
instance one per period: 2019-2020 and 2021-2022 run apart on the same code and config. A week
found in two files is counted once. Prints per method, city-wide, the share of shootings within
150 m of a route (``near_route``) and within 150 m and an hour (``near_in_time``) and the response
rate, then per year ``near_in_time``, then the paired weekly difference of ``near_in_time``
between the methods (nightly and weekly plan against the top-cell baseline, and nightly against
weekly) with its standard error: the more weeks, the smaller it is.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from outreach_routes.route_backtest import paired_difference, summarise_routes, weekly_share

PAIRS = [("nightly", "top_cells"), ("planned", "top_cells"), ("nightly", "planned")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+")
    args = parser.parse_args()
    frame = pd.concat([pd.read_csv(run) for run in args.runs], ignore_index=True)
    frame = frame.drop_duplicates(["week", "method", "team"])
    city = summarise_routes(frame).query("team == 'all'").set_index("method")
    columns = ["weeks", "shootings", "near_route", "near_in_time", "response_rate"]
    print(city[columns].to_string(float_format=lambda v: f"{v:.4f}"))
    everyone = frame[frame["team"] == "all"].assign(year=lambda f: f["week"].str[:4])
    by_year = everyone.groupby(["year", "method"])[["near_in_time", "shootings"]].sum()
    shares = (by_year["near_in_time"] / by_year["shootings"]).unstack("method")
    print("near_in_time by year of the week's Monday")
    print(shares.to_string(float_format=lambda v: f"{v:.4f}"))
    methods = set(city.index)
    for after, before in PAIRS:
        if {after, before} <= methods:
            difference = paired_difference(weekly_share(frame, after), weekly_share(frame, before))
            print(f"near_in_time, {after} minus {before}: {difference}")


if __name__ == "__main__":
    main()
