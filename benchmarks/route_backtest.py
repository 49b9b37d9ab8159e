"""Route backtest timing (serial against two local Dask workers) and its headline figures.

Usage::

    .venv/bin/python benchmarks/route_backtest.py [--config FILE] [--weeks 26]
        [--from 2021-01-04] [--to 2022-12-31] [--workers 2] [--nightly] [--time-aware]

Times ``--weeks`` weeks from ``--from`` run serially and on a ``LocalCluster`` of ``--workers``
processes (each fresh, no cache; the two must give the same rows), then runs every week from
``--from`` to ``--to`` on Dask (reusing the weeks just run) and prints, city-wide and per
method, the share of shootings within 150 m of a route, within 150 m and an hour of a team's
scheduled passage, inside the planned hotspots, and the minutes of presence per shooting. The
last line compares the planned routes with both baselines.

With ``--nightly`` (issue 15) it then runs the range again with every night re-planned from
the data known before its shift (``plan --night``; about six plans a week, so hours, not
minutes) and ends with the nightly and weekly response rates (the share of shootings inside a
territory, followed by a shift within 72 h, whose place a team passed within 150 m in those
72 h) and ``near_in_time``.

With ``--time-aware`` it runs the range once more with ``[routing] time_aware = false`` (a copy
of the config beside it) and prints ``near_in_time`` of the planned routes with and without
time-aware ordering, with the paired weekly difference and its standard error.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd
from routing_knobs import config_with  # beside this script

from outreach_routes.config import default_config_path
from outreach_routes.route_backtest import (
    paired_difference,
    route_backtest,
    summarise_routes,
    weekly_share,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=default_config_path())
    parser.add_argument("--weeks", type=int, default=26)
    parser.add_argument("--from", dest="start", default="2021-01-04")
    parser.add_argument("--to", dest="end", default="2022-12-31")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--nightly", action="store_true", help="also the nightly re-plan")
    parser.add_argument(
        "--time-aware", action="store_true", help="also the planned routes without time-aware order"
    )
    args = parser.parse_args()
    last = (pd.Timestamp(args.start) + pd.Timedelta(weeks=args.weeks - 1)).date()

    started = time.perf_counter()
    serial = route_backtest(args.config, args.start, last, serial=True)
    serial_s = time.perf_counter() - started
    cache = Path(tempfile.mkdtemp())
    started = time.perf_counter()
    on_dask = route_backtest(args.config, args.start, last, workers=args.workers, cache_dir=cache)
    dask_s = time.perf_counter() - started
    same = serial.equals(on_dask)
    print(
        f"{args.weeks} weeks: serial {serial_s:.0f} s, {args.workers} Dask workers {dask_s:.0f} s "
        f"(speed-up {serial_s / dask_s:.2f}x); same rows: {same}"
    )

    frame = route_backtest(args.config, args.start, args.end, workers=args.workers, cache_dir=cache)
    table = summarise_routes(frame)
    city = table[table["team"] == "all"].set_index("method")
    print(city.drop(columns="team").to_string(float_format=lambda v: f"{v:.3f}"))
    teams = table[table["team"] != "all"].pivot(index="team", columns="method", values="near_route")
    print(teams.to_string(float_format=lambda v: f"{v:.3f}"))
    near = city["near_route"]
    print(
        f"{args.start} to {args.end}, {city.at['planned', 'weeks']} weeks: within 150 m of a "
        f"route: planned {near['planned']:.3f} | top_cells {near['top_cells']:.3f} | "
        f"random_walk {near['random_walk']:.3f}"
    )
    if args.time_aware:
        compare_time_aware(args, frame)
    if args.nightly:
        frame = route_backtest(
            args.config, args.start, args.end, workers=args.workers, cache_dir=cache, nightly=True
        )
        city = summarise_routes(frame).query("team == 'all'").set_index("method")
        print(city.drop(columns="team").to_string(float_format=lambda v: f"{v:.3f}"))
        rate, timed = city["response_rate"], city["near_in_time"]
        paired = paired_difference(weekly_share(frame, "nightly"), weekly_share(frame, "top_cells"))
        print(
            f"{args.start} to {args.end}: response rate nightly {rate['nightly']:.3f} | weekly "
            f"{rate['planned']:.3f}; near_in_time nightly {timed['nightly']:.4f} | weekly "
            f"{timed['planned']:.4f} | top_cells {timed['top_cells']:.4f} (nightly minus "
            f"top_cells {paired}); near_route nightly "
            f"{city.at['nightly', 'near_route']:.3f}"
        )


def compare_time_aware(args: argparse.Namespace, aware: pd.DataFrame) -> None:
    """``near_in_time`` of the planned routes with and without time-aware order, week by week."""
    with config_with(Path(args.config), "time_aware=false") as copy:
        plain = route_backtest(copy, args.start, args.end, workers=args.workers)
    paired = paired_difference(weekly_share(aware, "planned"), weekly_share(plain, "planned"))
    share = [
        f[(f["team"] == "all") & (f["method"] == "planned")][["near_in_time", "shootings"]].sum()
        for f in (aware, plain)
    ]
    shares = [s["near_in_time"] / s["shootings"] for s in share]
    print(
        f"near_in_time, planned: time-aware {shares[0]:.4f}, without {shares[1]:.4f}; weekly "
        f"difference {paired}"
    )


if __name__ == "__main__":
    main()
