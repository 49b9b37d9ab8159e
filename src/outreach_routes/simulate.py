"""Simulated seasons and check-ins, for the dosage notebook and the report benchmark.

The bundled data has shootings but no check-ins: no program has shared its teams' taps. These
helpers make a season from one planned week (its ``plan.json`` copied to the following weeks
with the dates moved) and random check-ins for it, so :mod:`outreach_routes.report` can be shown
and timed. Nothing here belongs in a real report: a simulated check-in says nothing about what
a team did.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
from pathlib import Path
from typing import Any

from .runs import iso_week
from .service.store import Store, utc

__all__ = ["fill_database", "season", "simulated_checkins"]

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def season(runs: Path, first_week: str, weeks: int) -> list[dict[str, Any]]:
    """Copy ``runs/<first_week>/plan.json`` to the ``weeks - 1`` weeks after it (every date in
    it moved by whole weeks; the routes, hotspots and stops the same); the season's plans."""
    text = (runs / first_week / "plan.json").read_text("utf-8")
    plans = [json.loads(text)]
    monday = dt.date.fromisoformat(plans[0]["week_of"])
    for k in range(1, weeks):
        moved = _DATE.sub(
            lambda m, k=k: (dt.date.fromisoformat(m[0]) + dt.timedelta(weeks=k)).isoformat(), text
        )
        folder = runs / iso_week(monday + dt.timedelta(weeks=k))
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "plan.json").write_text(moved, "utf-8")
        plans.append(json.loads(moved))
    return plans


def simulated_checkins(
    plans: list[dict[str, Any]],
    *,
    seed: int,
    count: int | None = None,
    done: float = 0.7,
    skipped: float = 0.15,
    positions: float = 0.8,
) -> list[dict[str, Any]]:
    """Check-in rows, as the service stores them, for the stops of ``plans``: each stop done
    (arrived, then left 5-20 minutes later) with probability ``done``, skipped with a reason
    with ``skipped``, else not reported; ``positions`` of them carry the stop's place. With
    ``count``, stops are drawn at random, with repeats, until there are that many rows."""
    rng = random.Random(seed)
    stops = [(r, s) for p in plans for r in p["teams"] for s in r["stops"] if s["kind"] != "base"]
    order = iter(stops) if count is None else iter(lambda: rng.choice(stops), None)
    rows: list[dict[str, Any]] = []
    for route, stop in order:
        if count is not None and len(rows) >= count:
            break
        arrive = dt.datetime.fromisoformat(stop["arrive"])
        draw = rng.random()
        if draw < done:
            left = arrive + dt.timedelta(minutes=rng.randint(5, 20))
            taps = [("arrived", arrive, None), ("left", left, None)]
        elif draw < done + skipped:
            taps = [("skipped", arrive, rng.choice(["police activity", "ran out of time"]))]
        else:
            taps = []
        for status, when, reason in taps:
            placed = rng.random() < positions
            rows.append({
                "client_id": f"sim{len(rows)}", "team": route["team"], "night": route["night"],
                "stop_id": stop["stop_id"], "status": status, "tapped_at": when.isoformat(),
                "tapped_utc": utc(when), "received_at": utc(when), "reason": reason,
                "lat": stop["lat"] if placed else None, "lon": stop["lon"] if placed else None,
                "scene_request_id": None, "late": 0, "user": "simulated",
            })  # fmt: skip
    return rows if count is None else rows[:count]


def fill_database(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write check-in rows into the service's database at ``path`` (made when missing)."""
    if not rows:
        return
    with Store(path).transaction() as db:
        db.executemany(
            f"INSERT INTO checkins ({', '.join(rows[0])}) "
            f"VALUES ({', '.join('?' for _ in rows[0])})",
            [tuple(r.values()) for r in rows],
        )
