"""Time the dosage report on a simulated season: 26 weeks, 6 teams, 10,000 check-ins (issue 18).

Usage::

    .venv/bin/python benchmarks/report.py [--config FILE] [--checkins 10000] [--weeks 26]

Plans the bundled week once, copies it to ``--weeks`` consecutive weeks of a runs folder (the
dates moved, the routes the same), and fills the service's database with ``--checkins``
simulated check-ins spread over the season (stops done, skipped, not reported; positions on
most). Then it times ``report --week`` for the season's last week (the database holds every
week, as a season's does) and ``report --public`` over all of them, and prints both.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

from outreach_routes.config import default_config_path
from outreach_routes.pipeline import plan_week, write_plan
from outreach_routes.report import write_public, write_report
from outreach_routes.runs import iso_week
from outreach_routes.simulate import fill_database, season, simulated_checkins


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=default_config_path())
    parser.add_argument("--checkins", type=int, default=10_000)
    parser.add_argument("--weeks", type=int, default=26)
    args = parser.parse_args()
    runs = Path(tempfile.mkdtemp()) / "runs"
    first = dt.date(2022, 1, 3)
    plan = plan_week(args.config, week_of=first, skill=False)
    write_plan(plan, runs / iso_week(first))
    plans = season(runs, iso_week(first), args.weeks)
    rows = simulated_checkins(plans, seed=18, count=args.checkins, done=0.85, skipped=0.15)
    fill_database(runs / "service.sqlite3", rows)
    routes = [r for p in plans for r in p["teams"]]

    last = iso_week(first + dt.timedelta(weeks=args.weeks - 1))
    started = time.perf_counter()
    write_report(runs, last, config=args.config)
    week_s = time.perf_counter() - started
    started = time.perf_counter()
    write_public(runs, first + dt.timedelta(weeks=args.weeks + 3))
    public_s = time.perf_counter() - started
    print(
        f"{args.weeks} weeks, {len(routes)} team nights, {len(rows)} check-ins: report --week "
        f"{last} {week_s:.2f} s; report --public over {args.weeks} weeks {public_s:.2f} s"
    )


if __name__ == "__main__":
    main()
