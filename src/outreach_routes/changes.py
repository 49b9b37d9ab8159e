"""What changed since last week's plan: the change report of a weekly run.

:func:`compare_plans` takes two ``plan.json`` documents (this week's and the previous one) and
the incidents, and says in counts and lists:

* hotspots that appeared, grew, shrank, held or cleared (matched by overlap; grew or shrank
  when the area changed by more than a quarter);
* per team, the stop corners added and dropped over the week;
* requests newly served, and those still waiting with the number of weeks they have waited;
* the shootings of the previous plan's week, inside and outside the hotspots it planned
  (counts only, never the points).

:func:`changes_page` renders it as ``changes.html``. Both are plain functions over dicts.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from .render import html_page, safe_text
from .routing import place_name

__all__ = ["changes_page", "compare_plans"]

GROWTH = 0.25  # relative change in area that counts as grew or shrank


NOT_DONE_WEEKS = 3


def compare_plans(
    current: dict[str, Any],
    previous: dict[str, Any] | None,
    incidents: gpd.GeoDataFrame,
    *,
    previous_changes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The change report of ``current`` against ``previous`` (None for a first run).

    ``incidents`` are the loaded incidents (projected CRS, local ``occurred_at``);
    ``previous_changes`` (the previous run's report) carries how long requests have waited.
    """
    waiting_before = {
        r["request_id"]: r["weeks"]
        for r in (previous_changes or {}).get("requests", {}).get("still_waiting", [])
    }
    unserved_now = {r["request_id"]: r["reason"] for r in current["unserved_requests"]}
    report: dict[str, Any] = {
        "week_of": current["week_of"],
        "previous_week_of": previous["week_of"] if previous else None,
        # Stops the check-ins have not said were done for NOT_DONE_WEEKS weeks running: a
        # reason such as "area not safe tonight" may call for a no-go zone or a move.
        "not_done": [f for f in current.get("followup", []) if f["weeks"] >= NOT_DONE_WEEKS],
    }
    if previous is None:
        report["requests"] = {
            "newly_served": [],
            "still_waiting": [
                {"request_id": rid, "weeks": 1, "reason": reason}
                for rid, reason in sorted(unserved_now.items())
            ],
        }
        return report
    crs = incidents.crs
    report["hotspots"] = _hotspot_changes(current, previous, crs)
    report["stops"] = _stop_changes(current, previous)
    served_before = set(previous["requests"]["served"])
    report["requests"] = {
        "newly_served": sorted(set(current["requests"]["served"]) - served_before),
        "still_waiting": [
            {"request_id": rid, "weeks": waiting_before.get(rid, 1) + 1, "reason": reason}
            if rid in {r["request_id"] for r in previous["unserved_requests"]}
            else {"request_id": rid, "weeks": 1, "reason": reason}
            for rid, reason in sorted(unserved_now.items())
        ],
    }
    report["shootings_last_week"] = _shootings_in_hotspots(previous, incidents)
    return report


def _polygons(document: dict[str, Any], crs: Any) -> gpd.GeoDataFrame:
    features = document["hotspots"]["features"]
    if not features:
        return gpd.GeoDataFrame({"hotspot_id": [], "risk": []}, geometry=[], crs=crs)
    return gpd.GeoDataFrame.from_features(features, crs="EPSG:4326").to_crs(crs)


def _hotspot_changes(current, previous, crs) -> dict[str, Any]:
    now, before = _polygons(current, crs), _polygons(previous, crs)
    rows = []
    for spot in now.itertuples():
        overlap = before[before.intersects(spot.geometry)]
        if overlap.empty:
            status = "appeared"
        else:
            area_before = overlap.union_all().area
            change = spot.geometry.area / area_before - 1 if area_before else 0.0
            status = "grew" if change > GROWTH else "shrank" if change < -GROWTH else "held"
        rows.append(
            {
                "hotspot_id": spot.hotspot_id,
                "status": status,
                "was": sorted(overlap["hotspot_id"]),
                "area_ha": round(spot.geometry.area / 10_000, 1),
            }
        )
    hit = set() if now.empty else set(before[before.intersects(now.union_all())]["hotspot_id"])
    cleared = sorted(set(before["hotspot_id"]) - hit)
    counts = pd.Series([r["status"] for r in rows]).value_counts().to_dict()
    return {
        "counts": {key: int(counts.get(key, 0)) for key in ("appeared", "grew", "shrank", "held")}
        | {"cleared": len(cleared)},
        "current": rows,
        "cleared": cleared,
    }


def _stop_changes(current, previous) -> dict[str, Any]:
    def corners(document):
        out: dict[str, dict[tuple[float, float], str]] = {}
        for route in document["teams"]:
            for stop in route["stops"]:
                if stop["kind"] == "base":
                    continue
                key = (round(stop["lat"], 5), round(stop["lon"], 5))
                out.setdefault(route["team"], {})[key] = stop
        return out

    now, before = corners(current), corners(previous)
    report = {}
    for team in dict.fromkeys([*now, *before]):
        mine, theirs = now.get(team, {}), before.get(team, {})
        report[team] = {
            "added": [_changed(k, mine[k]) for k in sorted(mine.keys() - theirs.keys())],
            "dropped": [_changed(k, theirs[k]) for k in sorted(theirs.keys() - mine.keys())],
            "kept": len(mine.keys() & theirs.keys()),
        }
    return report


def _changed(place: tuple[float, float], stop: dict[str, Any]) -> dict[str, Any]:
    """An added or dropped stop of the change report: where (its corner, lat and lon) and why."""
    return {"lat": place[0], "lon": place[1], "corner": stop.get("corner"), "label": stop["label"]}


def _shootings_in_hotspots(previous, incidents: gpd.GeoDataFrame) -> dict[str, Any]:
    tz = incidents["occurred_at"].dt.tz
    start = pd.Timestamp(previous["week_of"]).tz_localize(tz)
    end = start + pd.Timedelta(days=7)
    week = incidents[(incidents["occurred_at"] >= start) & (incidents["occurred_at"] < end)]
    spots = _polygons(previous, incidents.crs)
    area = spots.union_all() if len(spots) else shapely.Polygon()
    inside = int(week.geometry.within(area).sum()) if len(week) else 0
    return {
        "from": start.date().isoformat(),
        "to": (end - pd.Timedelta(days=1)).date().isoformat(),
        "total": len(week),
        "inside_planned_hotspots": inside,
        "outside": len(week) - inside,
        "complete": bool(len(incidents) and incidents["occurred_at"].max() >= end),
    }


def changes_page(report: dict[str, Any], city: str, tonight: str = "") -> str:
    """``changes.html``: the report in plain words; ``tonight`` is the nightly revision's "new
    tonight" block (:func:`outreach_routes.render.new_tonight`), shown first."""
    week = report["week_of"]
    if report["previous_week_of"] is None:
        body = "<p>This is the first run: there is no earlier week to compare with.</p>"
    else:
        spots = report["hotspots"]["counts"]
        shots = report["shootings_last_week"]
        share = (
            f"{shots['inside_planned_hotspots'] / shots['total']:.0%}" if shots["total"] else "-"
        )
        partial = "" if shots["complete"] else " (the data does not cover the whole week yet)"
        rows = "".join(
            f"<tr><td>{safe_text(team)}</td><td>{len(c['added'])}</td><td>{len(c['dropped'])}"
            f"</td><td>{c['kept']}</td><td>{_labels(c['added'])}</td></tr>"
            for team, c in report["stops"].items()
        )
        changed = [s for s in report["hotspots"]["current"] if s["status"] != "held"]
        held = [s for s in report["hotspots"]["current"] if s["status"] == "held"]
        spot_rows = _spot_table(changed) + (
            f"<details><summary>{len(held)} held as they were</summary>{_spot_table(held)}"
            "</details>"
            if held
            else ""
        )
        body = f"""
<h2>Shootings in the week of {shots["from"]}</h2>
<p>{shots["total"]} shootings; {shots["inside_planned_hotspots"]} ({share}) inside the hotspots
that week's plan walked, {shots["outside"]} outside{partial}.</p>
<h2>Hotspots</h2>
<p>{spots["appeared"]} appeared, {spots["grew"]} grew, {spots["shrank"]} shrank,
{spots["held"]} held, {spots["cleared"]} cleared
({safe_text(", ".join(report["hotspots"]["cleared"])) or "none cleared"}).</p>
{spot_rows}
<h2>Stops per team</h2>
<table><thead><tr><th>Team</th><th>Added</th><th>Dropped</th><th>Kept</th><th>New stops</th>
</tr></thead><tbody>{rows}</tbody></table>"""
    requests = report["requests"]
    waiting = "".join(
        f"<li>{safe_text(r['request_id'])}: waiting {r['weeks']} week(s): "
        f"{safe_text(r['reason'])}</li>"
        for r in requests["still_waiting"]
    )
    served = safe_text(", ".join(requests["newly_served"])) or "none"
    previous = report["previous_week_of"] or "no earlier run"
    body = f"""<h1>{safe_text(city)}: what changed, week of {week}</h1>
<p>Compared with the plan of {previous}. <a href="index.html">Overview map</a></p>
{tonight}{body}
<h2>Community requests</h2>
<p>Newly served: {served}.</p>
<ul>{waiting or "<li>No request is waiting.</li>"}</ul>"""
    if report.get("not_done"):
        rows = "".join(
            f"<tr><td>{safe_text(f['team'])}</td><td>{safe_text(_place(f))}</td>"
            f"<td>{f['weeks']}</td><td>{safe_text('; '.join(f['why']))}</td></tr>"
            for f in report["not_done"]
        )
        body += (
            f"<h2>Not done for {NOT_DONE_WEEKS} weeks or more</h2><p>Stops no check-in has said "
            'were done, week after week, with the reasons given. A reason such as "area not '
            'safe tonight" may call for a no-go zone, or for moving the stop.</p><table><thead>'
            "<tr><th>Team</th><th>Stop</th><th>Weeks</th><th>Why</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
    style = "body { max-width: 60em; }"
    return html_page(f"{safe_text(city)}: changes, week of {week}", body, style)


def _spot_table(spots: list[dict[str, Any]]) -> str:
    if not spots:
        return ""
    rows = "".join(
        f"<tr><td>{safe_text(s['hotspot_id'])}</td><td>{s['status']}</td>"
        f"<td>{safe_text(', '.join(s['was'])) or '&ndash;'}</td><td>{s['area_ha']}</td></tr>"
        for s in spots
    )
    return (
        "<table><thead><tr><th>Hotspot</th><th>Change</th><th>Was</th><th>Area (ha)</th></tr>"
        f"</thead><tbody>{rows}</tbody></table>"
    )


def _place(record: dict[str, Any]) -> str:
    """Where a stop is, for people: its corner, else lat, lon; the id only for a record of an
    older plan that kept neither."""
    if record.get("corner") or "lat" in record:
        return place_name(record)
    return str(record.get("stop_id", ""))


def _labels(stops: list[dict[str, Any]]) -> str:
    shown = "; ".join(f"{safe_text(_place(s))} ({safe_text(s['label'])})" for s in stops[:4])
    return shown + (f" and {len(stops) - 4} more" if len(stops) > 4 else "")
