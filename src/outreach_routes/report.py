"""What was done, against what was planned: a week's dosage from the teams' check-ins.

``outreach-routes report --runs-dir DIR --week 2023-W01`` reads the week's ``plan.json`` and the
service's database (read-only: the service may be writing to it) and writes
``DIR/reports/<week>/report.json`` and ``report.html`` (a map of the week's shootings and the
hotspots' dosage, above the tables), outside the week's folder, which a rerun replaces.

Per team and night it counts the stops planned, done (an "arrived" or "left" check-in), skipped
(with the reasons given) and not reported; per hotspot, the minutes of presence planned and
checked in; the kilometres between the positions a team shared; whether each response stop was
done within its window; and how long each scene request took to answer. Check-ins that do not
fit the plan are counted by what is wrong with them, never dropped silently.

Presence at a stop runs from its "arrived" to its "left" check-in, or is the planned dwell when
only one of them was sent, and is never counted outside the shift.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from ._errors import InputDataError
from ._io import dumps_json, write_text_atomic
from .schedule import _step_metres
from .service.store import read_calls

__all__ = [
    "dosage",
    "missed_last_week",
    "public_summary",
    "read_service_db",
    "write_public",
    "write_report",
]

AT_STOP = ("arrived", "left")


def read_service_db(path: Path, first_night: str, last_night: str) -> tuple[list, list]:
    """The check-ins of the nights ``first_night`` to ``last_night`` (oldest tap first) and
    the scene requests made from the first night's noon to the day after the last, read-only."""
    if not path.is_file():
        raise InputDataError(
            f"{path}: no service database here; give --db FILE, or run without it (a report "
            "needs the teams' check-ins)"
        )
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as exc:
        raise InputDataError(f"{path}: cannot open the database read-only ({exc})") from exc
    db.row_factory = sqlite3.Row
    try:
        checkins = db.execute(
            "SELECT * FROM checkins WHERE night BETWEEN ? AND ? "
            "ORDER BY tapped_utc, received_at, client_id",
            (first_night, last_night),
        ).fetchall()
        last = dt.date.fromisoformat(last_night) + dt.timedelta(days=2)
        scenes = read_calls(db, f"{first_night}T12:00:00", last.isoformat())
    except sqlite3.Error as exc:
        raise InputDataError(
            f"{path}: not a service database of outreach-routes ({exc}); point --db at the "
            "file `serve` uses (DIR/service.sqlite3)"
        ) from exc
    finally:
        db.close()
    return [dict(r) for r in checkins], scenes


def dosage(
    plan: dict[str, Any],
    checkins: Iterable[dict[str, Any]],
    scene_requests: Iterable[dict[str, Any]] = (),
    shootings: Iterable[dict[str, Any]] = (),
    *,
    window_h: float = 72.0,
    radius_m: float = 150.0,
) -> dict[str, Any]:
    """The week's figures from ``plan`` (a ``plan.json``), the service's rows (as
    :func:`read_service_db` gives them) and the week's ``shootings`` (``incident_id``,
    ``occurred_at`` with its offset, ``lon``, ``lat``). A plain function: same inputs, same
    figures."""
    checkins = list(checkins)
    routes = {(r["team"], r["night"]): r for r in plan["teams"]}
    teams = {r["team"] for r in plan["teams"]}
    problems: Counter[str] = Counter()
    by_night: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in checkins:
        key = (row["team"], row["night"])
        if row["team"] not in teams:
            problems["team not in this plan (another plan's database, or a removed team)"] += 1
        elif key not in routes:
            problems["night with no shift of that team in this plan"] += 1
        else:
            by_night[key].append(row)

    nights, presence, done_at = [], Counter(), {}
    for key, route in routes.items():
        rows = sorted(by_night.get(key, []), key=lambda r: (r["tapped_utc"], r["client_id"]))
        night, minutes, night_problems, first_done = _night(route, rows)
        problems.update(night_problems)
        presence.update(minutes)
        nights.append(night)
        done_at.update({(key[0], stop_id): when for stop_id, when in first_done.items()})

    planned = plan["hotspot_presence_min"]  # the plan's own minutes at each hotspot
    calls = _scenes(scene_requests, checkins)
    return {
        "week_of": plan["week_of"],
        "city": plan["city"],
        "nights": nights,
        "totals": {
            k: sum(n[k] for n in nights) for k in ("planned", "done", "skipped", "not_reported")
        },
        "hotspots": [
            {
                "hotspot_id": h,
                "planned_min": round(planned.get(h, 0.0), 1),
                "checked_in_min": round(presence.get(h, 0.0), 1),
            }
            for h in sorted(set(planned) | set(presence))
        ],
        "response_stops": _responses(plan, done_at, window_h),
        "shootings": _shootings(plan, checkins, shootings, window_h, radius_m),
        "scene_requests": calls,
        "calls": _calls_summary(calls),
        "problems": dict(sorted(problems.items())),
    }


def missed_last_week(runs: Path, week_start: Any, db: Path | None = None) -> list[dict]:
    """The stops of the run before ``week_start``'s week that no check-in says were done on
    any night of it: skipped (with the reasons) or not reported, each with ``weeks``, the
    weeks running it has not been done (from that run's own ``followup``). ``[]`` without a
    database or an earlier run."""
    from .runs import iso_week, latest_before, read_plan_json

    db = db or runs / "service.sqlite3"
    earlier = latest_before(runs, iso_week(week_start.date()))
    plan = read_plan_json(earlier) if earlier is not None and db.is_file() else None
    if not plan or not plan["teams"]:
        return []
    nights = [r["night"] for r in plan["teams"]]
    checkins, _scenes = read_service_db(db, min(nights), max(nights))
    missed = [m for night in dosage(plan, checkins)["nights"] for m in night["missed"]]
    planned = {(r["team"], r["night"], s["stop_id"]) for r in plan["teams"] for s in r["stops"]}
    done = planned - {(m["team"], m["night"], m["stop_id"]) for m in missed}  # bases too
    done = {(team, stop_id.removesuffix("-2")) for team, _night, stop_id in done}
    # Weeks running: one more than that run had for the stop, when it was raised for it too.
    before = {(f["team"], f["stop_id"]): f.get("weeks", 1) for f in plan.get("followup", [])}
    return [
        m | {"weeks": 1 + before.get((m["team"], m["stop_id"].removesuffix("-2")), 0)}
        for m in missed
        if (m["team"], m["stop_id"].removesuffix("-2")) not in done
    ]


def write_report(
    runs_dir: Path,
    week: str,
    db: Path | None = None,
    config: Path | None = None,
    *,
    window_h: float = 72.0,
) -> Path:
    """Write ``runs_dir/reports/<week>/report.json`` under the runs lock; returns its path.
    The week's shootings come from the incident file of ``config`` (default: the bundled one)."""
    from .runs import read_plan_json, run_lock

    runs = Path(runs_dir).resolve()
    plan = read_plan_json(runs / week)
    if plan is None:
        raise InputDataError(
            f"{runs / week}: no plan.json for {week}; give a week planned with "
            "`plan --runs-dir` (folders are named like 2023-W01)"
        )
    first, last = plan["teams"][0]["night"], max(r["night"] for r in plan["teams"])
    checkins, scenes = read_service_db(db or runs / "service.sqlite3", first, last)
    shootings = week_shootings(config, plan["week_of"])
    figures = dosage(plan, checkins, scenes, shootings, window_h=window_h)
    from .render import report_page

    page = report_page(plan, figures)
    out = runs / "reports" / week / "report.json"
    with run_lock(runs):
        out.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out, dumps_json(figures, indent=1))
        write_text_atomic(out.with_name("report.html"), page)
    return out


def week_shootings(config: Path | None, week_of: str) -> list[dict[str, Any]]:
    """The shootings of the plan week (Monday to the next Monday's early hours), from the
    config's incident file, in WGS84."""
    import pandas as pd

    from ._io import read_city_limits
    from .config import load_config
    from .incidents import load_incidents

    plan_config = load_config(config)
    crs, tz = plan_config.city.crs, plan_config.city.timezone
    limits = read_city_limits(plan_config.city)
    incidents = load_incidents(plan_config.incidents, crs=crs, timezone=tz, area=limits).incidents
    start = pd.Timestamp(week_of, tz=tz)
    week = incidents[
        (incidents["occurred_at"] >= start)
        & (incidents["occurred_at"] < start + pd.Timedelta(days=7, hours=12))
    ].to_crs(4326)
    return [
        {
            "incident_id": str(row.incident_id),
            "occurred_at": row.occurred_at.isoformat(),
            "lon": row.geometry.x,
            "lat": row.geometry.y,
        }
        for row in week.itertuples()
    ]


SMALL = 3  # a published count under this is suppressed


def public_summary(weeks: list[tuple[dict, dict]]) -> dict[str, Any]:
    """What may be published, from ``(plan, figures)`` pairs (:func:`dosage`) of weeks old
    enough: per territory and week, presence hours, stops done and the response rate; per
    week, dispatch's calls and the share a team accepted (given only for :data:`SMALL` calls or
    more).

    No team position, stop, time finer than the week, contact, victim attribute or text from
    the database or the requests. A territory's stops done (and with them its presence hours)
    under :data:`SMALL` are suppressed (``None``); when a week has just one suppressed
    territory, the next smallest is suppressed too, so the week's total does not give it away.
    A response rate is given only over :data:`SMALL` or more response stops.
    """
    territories = weeks[-1][0]["territories"] if weeks else {"features": []}
    out = []
    for plan, figures in weeks:
        rows = []
        for team in dict.fromkeys(r["team"] for r in plan["teams"]):
            nights = [n for n in figures["nights"] if n["team"] == team]
            responses = [r for r in figures["response_stops"] if r["team"] == team]
            done = sum(n["done"] for n in nights)
            rows.append(
                {
                    "territory": team,
                    "stops_done": done,
                    "presence_hours": round(sum(n["presence_min"] for n in nights) / 60, 1),
                    "response_rate": round(
                        sum(r["within_window"] for r in responses) / len(responses), 2
                    )
                    if len(responses) >= SMALL
                    else None,
                }
            )
        total = {
            "stops_done": sum(r["stops_done"] for r in rows),
            "presence_hours": round(sum(r["presence_hours"] for r in rows), 1),
        }
        hidden = [r for r in rows if r["stops_done"] < SMALL]
        shown = sorted((r for r in rows if r["stops_done"] >= SMALL), key=lambda r: r["stops_done"])
        if len(hidden) == 1 and shown:
            hidden.append(shown[0])  # secondary suppression
        for row in hidden:
            row["stops_done"] = row["presence_hours"] = None
        if total["stops_done"] < SMALL:
            total = {"stops_done": None, "presence_hours": None}
        count = figures.get("calls", {}).get("calls", 0)  # dispatch's calls, the same rule
        calls = {
            "count": count if count >= SMALL else None,
            "share_accepted": figures["calls"]["share_accepted"] if count >= SMALL else None,
        }
        out.append(
            {"week_of": plan["week_of"], "territories": rows, "total": total, "calls": calls}
        )
    return {
        "city": weeks[-1][0]["city"] if weeks else None,
        "suppressed_under": SMALL,
        "weeks": out,
        "territories": {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"territory": f["properties"]["team"]},
                    "geometry": f["geometry"],
                }
                for f in territories["features"]
            ],  # fmt: skip
        },
    }


def write_public(runs_dir: Path, today: dt.date, db: Path | None = None) -> Path:
    """Write ``runs_dir/reports/public/summary.json`` and ``summary.html`` from every planned
    week that ended at least two weeks before ``today``; returns the JSON's path."""
    from .render import public_page
    from .runs import planned_weeks, read_plan_json, run_lock

    runs = Path(runs_dir).resolve()
    weeks = []
    for folder in planned_weeks(runs):
        plan = read_plan_json(folder)
        ended = dt.date.fromisoformat(plan["week_of"]) + dt.timedelta(days=7)
        if not plan["teams"] or ended + dt.timedelta(days=14) > today:
            continue
        nights = [r["night"] for r in plan["teams"]]
        checkins, scenes = read_service_db(db or runs / "service.sqlite3", min(nights), max(nights))
        weeks.append((plan, dosage(plan, checkins, scenes)))
    if not weeks:
        raise InputDataError(
            f"{runs}: no planned week ended two weeks before {today}; a public summary "
            "publishes only weeks at least two weeks old"
        )
    summary = public_summary(weeks)
    out = runs / "reports" / "public" / "summary.json"
    with run_lock(runs):
        out.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out, dumps_json(summary, indent=1))
        write_text_atomic(out.with_name("summary.html"), public_page(summary))
    return out


def _night(route: dict, rows: list[dict]) -> tuple[dict, Counter, Counter, dict[str, str]]:
    """One team's night: its counts, presence minutes per hotspot, problems, and the first
    "done" tap of each stop."""
    start = dt.datetime.fromisoformat(route["shift_start"])
    end = dt.datetime.fromisoformat(route["shift_end"])
    stops = {s["stop_id"]: s for s in route["stops"] if s["kind"] != "base"}
    problems: Counter[str] = Counter()
    taps: dict[str, dict[str, list[dt.datetime]]] = defaultdict(lambda: defaultdict(list))
    reasons: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        tapped = dt.datetime.fromisoformat(row["tapped_at"])
        if not start <= tapped <= end:
            problems["tapped outside the shift (check the phone's clock)"] += 1
        if row["status"] not in (*AT_STOP, "skipped") or row["stop_id"] is None:
            continue
        if row["stop_id"] not in stops:
            problems["stop not on that night's route (another plan's database?)"] += 1
            continue
        if row["status"] == "skipped":
            reasons[row["stop_id"]].append(row["reason"] or "")
        else:
            taps[row["stop_id"]][row["status"]].append(tapped)

    minutes: Counter[str] = Counter()
    first_done: dict[str, str] = {}
    intervals = []
    present = 0.0
    for stop_id, seen in taps.items():
        stop = stops[stop_id]
        dwell = _dwell(stop)
        arrived, left = min(seen["arrived"], default=None), min(seen["left"], default=None)
        if arrived and left and left < arrived:
            problems["left before arrived at the same stop"] += 1
            arrived, left = left, arrived
        if arrived and left:
            since, until = arrived, left
        else:
            since = arrived or left - dwell
            until = since + dwell
        since, until = max(since, start), min(until, end)
        stay = max((until - since).total_seconds() / 60, 0.0)
        present += stay
        intervals.append((since, until))
        first_done[stop_id] = (arrived or left).isoformat()
        for source in stop["sources"]:
            if str(source).startswith("H"):
                minutes[source] += stay
    intervals.sort()
    problems["at two stops at once (overlapping arrived and left)"] += sum(
        b[0] < a[1] for a, b in zip(intervals, intervals[1:], strict=False)
    )
    skipped = {s: r for s, r in reasons.items() if s not in taps}
    missed = [  # not done: next week's plan raises them ([followup] boost)
        {
            "team": route["team"],
            "night": route["night"],
            "stop_id": stop_id,
            "lat": stop["lat"],
            "lon": stop["lon"],
            "why": "; ".join(skipped.get(stop_id, [])) or "not reported",
        }
        for stop_id, stop in stops.items()
        if stop_id not in taps and stop_id.removesuffix("-2") not in taps  # a second visit
    ]
    shared = [(r["lon"], r["lat"]) for r in rows if r["lat"] is not None]
    walked = sum(_metres(a, b) for a, b in zip(shared, shared[1:], strict=False)) / 1000
    night = {
        "team": route["team"],
        "slug": route["slug"],
        "night": route["night"],
        "planned": len(stops),
        "done": len(taps),
        "skipped": len(skipped),
        "not_reported": len(stops) - len(taps) - len(skipped),
        "skip_reasons": dict(sorted(Counter(r for rs in skipped.values() for r in rs).items())),
        "reported": bool(rows),
        "presence_min": round(present, 1),
        "missed": missed,
        "km_walked": round(walked, 3) if len(shared) > 1 else None,  # where positions were shared
    }
    return night, minutes, +problems, first_done


def _responses(plan: dict, done_at: dict[tuple[str, str], str], window_h: float) -> list[dict]:
    """Each response stop of the week's revisions, once (a later revision lists a stop again
    while its window lasts): done within ``window_h`` of its shooting? Where the incidents
    carry dates only (``times_of_day`` false), the hours count from the end of the shooting's
    day, as the plan's window does (:func:`outreach_routes.stops.response_from`)."""
    out = []
    seen: set[tuple[str, str]] = set()
    zone = None if plan.get("times_of_day", True) else ZoneInfo(plan["timezone"])
    for revision in plan.get("revisions", []):
        for stop in revision["response_stops"]:
            if (stop["team"], stop["stop_id"]) in seen:
                continue
            seen.add((stop["team"], stop["stop_id"]))
            occurred = dt.datetime.fromisoformat(stop["occurred_at"])
            if zone is not None:  # the midnight after its day, local time
                occurred = dt.datetime.combine(
                    occurred.date() + dt.timedelta(days=1), dt.time(), tzinfo=zone
                )
            done = done_at.get((stop["team"], stop["stop_id"]))
            hours = (
                round((dt.datetime.fromisoformat(done) - occurred).total_seconds() / 3600, 1)
                if done
                else None
            )
            out.append(
                {
                    "stop_id": stop["stop_id"],
                    "team": stop["team"],
                    "occurred_at": stop["occurred_at"],
                    **{k: stop.get(k) for k in ("corner", "lat", "lon")},
                    "done_at": done,
                    "hours_after": hours,
                    "within_window": hours is not None and hours <= window_h,
                }
            )
    return out


def _scenes(scene_requests: Iterable[dict], checkins: Iterable[dict]) -> list[dict]:
    """Each call (scene request): the minutes from dispatch's ask to a team's acceptance
    ("Going") and to its arrival ("At the scene"), the teams offered it in turn, its outcome;
    and, as before calls had states, the minutes until a team first checked in responding."""
    answered: dict[str, dt.datetime] = {}
    for row in checkins:
        scene = row.get("scene_request_id")
        if row["status"] == "responding" and scene:
            when = _utc(row["tapped_utc"])
            answered[scene] = min(answered.get(scene, when), when)
    out = []
    for scene in scene_requests:
        asked = _utc(scene["created_at"])
        events = scene.get("events", [])

        first = answered.get(scene["id"])
        closed = next((e for e in events if e["state"] == "closed"), None)
        out.append(
            {
                "id": scene["id"],
                "asked_at": scene["created_at"],
                "nearest_team": scene["nearest_team"],
                "state": scene.get("state"),
                "teams_offered": list(
                    dict.fromkeys(e["team"] for e in events if e["state"] == "offered")
                ),
                "accepted_by": next((e["team"] for e in events if e["state"] == "accepted"), None),
                "minutes_to_acceptance": _minutes_to(events, "accepted", asked),
                "minutes_to_arrival": _minutes_to(events, "on_scene", asked),
                "outcome": closed["reason"] if closed else None,
                "minutes_to_answer": round((first - asked).total_seconds() / 60, 1)
                if first
                else None,
            }
        )
    return out


def _minutes_to(events: list[dict], state: str, asked: dt.datetime) -> float | None:
    """Minutes from ``asked`` to a call's first event of ``state``, or None."""
    at = next((_utc(e["at"]) for e in events if e["state"] == state), None)
    return None if at is None else round((at - asked).total_seconds() / 60, 1)


def _calls_summary(calls: list[dict]) -> dict[str, Any]:
    """The week's calls at a glance: how many, the share a team accepted, and the median
    minutes to acceptance and to arrival (of the calls that got there)."""
    accepted = [c["minutes_to_acceptance"] for c in calls if c["minutes_to_acceptance"] is not None]
    arrived = [c["minutes_to_arrival"] for c in calls if c["minutes_to_arrival"] is not None]
    return {
        "calls": len(calls),
        "accepted": len(accepted),
        "share_accepted": round(len(accepted) / len(calls), 2) if calls else None,
        "median_minutes_to_acceptance": round(float(np.median(accepted)), 1) if accepted else None,
        "median_minutes_to_arrival": round(float(np.median(arrived)), 1) if arrived else None,
    }


def _shootings(
    plan: dict, checkins: list[dict], shootings: Iterable[dict], window_h: float, radius_m: float
) -> list[dict]:
    """Each shooting inside a territory: was a team within ``radius_m`` of its place (at a
    stop it checked in at, or a position it shared) in the ``window_h`` before it, and after?"""
    import shapely

    areas = shapely.union_all(
        [shapely.geometry.shape(f["geometry"]) for f in plan["territories"]["features"]]
    )
    stops = {
        (r["team"], r["night"], s["stop_id"]): (s["lon"], s["lat"])
        for r in plan["teams"]
        for s in r["stops"]
    }
    seen = []  # (UTC time, (lon, lat)) where a team said it was
    for row in checkins:
        place = (row["lon"], row["lat"]) if row["lat"] is not None else None
        if place is None and row["status"] in AT_STOP:
            place = stops.get((row["team"], row["night"], row["stop_id"]))
        if place is not None:
            seen.append((_utc(row["tapped_utc"]), place))
    window = dt.timedelta(hours=window_h)
    out = []
    for shooting in shootings:
        place = (shooting["lon"], shooting["lat"])
        if not areas.contains(shapely.Point(place)):
            continue
        when = _utc(shooting["occurred_at"])
        near = [t for t, p in seen if _metres(p, place) <= radius_m]
        out.append(
            {
                "incident_id": shooting["incident_id"],
                "occurred_at": shooting["occurred_at"],
                "lon": round(place[0], 6),
                "lat": round(place[1], 6),
                "team_before": any(when - window <= t < when for t in near),
                "team_after": any(when < t <= when + window for t in near),
            }
        )
    return out


def _dwell(stop: dict) -> dt.timedelta:
    """The planned time at a stop of ``plan.json``."""
    return dt.datetime.fromisoformat(stop["depart"]) - dt.datetime.fromisoformat(stop["arrive"])


def _utc(text: str) -> dt.datetime:
    when = dt.datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Metres between two (lon, lat) points, as the schedule measures its walks."""
    return float(_step_metres(np.array([a, b]))[0])
