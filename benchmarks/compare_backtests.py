"""Two route backtests of the same weeks, compared week by week (for two versions of the code).

Usage::

    .venv/bin/python benchmarks/compare_backtests.py BEFORE.csv AFTER.csv
        [--method nightly] [--column near_in_time]

Each file is the ``--csv`` of ``outreach-routes route-backtest`` (the same weeks, run on two
commits or configs). For each method in both (or only ``--method``) it prints the city-wide
share of shootings flagged ``--column`` in each file over the weeks both ran, and the paired
weekly difference AFTER - BEFORE with its standard error: the weeks' shootings are the same, so
pairing takes out most of their noise.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from outreach_routes.route_backtest import paired_difference, weekly_share


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--method", action="append", default=None)
    parser.add_argument("--column", default="near_in_time")
    args = parser.parse_args()
    before, after = pd.read_csv(args.before), pd.read_csv(args.after)
    methods = args.method or sorted(set(before["method"]) & set(after["method"]))
    for method in methods:
        a = weekly_share(before, method, args.column)
        b = weekly_share(after, method, args.column)
        weeks = a.index.intersection(b.index)
        a, b = a[weeks], b[weeks]
        city = {
            name: frame[(frame["team"] == "all") & (frame["method"] == method)]
            .set_index("week")
            .loc[weeks]
            for name, frame in (("before", before), ("after", after))
        }
        share = {n: c[args.column].sum() / c["shootings"].sum() for n, c in city.items()}
        print(
            f"{method}: {args.column} {share['before']:.4f} before, {share['after']:.4f} after; "
            f"paired weekly difference {paired_difference(b, a)}"
        )


if __name__ == "__main__":
    main()
