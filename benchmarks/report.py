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
import json
import random
import re
import tempfile
import time
from pathlib import Path

from outreach_routes.config import default_config_path
from outreach_routes.pipeline import plan_week, write_plan
from outreach_routes.report import write_public, write_report
from outreach_routes.runs import iso_week
from outreach_routes.service.store import Store, utc

DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


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
    text = (runs / iso_week(first) / "plan.json").read_text("utf-8")
    for week in range(1, args.weeks):
        moved = DATE.sub(
            lambda m, k=week: (dt.date.fromisoformat(m[0]) + dt.timedelta(weeks=k)).isoformat(),
            text,
        )
        folder = runs / iso_week(first + dt.timedelta(weeks=week))
        folder.mkdir(parents=True)
        (folder / "plan.json").write_text(moved, "utf-8")

    store = Store(runs / "service.sqlite3")
    rng = random.Random(18)
    rows = []
    plans = [json.loads(f.read_text("utf-8")) for f in sorted(runs.glob("*/plan.json"))]
    routes = [r for p in plans for r in p["teams"]]
    stops = [(r, s) for r in routes for s in r["stops"] if s["kind"] != "base"]
    while len(rows) < args.checkins:
        route, stop = rng.choice(stops)
        arrive = dt.datetime.fromisoformat(stop["arrive"])
        if rng.random() < 0.15:
            taps = [("skipped", arrive, rng.choice(["police activity", "ran out of time"]))]
        else:
            left = arrive + dt.timedelta(minutes=rng.randint(5, 20))
            taps = [("arrived", arrive, None), ("left", left, None)]
        for status, when, reason in taps:
            rows.append({
                "client_id": f"b{len(rows)}", "team": route["team"], "night": route["night"],
                "stop_id": stop["stop_id"], "status": status, "tapped_at": when.isoformat(),
                "tapped_utc": utc(when), "received_at": utc(when), "reason": reason,
                "lat": stop["lat"] if rng.random() < 0.8 else None,
                "lon": stop["lon"], "scene_request_id": None, "late": 0, "user": "bench",
            })  # fmt: skip
    rows = rows[: args.checkins]
    for row in rows:
        if row["lat"] is None:
            row["lon"] = None
    with store.transaction() as db:
        columns = ", ".join(rows[0])
        db.executemany(
            f"INSERT INTO checkins ({columns}) VALUES ({', '.join('?' for _ in rows[0])})",
            [tuple(r.values()) for r in rows],
        )

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
