"""Maps, route sheets and GPX: what coordinators and walkers see.

* ``index.html``: the overview for coordinators: every team's first-night route, territories,
  hotspots shaded by risk with a legend, requests (served and unserved), no-go zones, a layer
  control and a per-team summary.
* ``teams/<slug>.html``: one team's map, each night a layer, numbered stops with times.
* ``teams/<slug>-sheet.html``: a printable sheet, one page per night.
* ``teams/<slug>.gpx``: the track and the stops, for phone navigation apps.

Every string that comes from outside (team names, contact lines, request notes) passes through
:func:`safe_text` before it reaches HTML or JavaScript. No incident point and no victim attribute
is drawn: risk is shown as hotspot areas only.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

import branca.colormap
import folium
import gpxpy.gpx
import numpy as np

if TYPE_CHECKING:
    from .pipeline import Plan

__all__ = ["overview_map", "route_gpx", "route_sheet", "safe_text", "team_map", "write_maps"]

TEAM_COLOURS = [
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#17becf",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
]
KIND_COLOURS = {"hotspot": "#b10026", "request": "#238b45", "recent": "#6a3d9a", "base": "#000"}
TILES = "OpenStreetMap"


def safe_text(value: Any) -> str:
    """Escape text for HTML and for the JavaScript template strings folium writes it into."""
    text = html.escape(str(value), quote=True)
    return text.replace("`", "&#96;").replace("$", "&#36;").replace("\\", "&#92;")


def write_maps(plan: Plan, document: dict[str, Any], folder: Path) -> None:
    """Write the overview, and per team its map, sheet and GPX, into ``folder``."""
    (folder / "teams").mkdir(parents=True, exist_ok=True)
    overview_map(plan, document).save(str(folder / "index.html"))
    for slug in dict.fromkeys(r["slug"] for r in document["teams"]):
        team_map(document, slug).save(str(folder / "teams" / f"{slug}.html"))
        (folder / "teams" / f"{slug}-sheet.html").write_text(
            route_sheet(document, slug), encoding="utf-8"
        )
        (folder / "teams" / f"{slug}.gpx").write_text(route_gpx(document, slug), encoding="utf-8")


def overview_map(plan: Plan, document: dict[str, Any]) -> folium.Map:
    """The coordinators' map of the whole week."""
    fmap = _base_map(document)
    colours = _team_colours(document)
    _hotspot_layer(document, show=True).add_to(fmap)
    _risk_scale(document).add_to(fmap)
    _territories(document).add_to(fmap)
    _zones(document).add_to(fmap)
    _requests(plan, document).add_to(fmap)
    first_nights = {}
    for route in document["teams"]:
        first_nights.setdefault(route["slug"], route)
    for slug, route in first_nights.items():
        group = folium.FeatureGroup(
            name=f"<span style='color:{colours[slug]}'>&#9632;</span> "
            f"{safe_text(route['team'])} ({_night_label(route['night'])})",
            show=True,
        )
        _route_line(route, colours[slug]).add_to(group)
        _base_marker(route, colours[slug]).add_to(group)
        group.add_to(fmap)
    folium.LayerControl(collapsed=True).add_to(fmap)
    _fit(fmap, document)
    fmap.get_root().html.add_child(folium.Element(_title_block(document, overview=True)))
    fmap.get_root().html.add_child(folium.Element(_summary_table(document, colours)))
    fmap.get_root().header.add_child(folium.Element(_MAP_CSS))
    return fmap


def team_map(document: dict[str, Any], slug: str) -> folium.Map:
    """One team's map: a layer per night with numbered stops and times."""
    routes = [r for r in document["teams"] if r["slug"] == slug]
    if not routes:
        raise KeyError(f"no team with slug {slug!r} in the plan")
    fmap = _base_map(document)
    colour = _team_colours(document)[slug]
    team = routes[0]["team"]
    territory = {
        "type": "FeatureCollection",
        "features": [
            f for f in document["territories"]["features"] if f["properties"]["team"] == team
        ],
    }
    folium.GeoJson(
        territory,
        name="Territory",
        style_function=lambda _f: {
            "color": "#444",
            "weight": 2,
            "dashArray": "6 4",
            "fillOpacity": 0.03,
        },
    ).add_to(fmap)
    _hotspot_layer(document, show=True).add_to(fmap)
    _zones(document, team=team).add_to(fmap)
    for i, route in enumerate(routes):
        group = folium.FeatureGroup(name=f"{_night_label(route['night'])}", show=i == 0)
        _route_line(route, colour).add_to(group)
        for number, stop in enumerate(route["stops"][1:-1], start=1):
            folium.Marker(
                [stop["lat"], stop["lon"]],
                icon=folium.DivIcon(
                    html=f'<div class="stop-number" style="background:{colour}">{number}</div>',
                    icon_size=(30, 30),
                    icon_anchor=(15, 15),
                ),
                tooltip=folium.Tooltip(f"{number}. {_clock(stop['arrive'])}"),
                popup=folium.Popup(_stop_popup(number, stop), max_width=260),
            ).add_to(group)
        group.add_to(fmap)
    _base_marker(routes[0]).add_to(fmap)
    folium.LayerControl(collapsed=True).add_to(fmap)
    _fit(fmap, document, team=team)
    fmap.get_root().html.add_child(folium.Element(_title_block(document, routes=routes)))
    fmap.get_root().header.add_child(folium.Element(_MAP_CSS))
    return fmap


def route_sheet(document: dict[str, Any], slug: str) -> str:
    """A printable HTML sheet for one team: one page per night, stops with times."""
    routes = [r for r in document["teams"] if r["slug"] == slug]
    team = safe_text(routes[0]["team"])
    pages = []
    for route in routes:
        rows = "".join(
            f"<tr><td>{n}</td><td>{_clock(s['arrive'])}</td><td>{_clock(s['depart'])}</td>"
            f"<td>{safe_text(_stop_title(s))}</td><td>{s['lat']:.5f}, {s['lon']:.5f}</td></tr>"
            for n, s in enumerate(route["stops"][1:-1], start=1)
        )
        shift = f"{_clock(route['shift_start'])}&ndash;{_clock(route['shift_end'])}"
        pages.append(
            f"""<section class="night">
<h1>{team}</h1>
<h2>{_night_label(route["night"])} &middot; {shift}</h2>
<p class="meta">Leave base {_clock(route["stops"][0]["depart"])} &middot; back at base
{_clock(route["stops"][-1]["arrive"])} &middot; {route["walk_km"]:.1f} km walking &middot;
{len(route["stops"]) - 2} stops of {route["dwell_min"]:g} min</p>
<table><thead><tr><th>#</th><th>Arrive</th><th>Leave</th><th>Stop</th>
<th>Corner (lat, lon)</th></tr></thead>
<tbody>{rows}</tbody></table>
<p class="contact"><strong>Contact:</strong> {safe_text(route["contact"]) or "&ndash;"}</p>
</section>"""
        )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{team}: route sheet, week of {document["week_of"]}</title>
<style>
body {{ font: 15px/1.4 system-ui, sans-serif; margin: 1.5em; color: #111; }}
h1 {{ font-size: 1.4em; margin: 0; }} h2 {{ font-size: 1.1em; margin: .2em 0 .6em; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border-bottom: 1px solid #bbb; padding: .35em .5em; text-align: left; }}
td:first-child {{ font-weight: bold; }}
.meta, .contact {{ margin: .5em 0; }}
section.night {{ margin-bottom: 2.5em; }}
@media print {{ body {{ margin: 0; }} section.night {{ page-break-after: always; }} }}
</style></head><body>
{"".join(pages)}
</body></html>
"""


def route_gpx(document: dict[str, Any], slug: str) -> str:
    """GPX for one team: a track per night and every stop as a waypoint."""
    gpx = gpxpy.gpx.GPX()
    gpx.creator = "outreach-routes"
    for route in (r for r in document["teams"] if r["slug"] == slug):
        track = gpxpy.gpx.GPXTrack(name=f"{route['team']} {_night_label(route['night'])}")
        segment = gpxpy.gpx.GPXTrackSegment()
        segment.points = [gpxpy.gpx.GPXTrackPoint(lat, lon) for lon, lat in route["path"]]
        track.segments.append(segment)
        gpx.tracks.append(track)
        for number, stop in enumerate(route["stops"][1:-1], start=1):
            gpx.waypoints.append(
                gpxpy.gpx.GPXWaypoint(
                    stop["lat"],
                    stop["lon"],
                    name=f"{_night_label(route['night'])[:3]} {number} {_clock(stop['arrive'])}",
                    description=_stop_title(stop),
                    time=dt.datetime.fromisoformat(stop["arrive"]),
                )
            )
    return gpx.to_xml()


# --- pieces ---------------------------------------------------------------------------------

_MAP_CSS = """<style>
.stop-number { width: 30px; height: 30px; border-radius: 15px; color: #fff; font: bold 15px/30px
  system-ui, sans-serif; text-align: center; border: 2px solid #fff; box-shadow: 0 0 3px #000; }
.stop-number.base { border: 3px solid #000; }
.plan-title { position: fixed; top: 10px; left: 55px; z-index: 1000; background: #fff;
  padding: 6px 10px; border-radius: 6px; box-shadow: 0 1px 4px rgba(0,0,0,.4);
  font: 14px/1.3 system-ui, sans-serif; max-width: 60vw; }
.plan-title h1 { font-size: 16px; margin: 0 0 2px; }
.plan-summary { position: fixed; bottom: 60px; left: 10px; z-index: 1000; background: #fff;
  padding: 6px 8px; border-radius: 6px; box-shadow: 0 1px 4px rgba(0,0,0,.4);
  font: 12px/1.3 system-ui, sans-serif; max-height: 40vh; overflow: auto; }
.plan-summary table { border-collapse: collapse; }
.plan-summary td, .plan-summary th { padding: 1px 5px; text-align: right; }
.plan-summary td:first-child, .plan-summary th:first-child { text-align: left; }
@media (max-width: 600px) { .plan-summary { display: none; } .plan-title { font-size: 13px; } }
</style>"""


def _risk_scale(document: dict[str, Any]) -> branca.colormap.LinearColormap:
    risks = [f["properties"]["risk"] for f in document["hotspots"]["features"]] or [0.0, 1.0]
    return branca.colormap.LinearColormap(
        ["#ffffb2", "#fd8d3c", "#bd0026"],
        vmin=min(risks),
        vmax=max(risks),
        caption="Hotspot risk (weighted shootings expected)",
    )


def _hotspot_layer(document: dict[str, Any], *, show: bool) -> folium.FeatureGroup:
    scale = _risk_scale(document)
    layer = folium.FeatureGroup(name="Hotspots (risk)", show=show)
    folium.GeoJson(
        document["hotspots"],
        style_function=lambda f: {
            "fillColor": scale(f["properties"]["risk"]),
            "color": scale(f["properties"]["risk"]),
            "weight": 1,
            "fillOpacity": 0.45,
        },
        tooltip=folium.GeoJsonTooltip(
            ["hotspot_id", "risk", "incidents", "recent"],
            aliases=["Hotspot", "Risk", "Shootings in history window", "In the last 2 weeks"],
        ),
    ).add_to(layer)
    return layer


def _base_map(document: dict[str, Any]) -> folium.Map:
    return folium.Map(location=_centre(document), zoom_start=12, tiles=TILES, control_scale=True)


def _centre(document: dict[str, Any]) -> list[float]:
    coords = np.array([c for r in document["teams"] for c in r["path"]])
    return [float(coords[:, 1].mean()), float(coords[:, 0].mean())]


def _fit(fmap: folium.Map, document: dict[str, Any], team: str | None = None) -> None:
    coords = np.array(
        [c for r in document["teams"] if team in (None, r["team"]) for c in r["path"]]
    )
    fmap.fit_bounds(
        [[coords[:, 1].min(), coords[:, 0].min()], [coords[:, 1].max(), coords[:, 0].max()]]
    )


def _team_colours(document: dict[str, Any]) -> dict[str, str]:
    slugs = list(dict.fromkeys(r["slug"] for r in document["teams"]))
    return {s: TEAM_COLOURS[i % len(TEAM_COLOURS)] for i, s in enumerate(slugs)}


def _territories(document: dict[str, Any]) -> folium.FeatureGroup:
    group = folium.FeatureGroup(name="Territories", show=True)
    for feature in document["territories"]["features"]:
        folium.GeoJson(
            feature,
            style_function=lambda _f: {
                "color": "#555",
                "weight": 1.5,
                "dashArray": "6 4",
                "fillOpacity": 0,
            },
            tooltip=folium.Tooltip(safe_text(feature["properties"]["team"])),
        ).add_to(group)
    return group


def _zones(document: dict[str, Any], team: str | None = None) -> folium.FeatureGroup:
    group = folium.FeatureGroup(name="No-go zones", show=True)
    for feature in document["no_go_zones"]["features"]:
        p = feature["properties"]
        if team is not None and p["teams"] and team not in p["teams"]:
            continue
        who = ", ".join(p["teams"]) or "all teams"
        until = f" until {p['until']}" if p["until"] else ""
        folium.GeoJson(
            feature,
            style_function=lambda _f: {
                "color": "#c00",
                "weight": 2,
                "dashArray": "4 3",
                "fillColor": "#c00",
                "fillOpacity": 0.25,
            },
            tooltip=folium.Tooltip(
                f"<b>No-go: {safe_text(p['name'])}</b><br>{safe_text(who)}{safe_text(until)}"
                f"<br>{safe_text(p['reason'])}"
            ),
        ).add_to(group)
    return group


def _requests(plan: Plan, document: dict[str, Any]) -> folium.FeatureGroup:
    group = folium.FeatureGroup(name="Community requests", show=True)
    served = set(document["requests"]["served"])
    requests = plan.requests[plan.requests["active"]].to_crs("EPSG:4326")
    for req in requests.itertuples():
        point = req.geometry.representative_point()
        ok = req.request_id in served
        colour = "#238b45" if ok else "#777"
        text = (
            f"<b>Request {safe_text(req.request_id)}</b> ({'served' if ok else 'not served'})"
            f"<br>Priority {req.priority} &middot; {safe_text(req.requester)}"
            f"<br>{safe_text(req.note)}<br>Valid {req.valid_from} to {req.valid_to}"
        )
        if req.geometry.geom_type != "Point":
            folium.GeoJson(
                req.geometry.__geo_interface__,
                style_function=lambda _f, c=colour: {"color": c, "weight": 2, "fillOpacity": 0.2},
            ).add_to(group)
        folium.CircleMarker(
            [point.y, point.x],
            radius=8,
            color="#fff",
            weight=2,
            fill=True,
            fill_color=colour,
            fill_opacity=1 if ok else 0.6,
            tooltip=folium.Tooltip(f"Request {safe_text(req.request_id)}"),
            popup=folium.Popup(text, max_width=280),
        ).add_to(group)
    return group


def _route_line(route: dict[str, Any], colour: str) -> folium.PolyLine:
    return folium.PolyLine(
        [[lat, lon] for lon, lat in route["path"]],
        color=colour,
        weight=5,
        opacity=0.85,
        tooltip=folium.Tooltip(
            f"{safe_text(route['team'])}: {_night_label(route['night'])}, "
            f"{len(route['stops']) - 2} stops, {route['walk_km']:.1f} km"
        ),
    )


def _base_marker(route: dict[str, Any], colour: str = "#000") -> folium.Marker:
    lon, lat = route["base"]
    return folium.Marker(
        [lat, lon],
        icon=folium.DivIcon(
            html=f'<div class="stop-number base" style="background:{colour}">B</div>',
            icon_size=(30, 30),
            icon_anchor=(15, 15),
        ),
        tooltip=folium.Tooltip(f"Base: {safe_text(route['team'])}"),
    )


def _stop_title(stop: dict[str, Any]) -> str:
    label = stop["label"]
    return label[:1].upper() + label[1:]


def _stop_popup(number: int, stop: dict[str, Any]) -> str:
    return (
        f"<b>{number}. {safe_text(_stop_title(stop))}</b><br>"
        f"Arrive {_clock(stop['arrive'])}, leave {_clock(stop['depart'])}"
    )


def _title_block(
    document: dict[str, Any], *, overview: bool = False, routes: list[dict[str, Any]] | None = None
) -> str:
    generated = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    if overview:
        head = f"{safe_text(document['city'])} outreach routes"
        extra = f"{len({r['slug'] for r in document['teams']})} teams"
        skill = document.get("forecast_skill")
        if skill:
            extra += (
                f"<br>Hotspot model, last {skill['weeks']} weeks: {skill['hit_rate']:.0%} of "
                f"shootings fell in the riskiest 5% of the city (PAI {skill['pai']:.1f})"
            )
    else:
        head = safe_text(routes[0]["team"])
        extra = f"Contact: {safe_text(routes[0]['contact'])}"
    return (
        f'<div class="plan-title"><h1>{head}</h1>Week of {document["week_of"]} &middot; '
        f"{extra}<br><small>Generated {generated}</small></div>"
    )


def _summary_table(document: dict[str, Any], colours: dict[str, str]) -> str:
    served = set(document["requests"]["served"])
    rows = []
    for slug, colour in colours.items():
        routes = [r for r in document["teams"] if r["slug"] == slug]
        stops = sum(len(r["stops"]) - 2 for r in routes)
        km = sum(r["walk_km"] for r in routes)
        minutes = sum(r["duration_min"] for r in routes)
        reqs = {s for r in routes for stop in r["stops"] for s in stop["sources"]} & served
        cover = document["coverage"][routes[0]["team"]]
        rows.append(
            f"<tr><td><span style='color:{colour}'>&#9632;</span> "
            f"{safe_text(routes[0]['team'])}</td><td>{len(routes)}</td><td>{stops}</td>"
            f"<td>{km:.1f}</td><td>{minutes:.0f}</td>"
            f"<td>{cover['stop_share']:.0%} / {cover['risk_share']:.0%}</td><td>{len(reqs)}</td>"
            "</tr>"
        )
    return (
        '<div class="plan-summary"><table><thead><tr><th>Team (week)</th><th>nights</th>'
        "<th>stops</th><th>km</th><th>min</th><th>covered (stops / risk)</th>"
        "<th>requests</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        f"<small>{len(document['unserved_requests'])} request(s) not served</small></div>"
    )


def _clock(stamp: str) -> str:
    return dt.datetime.fromisoformat(stamp).strftime("%H:%M")


def _night_label(night: str) -> str:
    return dt.date.fromisoformat(night).strftime("%A %d %b")
