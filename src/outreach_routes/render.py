"""Maps, route sheets and GPX: what coordinators and walkers see.

* ``index.html``: the overview for coordinators: every team's first-night route with direction
  arrows (the other nights as a hidden layer), territories, hotspots shaded by risk with a
  legend, requests (served and unserved), hatched no-go zones, a layer control, a per-team
  summary, and a time slider that moves each team along its route through the shifts.
* ``teams/<slug>.html``: one team's map: a button per night, numbered stops with times.
* ``teams/<slug>-sheet.html``: a printable sheet, one page per night, with the streets to walk,
  the contact lines and the safety card.
* ``teams/<slug>.gpx``: the track and the stops, for phone navigation apps.
* ``teams/<slug>.ics``: each shift as a calendar event, with its stops and times.
* ``contacts.html``: every team's shift days, hours and line, and the coordinators' line.

Offline maps (``offline=True``) carry their JavaScript and CSS inline and draw the street
network as their base layer instead of map tiles, so they open with no connection at all.

Every string that comes from outside (team names, contact lines, request notes) passes through
:func:`safe_text` before it reaches HTML or JavaScript. No incident point and no victim attribute
is drawn: risk is shown as hotspot areas only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import itertools
import json
import math
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import branca.colormap
import branca.element
import folium
import gpxpy.gpx
import icalendar
import jinja2
import numpy as np
import shapely

from ._assets import assets_dir, inline_assets
from ._io import code_digest, dumps_json, sha256_file
from .palette import TEAM_COLOURS, team_colours
from .routing import place_name, pretty_street, shooting_name, shooting_when
from .schedule import corner_visits, route_track

if TYPE_CHECKING:
    from .pipeline import Plan

__all__ = [
    "contact_sheet",
    "html_page",
    "overview_map",
    "route_gpx",
    "route_sheet",
    "safe_text",
    "shift_calendar",
    "team_map",
    "team_view",
    "write_maps",
]

TILES = "OpenStreetMap"


def safe_text(value: Any) -> str:
    """Escape text for HTML and for the JavaScript template strings folium writes it into."""
    text = html.escape(str(value), quote=True)
    return text.replace("`", "&#96;").replace("$", "&#36;").replace("\\", "&#92;")


def write_maps(
    plan: Plan,
    document: dict[str, Any],
    folder: Path,
    *,
    offline: bool = False,
    assets: Path | None = None,
    reuse: Path | None = None,
) -> dict[str, dict[str, Any]]:
    """Write the overview, and per team its map, sheet, GPX and calendar, into ``folder``.

    With ``offline``, the maps inline their JavaScript and CSS from ``assets`` (a
    ``node_modules`` folder, see :func:`outreach_routes._assets.assets_dir`) and draw the street
    network instead of tiles.

    A team's four files are made from :func:`team_view` alone. ``reuse`` names a folder written
    earlier, whose ``manifest.json`` lists under ``team_files`` each team's view fingerprint and
    its files' SHA-256: a team whose view is unchanged, with its files there as they were made,
    has them copied rather than made again (a nightly re-plan changes one team or two). Offline
    maps are always made. Returns ``team_files`` for the new manifest.
    """
    modules = assets_dir(assets) if offline else None
    (folder / "teams").mkdir(parents=True, exist_ok=True)
    streets = _street_lines(plan) if offline else {}
    city_streets = _feature(streets.get(None))
    with _counted_ids():
        _save(overview_map(plan, document, streets=city_streets), folder / "index.html", modules)
    earlier = _team_files(reuse) if reuse is not None and not offline else {}
    made = {}
    for slug in dict.fromkeys(r["slug"] for r in document["teams"]):
        view = team_view(document, slug)
        fingerprint = _fingerprint(view)
        before = earlier.get(slug, {})
        if before.get("view") != fingerprint or not _copy_team_files(reuse, folder, before):
            _write_team_files(view, slug, folder, _feature(streets.get(view["team"])), modules)
        made[slug] = {
            "view": fingerprint,
            "sha256": {
                name: sha256_file(folder / "teams" / name)
                for name in (pattern.format(slug) for pattern in TEAM_FILES)
            },
        }
    (folder / "contacts.html").write_text(contact_sheet(document), encoding="utf-8")
    return made


def _write_team_files(
    view: dict[str, Any],
    slug: str,
    folder: Path,
    streets: dict[str, Any] | None,
    modules: Path | None,
) -> None:
    with _counted_ids():
        _save(team_map(view, slug, streets=streets), folder / "teams" / f"{slug}.html", modules)
    teams = folder / "teams"
    (teams / f"{slug}-sheet.html").write_text(route_sheet(view, slug), encoding="utf-8")
    (teams / f"{slug}.gpx").write_text(route_gpx(view, slug), encoding="utf-8")
    (teams / f"{slug}.ics").write_bytes(shift_calendar(view, slug))


TEAM_FILES = ("{}.html", "{}-sheet.html", "{}.gpx", "{}.ics")


def team_view(document: dict[str, Any], slug: str) -> dict[str, Any]:
    """The part of a plan document one team's files are made from: the plan's title fields, its
    hotspots and no-go zones, the team's routes and territory, and the revisions that changed
    the team. Other teams appear only as ``slug`` and ``team`` (their order sets the colours).

    :func:`team_map`, :func:`route_sheet`, :func:`route_gpx` and :func:`shift_calendar` give
    the same output for a view as for the whole document.
    """
    routes = [r for r in document["teams"] if r["slug"] == slug]
    if not routes:
        raise KeyError(f"no team with slug {slug!r} in the plan")
    team = routes[0]["team"]
    others = {r["slug"]: r["team"] for r in document["teams"] if r["slug"] != slug}
    teams = []
    for s in dict.fromkeys(r["slug"] for r in document["teams"]):
        teams += routes if s == slug else [{"slug": s, "team": others[s]}]
    shared = ["city", "week_of", "timezone", "coordinators_contact", "safety_card", "data_until"]
    shared.append("times_of_day")
    return {
        **{k: document[k] for k in shared if k in document},
        "team": team,
        "hotspots": document["hotspots"],
        "no_go_zones": document["no_go_zones"],
        "territories": {
            **document["territories"],
            "features": [
                f for f in document["territories"]["features"] if f["properties"]["team"] == team
            ],
        },
        "teams": teams,
        "revisions": [
            {"night": r["night"], "cutoff": r["cutoff"], "changes": changes}
            for r in document.get("revisions", [])
            if (changes := [c for c in r["changes"] if c["team"] == team])
            and any(c["added"] or c["dropped"] for c in changes)
        ],
    }


def _fingerprint(view: dict[str, Any]) -> str:
    """A team view's fingerprint, with the code and the libraries that draw it."""
    digest = hashlib.sha256(_renderer_version().encode())
    digest.update(json.dumps(view, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _renderer_version() -> str:
    """The package's source and the versions of the libraries behind the pages."""
    return code_digest(("folium", "branca", "jinja2", "gpxpy", "icalendar"))


def _team_files(folder: Path) -> dict[str, dict[str, Any]]:
    """``team_files`` of the manifest in ``folder``: per team its view's fingerprint and its
    files' SHA-256."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
        return dict(manifest["team_files"])
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _copy_team_files(source: Path, folder: Path, made: dict[str, Any]) -> bool:
    """Copy a team's files from an earlier output folder when each is there as it was made;
    False (nothing copied) otherwise."""
    hashes = made.get("sha256", {})
    if len(hashes) != len(TEAM_FILES):
        return False
    try:
        if any(sha256_file(source / "teams" / name) != digest for name, digest in hashes.items()):
            return False
    except OSError:
        return False
    for name in hashes:
        shutil.copyfile(source / "teams" / name, folder / "teams" / name)
    return True


@contextmanager
def _counted_ids() -> Iterator[None]:
    """Name the map elements built inside by a counter instead of folium's random ids, so the
    same plan gives the same bytes (a nightly re-plan rewrites only the maps that changed)."""
    counter = itertools.count(1)
    random_ids = branca.element.Element._generate_id
    branca.element.Element._generate_id = classmethod(lambda cls: f"{next(counter):032x}")
    try:
        yield
    finally:
        branca.element.Element._generate_id = random_ids


class _Literal:
    """A piece of a page that branca has already rendered, held as it is.

    While a map renders, each of its elements hands its finished header, HTML and script text
    to a new branca ``Element``, which compiles that text as a Jinja template only to render it
    back unchanged. On a team map that is hundreds of compiles: 1.8 of the 3.3 s the bundled
    plan spent writing its seven maps (``python -m cProfile``). Text without Jinja markup is
    kept as Jinja would render it (line ends as ``\\n``, one final newline dropped); the
    pages are byte-for-byte the same (``tests/test_pipeline.py``).
    """

    def __init__(self, source: str) -> None:
        text = source.replace("\r\n", "\n").replace("\r", "\n")
        self.text = text[:-1] if text.endswith("\n") else text

    def render(self, *_args: object, **_kwargs: object) -> str:
        return self.text


def _template(source: str) -> jinja2.Template | _Literal:
    """A Jinja template, or the text itself when it holds no Jinja markup."""
    if "{{" in source or "{%" in source or "{#" in source:
        return jinja2.Template(source)
    return _Literal(source)


@contextmanager
def _literal_pieces() -> Iterator[None]:
    """Render the pages built inside without compiling finished text as Jinja (``_Literal``)."""
    compiled = branca.element.Template
    branca.element.Template = _template
    try:
        yield
    finally:
        branca.element.Template = compiled


def _save(fmap: folium.Map, path: Path, modules: Path | None) -> None:
    with _literal_pieces():
        page = fmap.get_root().render()
    if modules is not None:
        page = inline_assets(page, modules)
    path.write_text(page, encoding="utf-8")


def overview_map(
    plan: Plan, document: dict[str, Any], *, streets: dict[str, Any] | None = None
) -> folium.Map:
    """The coordinators' map of the whole week (``streets``: a base layer for offline maps)."""
    fmap = _base_map(document, streets)
    colours = team_colours(document)
    _hotspot_layer(document, show=True).add_to(fmap)
    if document["hotspots"]["features"]:
        _risk_scale(document).add_to(fmap)
    _territories(document).add_to(fmap)
    _zones(document).add_to(fmap)
    _requests(plan, document).add_to(fmap)
    first_nights: dict[str, dict[str, Any]] = {}
    later = folium.FeatureGroup(name="Routes of the other nights", show=False)
    for route in document["teams"]:
        if route["slug"] in first_nights:
            _route_line(route, colours[route["slug"]], weight=3, opacity=0.6).add_to(later)
        else:
            first_nights[route["slug"]] = route
    for slug, route in first_nights.items():
        group = folium.FeatureGroup(
            name=f"<span style='color:{colours[slug]}'>&#9632;</span> "
            f"{safe_text(route['team'])} ({_night_label(route['night'])})",
            show=True,
        )
        _route_line(route, colours[slug]).add_to(group)
        _arrows(route, colours[slug], group, every_m=1200)
        _base_marker(route, colours[slug]).add_to(group)
        group.add_to(fmap)
    later.add_to(fmap)
    folium.LayerControl(collapsed=True).add_to(fmap)
    _fit(fmap, document)
    root = fmap.get_root()
    root.html.add_child(folium.Element(_title_block(document, overview=True)))
    root.html.add_child(folium.Element(_summary_table(document, colours) + _HATCH))
    _time_slider(fmap, document, colours)
    root.header.add_child(folium.Element(_MAP_CSS))
    return fmap


def team_map(
    document: dict[str, Any], slug: str, *, streets: dict[str, Any] | None = None
) -> folium.Map:
    """One team's map: a button per night, numbered stops with times."""
    routes = [r for r in document["teams"] if r["slug"] == slug]
    if not routes:
        raise KeyError(f"no team with slug {slug!r} in the plan")
    team = routes[0]["team"]
    fmap = _base_map(document, streets, team=team)
    colour = team_colours(document)[slug]
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
    nights = []
    for i, route in enumerate(routes):
        # Nights are switched by the buttons in the title block, not the layer control.
        group = folium.FeatureGroup(name=_night_label(route["night"]), show=i == 0, control=False)
        _route_line(route, colour).add_to(group)
        _arrows(route, colour, group)
        for number, stop in enumerate(route["stops"][1:-1], start=1):
            back = stop["kind"] == "base"  # back at base between two loops: beside the B
            folium.Marker(
                [stop["lat"], stop["lon"]],
                icon=folium.DivIcon(
                    html=f'<div class="stop-number{" base" if back else ""}" '
                    f'style="background:{colour}">{number}</div>',
                    icon_size=(30, 30),
                    icon_anchor=(-10, 32) if back else (15, 15),
                    class_name="stop-icon",
                ),
                tooltip=folium.Tooltip(
                    f"{number}. {_clock(stop['arrive'])} {safe_text(stop.get('corner') or '')}"
                ),
                popup=folium.Popup(_stop_popup(number, stop), max_width=260),
            ).add_to(group)
        group.add_to(fmap)
        nights.append(group)
    base = _base_marker(routes[0]).add_to(fmap)
    folium.LayerControl(collapsed=True).add_to(fmap)
    _fit(fmap, document, team=team)
    root = fmap.get_root()
    root.html.add_child(folium.Element(_title_block(document, routes=routes) + _HATCH))
    root.script.add_child(folium.Element(_night_picker_js(fmap, nights)))
    root.script.add_child(folium.Element(_spread_numbers_js(fmap, nights, base)))
    root.header.add_child(folium.Element(_MAP_CSS))
    return fmap


def route_sheet(document: dict[str, Any], slug: str) -> str:
    """A printable HTML sheet for one team: one page per night, stops with times, the streets
    to walk, the contact lines and the safety card."""
    routes = [r for r in document["teams"] if r["slug"] == slug]
    team = safe_text(routes[0]["team"])
    coordinators = safe_text(document.get("coordinators_contact", "")) or "&ndash;"
    card = "".join(f"<li>{safe_text(line)}</li>" for line in document.get("safety_card", []))
    card = f'<div class="card"><strong>Safety</strong><ul>{card}</ul></div>' if card else ""
    pages = []
    for route in routes:
        stops = route["stops"]
        rows = "".join(
            f"<tr><td>{n}</td><td>{_clock(s['arrive'])}</td><td>{_clock(s['depart'])}</td>"
            f"<td><strong>{safe_text(_stop_place(s))}</strong>"
            + (f"<br><small>{s['lat']:.5f}, {s['lon']:.5f}</small>" if s.get("corner") else "")
            + f"</td><td>{safe_text(_stop_title(s))}</td><td>{_way(stops[n - 1], s)}</td></tr>"
            for n, s in enumerate(stops[1:-1], start=1)
        )
        home = f"<p class='meta'><strong>Back to base:</strong> {_way(stops[-2], stops[-1])}</p>"
        shift = f"{_clock(route['shift_start'])}&ndash;{_clock(route['shift_end'])}"
        pages.append(
            f"""<section class="night">
<h1>{team}</h1>
<h2>{_night_label(route["night"])} &middot; {shift}</h2>
<p class="meta">Leave base {_clock(stops[0]["depart"])} &middot; back at base
{_clock(stops[-1]["arrive"])} &middot; {route["walk_km"]:.1f} km walking &middot;
{corner_visits(route)} stops of {route["dwell_min"]:g} min</p>
<p class="meta"><strong>Base:</strong> {safe_text(_stop_place(stops[0]))}</p>
<table><thead><tr><th>#</th><th>Arrive</th><th>Leave</th><th>Corner</th><th>Why</th>
<th>Getting there</th></tr></thead>
<tbody>{rows}</tbody></table>
{home}
<p class="contact"><strong>Team:</strong> {safe_text(route["contact"]) or "&ndash;"}
&middot; <strong>Coordinators:</strong> {coordinators}</p>
{card}
</section>"""
        )
    style = """
h1 { margin: 0; } h2 { font-size: 1.1em; margin: .2em 0 .6em; }
table { width: 100%; }
th, td { padding: .35em .5em; vertical-align: top; }
td:first-child { font-weight: bold; }
.meta, .contact { margin: .5em 0; }
.card { border: 2px solid #111; padding: .3em .8em; margin-top: .8em; }
.card ul { margin: .3em 0; padding-left: 1.2em; }
section.night { margin-bottom: 2.5em; }
@media print { body { margin: 0; font-size: 12px; } section.night { page-break-after: always; } }
/* On a phone each stop is a block of its own: number and times, the corner, why, the way. */
@media screen and (max-width: 600px) {
  body { margin: .8em; font-size: 16px; }
  thead { display: none; }
  table, tbody, tr, td { display: block; width: auto; }
  tr { border-bottom: 2px solid #999; padding: .5em 0; }
  td { border: 0; padding: .1em 0; overflow-wrap: anywhere; }
  td:nth-child(-n+3) { display: inline; font-weight: bold; }
  td:nth-child(2)::before { content: " · arrive "; font-weight: normal; }
  td:nth-child(3)::before { content: " · leave "; font-weight: normal; }
  td:nth-child(4) { margin-top: .2em; }
  td:nth-child(5) { color: #333; }
  td:nth-child(6)::before { content: "Getting there: "; font-weight: bold; }
}
"""
    return html_page(f"{team}: route sheet, week of {document['week_of']}", "".join(pages), style)


def html_page(title: str, body: str, style: str = "") -> str:
    """A plain printable page in the project's look; ``title`` and ``body`` are HTML already
    escaped by the caller."""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font: 15px/1.4 system-ui, sans-serif; margin: 1.5em; color: #111; }}
h1 {{ font-size: 1.4em; margin: 0 0 .3em; }}
table {{ border-collapse: collapse; }}
th, td {{ border-bottom: 1px solid #bbb; padding: .3em .6em; text-align: left; }}
@media print {{ a {{ color: inherit; text-decoration: none; }} }}
{style}
</style></head><body>
{body}
</body></html>
"""


def _way(previous: dict[str, Any], stop: dict[str, Any]) -> str:
    """How to walk from ``previous`` to ``stop`` in words: every street of the leg, a nameless
    piece as "unnamed path"; a distance and heading where the network has no names at all."""
    runs = [(name, metres) for name, metres in stop.get("via", []) if metres >= 1]
    total = sum(m for _n, m in runs)
    if any(name for name, _m in runs):
        # Short runs are crossings and jogs: fold them into the walk, then join repeats.
        kept: list[tuple[str, float]] = []
        for name, metres in [(n, m) for n, m in runs if m >= 40] or runs:
            if kept and kept[-1][0] == name:
                kept[-1] = (name, kept[-1][1] + metres)
            else:
                kept.append((name, metres))
        return " &rarr; ".join(
            f"{safe_text(pretty_street(n)) if n else 'unnamed path'} {_distance(m)}"
            for n, m in kept
        )
    heading = _compass(previous["lon"], previous["lat"], stop["lon"], stop["lat"])
    return f"{_distance(total)} on foot, heading {heading}" if total else "&ndash;"


def _distance(metres: float) -> str:
    return f"{metres / 1000:.1f} km" if metres >= 1000 else f"{round(metres, -1):.0f} m"


def _compass(lon0: float, lat0: float, lon1: float, lat1: float) -> str:
    east = (lon1 - lon0) * math.cos(math.radians((lat0 + lat1) / 2))
    bearing = math.degrees(math.atan2(east, lat1 - lat0)) % 360
    names = ["north", "north-east", "east", "south-east", "south", "south-west", "west"]
    names.append("north-west")
    return names[int((bearing + 22.5) // 45) % 8]


def contact_sheet(document: dict[str, Any]) -> str:
    """A printable page: every team with its shift days and hours and its line, and the
    coordinators' line on top."""
    rows = []
    for slug in dict.fromkeys(r["slug"] for r in document["teams"]):
        routes = [r for r in document["teams"] if r["slug"] == slug]
        days = ", ".join(_night_label(r["night"])[:3] for r in routes)
        hours = sorted(
            {f"{_clock(r['shift_start'])}&ndash;{_clock(r['shift_end'])}" for r in routes}
        )
        base = routes[0]["base"]
        rows.append(
            f"<tr><td>{safe_text(routes[0]['team'])}</td><td>{days}</td><td>{', '.join(hours)}</td>"
            f"<td>{safe_text(routes[0]['contact']) or '&ndash;'}</td>"
            f"<td>{base[1]:.5f}, {base[0]:.5f}</td>"
            f'<td><a href="teams/{slug}.html">map</a> &middot; <a href="teams/{slug}-sheet.html">'
            f'sheet</a> &middot; <a href="teams/{slug}.ics">calendar</a></td></tr>'
        )
    coordinators = safe_text(document.get("coordinators_contact", "")) or "&ndash;"
    city = safe_text(document["city"])
    style = """
.coordinators { font-size: 1.2em; border: 2px solid #111; padding: .4em .8em;
  display: inline-block; margin: .4em 0 1em; }
table { width: 100%; }
"""
    body = f"""<h1>{city} outreach teams, week of {document["week_of"]}</h1>
<div class="coordinators"><strong>Coordinators:</strong> {coordinators}</div>
<table><thead><tr><th>Team</th><th>Shift days</th><th>Hours ({safe_text(document["timezone"])})</th>
<th>Contact</th><th>Base (lat, lon)</th><th></th></tr></thead>
<tbody>{"".join(rows)}</tbody></table>
<p><a href="index.html">Overview map</a></p>"""
    return html_page(f"{city}: team contacts, week of {document['week_of']}", body, style)


def shift_calendar(document: dict[str, Any], slug: str) -> bytes:
    """An iCalendar file for one team: each shift an event, its stops and times described."""
    routes = [r for r in document["teams"] if r["slug"] == slug]
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//outreach-routes//weekly plan//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"{routes[0]['team']}: outreach shifts")
    # No clock in the file: the same plan gives the same bytes.
    stamp = dt.datetime.fromisoformat(routes[0]["shift_start"]).astimezone(dt.UTC)
    zone = ZoneInfo(document["timezone"])
    for route in routes:
        event = icalendar.Event()
        event.add("uid", f"{slug}-{route['night']}@outreach-routes")
        event.add("dtstamp", stamp)
        event.add("dtstart", dt.datetime.fromisoformat(route["shift_start"]).astimezone(zone))
        event.add("dtend", dt.datetime.fromisoformat(route["shift_end"]).astimezone(zone))
        event.add("summary", f"{route['team']}: outreach shift")
        event.add("location", f"Base: {_stop_place(route['stops'][0])}")
        lines = [
            f"{n}. {_clock(stop['arrive'])}-{_clock(stop['depart'])} {_stop_place(stop)}: "
            f"{_stop_title(stop)}"
            for n, stop in enumerate(route["stops"][1:-1], start=1)
        ]
        lines.append(f"Back at base {_clock(route['stops'][-1]['arrive'])}")
        lines.append(f"Team line: {route['contact']}")
        if document.get("coordinators_contact"):
            lines.append(f"Coordinators: {document['coordinators_contact']}")
        event.add("description", "\n".join(lines))
        calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()


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
                    name=f"{_night_label(route['night'])[:3]} {number} {_clock(stop['arrive'])}"
                    + (f" {stop['corner']}" if stop.get("corner") else ""),
                    description=f"{_stop_place(stop)}: {_stop_title(stop)}",
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
.plan-summary ul.unserved { margin: 2px 0; padding-left: 1.2em; max-width: 420px; }
.new-tonight ul { margin: 2px 0; padding-left: 1.2em; max-width: 420px; }
.route-arrow { font: bold 15px/16px system-ui, sans-serif; text-align: center;
  text-shadow: 0 0 2px #fff, 0 0 2px #fff; }
.nogo-zone { fill: url(#nogo-hatch); fill-opacity: 1; }
.plan-key { display: flex; flex-wrap: wrap; gap: 2px 12px; margin-top: 4px;
  border-top: 1px solid #ddd; padding-top: 3px; }
.plan-key i { display: inline-block; width: 14px; height: 10px; margin-right: 4px;
  vertical-align: middle; }
.time-panel { position: fixed; bottom: 30px; right: 10px;
  z-index: 1001; background: #fff; padding: 6px 10px; border-radius: 6px; width: 330px;
  box-shadow: 0 1px 4px rgba(0,0,0,.4); font: 13px/1.4 system-ui, sans-serif; }
.time-panel input { width: 100%; height: 28px; margin: 2px 0; }
.time-panel ul { margin: 2px 0 0; padding: 0; list-style: none; max-height: 9em;
  overflow: auto; }
.team-dot { width: 16px; height: 16px; border-radius: 10px; border: 3px solid #111;
  box-shadow: 0 0 4px #000; }
.night-picker { display: flex; flex-wrap: wrap; gap: 4px; margin-top: 4px; }
.night-picker button { min-width: 44px; min-height: 36px; border: 1px solid #888;
  border-radius: 6px; background: #f4f4f4; font: 14px system-ui, sans-serif; }
.night-picker button[aria-pressed="true"] { background: #222; color: #fff; }
@media (max-width: 600px) {
  /* The risk colour bar would lie across the title and the zoom buttons on a phone. */
  .plan-summary, .plan-key, .legend.leaflet-control { display: none; }
  /* Clear of the zoom buttons on its left and the layers button on its right. */
  .plan-title { font-size: 13px; right: 62px; max-width: none; }
  .time-panel { width: auto; left: 8px; right: 8px; bottom: 20px; }
}
</style>"""

# Said when the map library could not load (no connection, a blocked CDN): a blank page says
# nothing. Offline maps carry Leaflet inline, so they never show it.
_NO_LEAFLET = """<div class="no-map" hidden style="position:fixed;top:40%;left:10%;right:10%;
z-index:2000;background:#fff;border:2px solid #b10026;padding:12px;font:16px system-ui,sans-serif">
The map library could not load (no connection?). Ask for the maps made with
<code>outreach-routes plan --offline</code>, which need no connection; the route sheet works
without one.</div>
<script>window.addEventListener("load", function () {
  if (typeof L === "undefined") { document.querySelector(".no-map").hidden = false; }
});</script>"""

# Symbols of the overview, for the reader who has not used the tool before.
_KEY = """<div class="plan-key">
<div><i style="background:#1f77b4;height:4px"></i>route (&#9650; walking direction)</div>
<div><i style="background:#238b45;border-radius:5px;width:10px"></i>request served</div>
<div><i style="background:#999;border-radius:5px;width:10px;opacity:.6"></i>request not
served</div>
<div><i style="background:repeating-linear-gradient(45deg,#c00 0 2px,#fff 2px 5px)"></i>no-go
zone</div>
<div><i style="border-top:2px dashed #555;height:0"></i>territory</div>
</div>"""

# The stripes that fill no-go zones (an SVG pattern the map's paths refer to by id).
_HATCH = """<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs>
<pattern id="nogo-hatch" patternUnits="userSpaceOnUse" width="8" height="8"
 patternTransform="rotate(45)"><rect width="8" height="8" fill="#c00" fill-opacity=".08"/>
<rect width="3" height="8" fill="#c00" fill-opacity=".55"/></pattern></defs></svg>"""


def _risk_scale(document: dict[str, Any]) -> branca.colormap.LinearColormap:
    risks = [f["properties"]["risk"] for f in document["hotspots"]["features"]] or [0.0, 1.0]
    return branca.colormap.LinearColormap(
        ["#ffffb2", "#fd8d3c", "#bd0026"],
        vmin=min(risks),
        vmax=max(risks),
        caption="Hotspot risk (weighted shootings expected)",
    )


def _hotspot_layer(document: dict[str, Any], *, show: bool) -> folium.FeatureGroup:
    if not document["hotspots"]["features"]:
        return folium.FeatureGroup(name="Hotspots (none this week)", show=show)
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


def _base_map(
    document: dict[str, Any], streets: dict[str, Any] | None = None, team: str | None = None
) -> folium.Map:
    """A map with tiles, or with ``streets`` drawn as its base layer and no tiles (offline)."""
    tiles = None if streets else TILES
    # Quarter zoom steps: the routes fill the screen instead of jumping a whole level away.
    fmap = folium.Map(
        location=_centre(document, team),
        zoom_start=12,
        tiles=tiles,
        control_scale=True,
        zoom_snap=0.25,
    )
    lean(fmap)
    fmap.get_root().html.add_child(folium.Element(_NO_LEAFLET))
    if streets:
        folium.GeoJson(
            streets,
            name="Streets",
            control=False,
            style_function=lambda _f: {"color": "#9a9a9a", "weight": 1.2, "opacity": 0.9},
            interactive=False,
        ).add_to(fmap)
    return fmap


def lean(fmap: folium.Map) -> folium.Map:
    """The map with the only libraries these maps use, Leaflet and jQuery (for folium's
    popups): not folium's Bootstrap, Font Awesome or awesome markers (1.8 MB inlined in every
    offline map; more CDNs online)."""
    fmap.default_js = [(n, u) for n, u in fmap.default_js if n in ("leaflet", "jquery")]
    fmap.default_css = [(n, u) for n, u in fmap.default_css if n == "leaflet_css"]
    return fmap


def _street_lines(plan: Plan) -> dict[str | None, shapely.Geometry]:
    """The walking network as display lines (WGS84): for each team its territory's streets,
    and under ``None`` the streets of every territory together."""
    edges = plan.network.edges.geometry
    projected = edges.to_numpy()
    lines = edges.simplify(3).to_crs("EPSG:4326").set_precision(1e-5).to_numpy()
    drawn = ~shapely.is_empty(lines)
    out: dict[str | None, shapely.Geometry] = {}
    for team in plan.teams:
        near = drawn & shapely.intersects(projected, team.territory.buffer(250))
        out[team.name] = shapely.multilinestrings(lines[near])
    everywhere = shapely.union_all([t.territory for t in plan.teams]).buffer(400)
    out[None] = shapely.multilinestrings(lines[drawn & shapely.intersects(projected, everywhere)])
    return out


def _feature(geometry: shapely.Geometry | None) -> dict[str, Any] | None:
    if geometry is None:
        return None
    return {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(geometry)}


def _centre(document: dict[str, Any], team: str | None = None) -> list[float]:
    """The middle of the routes (of one team's, for its map: no other team's change moves it)."""
    coords = np.array(
        [c for r in document["teams"] if team in (None, r["team"]) for c in r["path"]]
    )
    return [float(coords[:, 1].mean()), float(coords[:, 0].mean())]


def _fit(fmap: folium.Map, document: dict[str, Any], team: str | None = None) -> None:
    """Frame the routes, clear of the title block above and the panels below."""
    coords = np.array(
        [c for r in document["teams"] if team in (None, r["team"]) for c in r["path"]]
    )
    _frame(
        fmap,
        [[coords[:, 1].min(), coords[:, 0].min()], [coords[:, 1].max(), coords[:, 0].max()]],
        padding_top_left=(10, 120 if team is None else 170),
        padding_bottom_right=(10, 200 if team is None else 40),
    )


def _frame(fmap: folium.Map, bounds: list[list[float]], **padding: tuple[int, int]) -> None:
    """Open the map on ``bounds`` at once, not by an animated zoom from folium's first view: the
    page is still until the reader moves it, and the scripts that place the stop numbers see
    the markers where they stay (a quarter-second zoom left them measuring moving markers)."""
    fit = folium.FitBounds(bounds, **padding)
    fit.options["animate"] = False
    fmap.add_child(fit)


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
                "className": "nogo-zone",
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
        if req.geometry is None or req.geometry.is_empty:
            continue  # a corner that could not be placed: listed as not served, with the reason
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


def _route_line(
    route: dict[str, Any], colour: str, *, weight: float = 5, opacity: float = 0.85
) -> folium.PolyLine:
    return folium.PolyLine(
        [[lat, lon] for lon, lat in route["path"]],
        color=colour,
        weight=weight,
        opacity=opacity,
        tooltip=folium.Tooltip(
            f"{safe_text(route['team'])}: {_night_label(route['night'])}, "
            f"{corner_visits(route)} stops, {route['walk_km']:.1f} km"
        ),
    )


def _arrows(
    route: dict[str, Any], colour: str, group: folium.FeatureGroup, *, every_m: float = 400.0
) -> None:
    """Small arrowheads along the route, every ``every_m`` metres, pointing the way walked."""
    path = np.asarray(route["path"], dtype=float)
    if len(path) < 2:
        return
    scale = np.cos(np.radians(path[:, 1].mean()))
    xy = np.column_stack([path[:, 0] * scale, path[:, 1]]) * 111_195.0
    step = np.hypot(*np.diff(xy, axis=0).T)
    along = np.concatenate([[0.0], np.cumsum(step)])
    for mark in np.arange(every_m / 2, along[-1], every_m):
        i = min(int(np.searchsorted(along, mark, side="right")) - 1, len(step) - 1)
        if step[i] <= 0:
            continue
        share = (mark - along[i]) / step[i]
        lon, lat = path[i] + share * (path[i + 1] - path[i])
        dx, dy = xy[i + 1] - xy[i]
        angle = math.degrees(math.atan2(dx, dy))
        folium.Marker(
            [float(lat), float(lon)],
            icon=folium.DivIcon(
                html=f'<div style="color:{colour};transform:rotate({angle:.0f}deg)">&#9650;</div>',
                icon_size=(16, 16),
                icon_anchor=(8, 8),
                class_name="route-arrow",
            ),
            interactive=False,
            z_index_offset=-1000,  # under every stop number and base, wherever they meet
        ).add_to(group)


def _base_marker(route: dict[str, Any], colour: str = "#000") -> folium.Marker:
    lon, lat = route["base"]
    return folium.Marker(
        [lat, lon],
        icon=folium.DivIcon(
            html=f'<div class="stop-number base" style="background:{colour}">B</div>',
            icon_size=(30, 30),
            icon_anchor=(15, 15),
            class_name="base-icon",
        ),
        tooltip=folium.Tooltip(f"Base: {safe_text(route['team'])}"),
    )


def _time_slider(fmap: folium.Map, document: dict[str, Any], colours: dict[str, str]) -> None:
    """A slider over the shifts' minutes that moves a dot per team to where the plan puts it."""
    routes = document["teams"]
    starts = sorted({(r["shift_start"], r["shift_end"]) for r in routes})
    origin = dt.datetime.fromisoformat(starts[0][0]).timestamp()
    ticks = []
    for start, end in starts:
        t0, t1 = (dt.datetime.fromisoformat(x) for x in (start, end))
        clock = t0
        while clock <= t1:
            if not ticks or clock.timestamp() - origin > ticks[-1][0]:
                ticks.append([round(clock.timestamp() - origin), clock.strftime("%a %d %b %H:%M")])
            clock += dt.timedelta(minutes=_SLIDER_MIN)
    # Each track is sent as its positions at the slider's ticks (and its two ends), the only
    # times the page reads it: a fifth of the whole path's points (the city-wide overview 4.07
    # -> 2.95 MB, the bundled one 0.57 -> 0.46 MB).
    at = np.array([t for t, _label in ticks], dtype=float)
    teams = []
    for slug, colour in colours.items():
        tracks = []
        for route in (r for r in routes if r["slug"] == slug):
            track = route_track(route)
            times = track[:, 0] - origin
            when = np.concatenate([[times[0]], at[(at > times[0]) & (at < times[-1])], [times[-1]]])
            lon, lat = (np.interp(when, times, track[:, k]) for k in (1, 2))
            stops = [
                [_rel(s["arrive"], origin), _rel(s["depart"], origin)] for s in route["stops"][1:-1]
            ]
            tracks.append(
                {
                    "t": [round(t) for t in when.tolist()],
                    "ll": [
                        [round(y, 5), round(x, 5)]
                        for x, y in zip(lon.tolist(), lat.tolist(), strict=True)
                    ],
                    "stops": stops,
                    "shift": [_rel(route["shift_start"], origin), _rel(route["shift_end"], origin)],
                }
            )
        name = next(r["team"] for r in routes if r["slug"] == slug)
        teams.append({"name": name, "colour": colour, "tracks": tracks})
    data = dumps_json({"ticks": ticks, "teams": teams}, indent=None)
    data = data.replace("</", "<\\/")  # nothing in the data can close the script element
    fmap.get_root().html.add_child(
        folium.Element(
            '<div class="time-panel"><label for="plan-time">Where the plan puts each team: '
            '<b id="plan-time-label"></b></label>'
            f'<input type="range" id="plan-time" min="0" max="{len(ticks) - 1}" value="0" '
            'step="1"><ul id="plan-time-teams"></ul></div>'
        )
    )
    fmap.get_root().script.add_child(
        folium.Element(_SLIDER_JS.replace("MAP", fmap.get_name()).replace("DATA", data))
    )


_SLIDER_MIN = 5
# Team names reach the page only through textContent: never parsed as HTML. Runs once the page
# is parsed: folium defines the map after this script.
_SLIDER_JS = """
document.addEventListener("DOMContentLoaded", function () {
  var map = MAP, data = DATA;
  var slider = document.getElementById("plan-time");
  var label = document.getElementById("plan-time-label");
  var list = document.getElementById("plan-time-teams");
  var rows = [], markers = data.teams.map(function (team) {
    var icon = L.divIcon({className: "team-marker", iconSize: [18, 18], iconAnchor: [9, 9],
      html: '<div class="team-dot" style="background:' + team.colour + '"></div>'});
    var marker = L.marker([0, 0], {icon: icon, zIndexOffset: 1000, keyboard: false});
    var name = document.createElement("span");
    name.textContent = team.name;
    marker.bindTooltip(name);
    var row = document.createElement("li"), swatch = document.createElement("span");
    swatch.style.color = team.colour;
    swatch.textContent = "\u25a0 ";
    row.appendChild(swatch);
    row.appendChild(document.createTextNode(""));
    list.appendChild(row);
    rows.push(row);
    return marker;
  });
  function where(track, t) {
    var times = track.t, lo = 0, hi = times.length - 1;
    t = Math.min(Math.max(t, times[0]), times[hi]);  // before leaving or once back: at base
    while (hi - lo > 1) { var mid = (lo + hi) >> 1; if (times[mid] <= t) lo = mid; else hi = mid; }
    var span = times[hi] - times[lo], f = span > 0 ? (t - times[lo]) / span : 0;
    var a = track.ll[lo], b = track.ll[hi];
    return [a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1])];
  }
  function status(track, t) {
    if (t < track.t[0]) return "at base";
    if (t >= track.t[track.t.length - 1]) return "back at base";
    for (var i = 0; i < track.stops.length; i++) {
      var s = track.stops[i];
      if (t < s[0]) return "walking to stop " + (i + 1);
      if (t <= s[1]) return "at stop " + (i + 1);
    }
    return "walking back to base";
  }
  function show(index) {
    var tick = data.ticks[index], t = tick[0];
    label.textContent = tick[1];
    data.teams.forEach(function (team, k) {
      var track = team.tracks.find(function (r) {
        return r.shift[0] <= t && t <= r.shift[1];
      });
      var text = rows[k].lastChild;
      if (track) {
        markers[k].setLatLng(where(track, t)).addTo(map);
        text.textContent = team.name + ": " + status(track, t);
      } else {
        markers[k].remove();
        text.textContent = team.name + ": off shift";
      }
    });
  }
  slider.addEventListener("input", function () { show(+slider.value); });
  show(+slider.value);
});
"""


def _night_picker_js(fmap: folium.Map, nights: list[folium.FeatureGroup]) -> str:
    names = ", ".join(g.get_name() for g in nights)
    # Runs once the page is parsed: folium defines the map and its layers after this script.
    return f"""
document.addEventListener("DOMContentLoaded", function () {{
  var map = {fmap.get_name()}, nights = [{names}];
  var buttons = Array.from(document.querySelectorAll(".night-picker button"));
  buttons.forEach(function (button) {{
    button.addEventListener("click", function () {{
      var chosen = +button.dataset.night;
      nights.forEach(function (layer, k) {{
        if (k === chosen) map.addLayer(layer); else map.removeLayer(layer);
      }});
      buttons.forEach(function (b) {{ b.setAttribute("aria-pressed", String(b === button)); }});
    }});
  }});
}});
"""


def _spread_numbers_js(
    fmap: folium.Map, nights: list[folium.FeatureGroup], base: folium.Marker
) -> str:
    """Keep every number of the shown night readable: a stop whose number would cover the base's
    B or an earlier stop's number (two corners a few metres apart, at the zoom shown) has its
    number moved just clear of them, the nearest free place around its corner, after each zoom
    and change of night. The marker stays on its corner: its tooltip, popup and the route line
    still show where it is."""
    names = ", ".join(g.get_name() for g in nights)
    return f"""
document.addEventListener("DOMContentLoaded", function () {{
  var map = {fmap.get_name()}, nights = [{names}], base = {base.get_name()};
  function rect(el) {{  // the number's own circle, border included
    return (el.querySelector(".stop-number") || el).getBoundingClientRect();
  }}
  function meets(a, b) {{
    return a.left < b.right - 2 && b.left < a.right - 2 &&
      a.top < b.bottom - 2 && b.top < a.bottom - 2;
  }}
  function moved(r, dx, dy) {{
    return {{left: r.left + dx, right: r.right + dx, top: r.top + dy, bottom: r.bottom + dy}};
  }}
  function spread() {{
    var placed = base.getElement() ? [rect(base.getElement())] : [];
    nights.forEach(function (night) {{
      if (!map.hasLayer(night)) return;
      night.eachLayer(function (layer) {{
        var el = layer.getElement && layer.getElement();
        if (!el || !el.classList.contains("stop-icon")) return;
        if (el.dataset.margin === undefined) {{
          el.dataset.margin = el.style.marginLeft + " " + el.style.marginTop;
        }}
        var margin = el.dataset.margin.split(" ");
        el.style.marginLeft = margin[0]; el.style.marginTop = margin[1];
        var here = rect(el), step = here.width + 2, best = [0, 0];
        search: for (var ring = 0; ring < 4; ring++) {{
          for (var k = 0; k < (ring ? 8 : 1); k++) {{
            var angle = Math.PI * (0.75 - k / 4);  // up-left first, then clockwise
            var dx = ring * step * Math.cos(angle), dy = -ring * step * Math.sin(angle);
            var there = moved(here, dx, dy);
            if (!placed.some(function (p) {{ return meets(p, there); }})) {{
              best = [dx, dy]; break search;
            }}
          }}
        }}
        el.style.marginLeft = (parseFloat(margin[0]) + best[0]) + "px";
        el.style.marginTop = (parseFloat(margin[1]) + best[1]) + "px";
        placed.push(moved(here, best[0], best[1]));
      }});
    }});
  }}
  map.on("zoomend", spread);
  map.on("layeradd", function (e) {{ if (nights.indexOf(e.layer) >= 0) spread(); }});
  spread();
}});
"""


def _rel(stamp: str, origin: float) -> int:
    return round(dt.datetime.fromisoformat(stamp).timestamp() - origin)


def _stop_title(stop: dict[str, Any]) -> str:
    """Why the stop is there: "Hotspot H03; request R2 (priority 4)"."""
    label = stop["label"]
    return label[:1].upper() + label[1:]


def _stop_place(stop: dict[str, Any]) -> str:
    """Where the stop is: its corner ("8th St & Adeline St"), or its lat, lon where the network
    has no street names."""
    return place_name(stop)


def _dates_only(document: dict[str, Any]) -> bool:
    """Whether the plan's shootings carry dates but no times of day (shown as dates)."""
    return not document.get("times_of_day", True)


def _stop_popup(number: int, stop: dict[str, Any]) -> str:
    return (
        f"<b>{number}. {safe_text(_stop_place(stop))}</b><br>"
        f"Arrive {_clock(stop['arrive'])}, leave {_clock(stop['depart'])}"
        f"<br><small>{safe_text(_stop_title(stop))}</small>"
    )


def _title_block(
    document: dict[str, Any], *, overview: bool = False, routes: list[dict[str, Any]] | None = None
) -> str:
    stamp = _data_stamp(document, None if overview or not routes else routes[0]["team"])
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
        # A team without a line of its own is reached through the coordinators.
        contact = routes[0]["contact"] or document.get("coordinators_contact") or "none set"
        extra = f"Contact: {safe_text(contact)}"
        buttons = "".join(
            f'<button type="button" data-night="{i}" aria-pressed="{str(i == 0).lower()}" '
            f'title="{_night_label(r["night"])}">{_night_label(r["night"])[:3]}</button>'
            for i, r in enumerate(routes)
        )
        extra += f'<div class="night-picker">{buttons}</div>'
    coordinators = document.get("coordinators_contact")
    if overview:
        line = f"{safe_text(coordinators)} &middot; " if coordinators else ""
        extra += (
            f'<br>{line}<a href="contacts.html">All team contacts</a> &middot; '
            '<a href="changes.html">What changed since last week</a>'
        )
    return (
        f'<div class="plan-title"><h1>{head}</h1>Week of {document["week_of"]} &middot; '
        f'{extra}<small style="display:block">{stamp}</small></div>'
    )


def _data_stamp(document: dict[str, Any], team: str | None) -> str:
    """What data the page is made from (not when: the same plan gives the same bytes): the
    newest shooting the weekly plan used, and the latest nightly revision (on a team's page, the
    latest that changed it) with how many came before it."""
    parts = []
    if document.get("data_until"):
        until = dt.datetime.fromisoformat(document["data_until"])
        day = f"{until:%a %d %b %Y}"
        parts.append(f"Shootings to {day if _dates_only(document) else f'{day} {until:%H:%M}'}")
    revisions = [
        r
        for r in document.get("revisions", [])
        if team is None
        or any(c["team"] == team and (c["added"] or c["dropped"]) for c in r["changes"])
    ]
    if revisions:
        latest = revisions[-1]
        cutoff = dt.datetime.fromisoformat(latest["cutoff"])
        before = len(revisions) - 1
        parts.append(
            f"revised for the night of {_night_label(latest['night'])} with shootings to "
            f"{cutoff:%a %d %b %H:%M}"
            + (f" (after {before} earlier revision{'s' if before > 1 else ''})" if before else "")
        )
    return safe_text("; ".join(parts))


def _summary_table(document: dict[str, Any], colours: dict[str, str]) -> str:
    served = set(document["requests"]["served"])
    rows = []
    for slug, colour in colours.items():
        routes = [r for r in document["teams"] if r["slug"] == slug]
        stops = sum(corner_visits(r) for r in routes)
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
        '<div class="plan-summary"><details open><summary>This week, per team (tap to fold)'
        "</summary><table><thead><tr><th>Team (week)</th><th>nights</th>"
        "<th>stops</th><th>km</th><th>min</th><th>covered (stops / risk)</th>"
        "<th>requests</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        f"{new_tonight(document)}{_unserved_list(document)}{_KEY}"
        "</details></div>"
    )


def new_tonight(document: dict[str, Any]) -> str:
    """The latest nightly revision in words, for coordinators: per team the response walk, after
    which shooting, and what was dropped for it; each new shooting walked to on an earlier night
    of the week, by which team; and each given no stop, with why. Shootings are named by place
    and time (their date alone where the incidents carry no times). Empty for a weekly plan."""
    if not document.get("revisions"):
        return ""
    revision = document["revisions"][-1]
    dates_only = _dates_only(document)
    when = dt.datetime.fromisoformat
    places = {s["stop_id"]: _stop_place(s) for r in document["teams"] for s in r["stops"]}
    items = []
    for stop in revision["response_stops"]:
        walked = (
            f"walked {_night_label(stop['walked_on'])}" if stop["walked_on"] else "fits no shift"
        )
        dropped = next(
            (
                c["dropped"]
                for c in revision["changes"]
                if c["team"] == stop["team"] and c["night"] == stop["walked_on"]
            ),
            [],
        )
        lost = (
            "; dropped for it: " + ", ".join(places.get(d, d) for d in dropped) if dropped else ""
        )
        items.append(
            f"<li><b>{safe_text(stop['team'])}</b>: response walk to "
            f"{safe_text(_stop_place(stop))} after the shooting of "
            f"{shooting_when(when(stop['occurred_at']), dates_only=dates_only)} "
            f"({walked}){safe_text(lost)}</li>"
        )
    for row in revision.get("answered_before", []):
        items.append(
            f"<li>Shooting at {safe_text(shooting_name(row, dates_only=dates_only))}: "
            f"response walk {_night_label(row['walked_on'])} by <b>{safe_text(row['team'])}</b>"
            "</li>"
        )
    for row in revision["not_answered"]:
        items.append(
            f"<li>Shooting at {safe_text(shooting_name(row, dates_only=dates_only))}: "
            f"no response stop, {safe_text(row['reason'])}</li>"
        )
    if not items:
        items.append("<li>No new shooting since the weekly plan.</li>")
    return (
        f"<div class='new-tonight'><b>New tonight ({_night_label(revision['night'])}, shootings "
        f"to {when(revision['cutoff']):%H:%M})</b><ul>{''.join(items)}</ul></div>"
    )


def _unserved_list(document: dict[str, Any]) -> str:
    """The requests not served this week, each with its reason (folded)."""
    unserved = document["unserved_requests"]
    if not unserved:
        return "<small>Every active request is served.</small>"
    items = "".join(
        f"<li><b>{safe_text(r['request_id'])}</b>: {safe_text(_shorten(r['reason'], 160))}</li>"
        for r in unserved
    )
    return (
        f"<details><summary><small>{len(unserved)} request(s) not served</small></summary>"
        f"<ul class='unserved'>{items}</ul></details>"
    )


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def _clock(stamp: str) -> str:
    return dt.datetime.fromisoformat(stamp).strftime("%H:%M")


def _night_label(night: str) -> str:
    return dt.date.fromisoformat(night).strftime("%A %d %b")


# --- the dosage report (outreach_routes.report) -----------------------------------------------

_DOSE_SCALE = ["#d7301f", "#fec44f", "#1a9850"]  # none, half, all the planned minutes
_NOT_PLANNED = "#9e9e9e"
_HOURS_SCALE = ["#f7fbff", "#6baed6", "#08306b"]
_SHOT_FILL = {"after": "#1a9850", "before": "#fe9929", "none": "#ffffff"}

_REPORT_CSS = """<style>
.report-body { font: 14px/1.4 system-ui, sans-serif; color: #111; padding: 8px 12px 24px; }
.report-body h1 { font-size: 1.3em; margin: .2em 0; }
.report-body h2 { font-size: 1.1em; margin: 1em 0 .3em; }
.report-body .scroll { overflow-x: auto; }
.report-body table { border-collapse: collapse; }
.report-body th, .report-body td { border-bottom: 1px solid #ccc; padding: 3px 8px;
  text-align: right; white-space: nowrap; }
.report-body th:first-child, .report-body td:first-child,
.report-body .text { text-align: left; }
.report-body td:last-child { white-space: normal; }
.report-key { display: flex; flex-wrap: wrap; gap: 2px 14px; font-size: 13px; }
.report-key i { display: inline-block; width: 11px; height: 11px; border-radius: 6px;
  border: 1.5px solid #111; margin-right: 4px; vertical-align: -1px; }
</style>"""


def report_page(document: dict[str, Any], figures: dict[str, Any]) -> str:
    """The coordinators' dosage report: a map of the week's shootings in the territories (no
    victim attributes: the figures hold none) and the hotspots shaded by the share of their
    planned minutes checked in, above the tables of ``figures``
    (:func:`outreach_routes.report.dosage`)."""
    fmap = _base_map(document)
    fmap.height = (55.0, "vh")
    _territories(document).add_to(fmap)
    scale = branca.colormap.LinearColormap(
        _DOSE_SCALE, vmin=0, vmax=1, caption="Share of the planned minutes checked in"
    )
    minutes = {h["hotspot_id"]: h for h in figures["hotspots"]}
    layer = folium.FeatureGroup(name="Hotspots (dosage)", show=True)
    for feature in document["hotspots"]["features"]:
        spot = feature["properties"]["hotspot_id"]
        done = minutes.get(spot, {"planned_min": 0.0, "checked_in_min": 0.0})
        if done["planned_min"]:
            colour = scale(min(done["checked_in_min"] / done["planned_min"], 1.0))
            tip = (
                f"{safe_text(spot)}: {done['checked_in_min']:.0f} of "
                f"{done['planned_min']:.0f} planned minutes checked in"
            )
        else:
            colour, tip = _NOT_PLANNED, f"{safe_text(spot)}: no stops planned"
        folium.GeoJson(
            feature,
            style_function=lambda _f, c=colour: {
                "fillColor": c,
                "color": c,
                "weight": 1,
                "fillOpacity": 0.5,
            },  # fmt: skip
            tooltip=folium.Tooltip(tip),
        ).add_to(layer)
    layer.add_to(fmap)
    shots = folium.FeatureGroup(name="Shootings this week", show=True)
    for shot in figures["shootings"]:
        kind = "after" if shot["team_after"] else "before" if shot["team_before"] else "none"
        when = shooting_when(
            dt.datetime.fromisoformat(shot["occurred_at"]), dates_only=_dates_only(document)
        )
        folium.CircleMarker(
            [shot["lat"], shot["lon"]],
            radius=7,
            color="#111",
            weight=2,
            fill=True,
            fill_color=_SHOT_FILL[kind],
            fill_opacity=1,
            tooltip=(
                f"Shooting {when}<br>Team within 150 m in the 72 h before: "
                f"{'yes' if shot['team_before'] else 'no'}; after: "
                f"{'yes' if shot['team_after'] else 'no'}"
            ),
        ).add_to(shots)
    shots.add_to(fmap)
    folium.LayerControl(collapsed=True).add_to(fmap)
    west, south, east, north = shapely.union_all(
        [shapely.geometry.shape(f["geometry"]) for f in document["territories"]["features"]]
    ).bounds
    _frame(fmap, [[south, west], [north, east]], padding=(10, 10))
    root = fmap.get_root()
    root.header.add_child(folium.Element(_REPORT_CSS))
    # folium adds the map's own <div> to the page when it renders: the tables go after it.
    page = root.render()
    cut = page.rindex("</body>")
    return page[:cut] + _report_tables(document, figures) + page[cut:]


def _gradient(colours: list[str], low: str, high: str) -> str:
    """A colour scale's key as a small bar between its two ends, for the page's text (a legend
    drawn on the map covers its controls on a phone)."""
    bar = f"linear-gradient(to right, {', '.join(colours)})"
    return (
        f"<span>{low} <b style='display:inline-block;width:90px;height:10px;"
        f"background:{bar};vertical-align:-1px'></b> {high}</span>"
    )


def _report_tables(document: dict[str, Any], figures: dict[str, Any]) -> str:
    totals = figures["totals"]
    shots = figures["shootings"]
    after = sum(s["team_after"] for s in shots)
    key = "".join(
        f'<span><i style="background:{_SHOT_FILL[k]}"></i>{text}</span>'
        for k, text in (
            ("after", "a team came within 150 m in the 72 h after"),
            ("before", "a team was there in the 72 h before, not after"),
            ("none", "no team near it"),
        )
    )
    head = (
        f"<h1>{safe_text(document['city'])}: what was done, week of {document['week_of']}</h1>"
        f"<div class='report-key'>Shootings on the map: {key}</div>"
        f"<div class='report-key'>Hotspots: {_gradient(_DOSE_SCALE, 'none', 'all')} of the "
        f"planned minutes checked in; <span><i style='background:{_NOT_PLANNED}'></i>no stops "
        "planned</span></div>"
        f"<p>{totals['done']} of {totals['planned']} planned stops done, {totals['skipped']} "
        f"skipped, {totals['not_reported']} not reported. {len(shots)} shooting(s) in the "
        f"territories; a team came within 150 m in the 72 h after {after} of them.</p>"
    )
    rows = "".join(
        f"<tr><td>{safe_text(n['team'])}</td><td class='text'>{_night_label(n['night'])}</td>"
        f"<td>{n['planned']}</td><td>{n['done']}</td><td>{n['skipped']}</td>"
        f"<td>{n['not_reported']}</td>"
        f"<td>{'' if n['km_walked'] is None else format(n['km_walked'], '.1f')}</td>"
        f"<td class='text'>"
        + "; ".join(f"{safe_text(r)} ({k})" for r, k in n["skip_reasons"].items())
        + "</td></tr>"
        for n in figures["nights"]
    )
    nights = (
        "<h2>Stops per team and night</h2><div class='scroll'><table><tr><th>Team</th>"
        "<th class='text'>Night</th><th>Planned</th><th>Done</th><th>Skipped</th>"
        f"<th>Not reported</th><th>km shared</th><th class='text'>Why skipped</th></tr>{rows}"
        "</table></div>"
    )
    spots = "".join(
        f"<tr><td>{safe_text(h['hotspot_id'])}</td><td>{h['planned_min']:.0f}</td>"
        f"<td>{h['checked_in_min']:.0f}</td></tr>"
        for h in figures["hotspots"]
    )
    hotspots = (
        "<h2>Minutes at each hotspot</h2><div class='scroll'><table><tr><th>Hotspot</th>"
        f"<th>Planned</th><th>Checked in</th></tr>{spots}</table></div>"
    )
    dates_only = _dates_only(document)
    responses = "".join(
        f"<tr><td>{safe_text(r['team'])}</td>"
        f"<td class='text'>{safe_text(shooting_name(r, dates_only=dates_only))}</td>"
        f"<td>{'' if r['hours_after'] is None else r['hours_after']}</td>"
        f"<td>{'yes' if r['within_window'] else 'no'}</td></tr>"
        for r in figures["response_stops"]
    )
    scenes = "".join(
        f"<tr><td>{safe_text(s['id'])}</td><td>{safe_text(s['nearest_team'] or '')}</td>"
        f"<td>{'not answered' if s['minutes_to_answer'] is None else s['minutes_to_answer']}"
        "</td></tr>"
        for s in figures["scene_requests"]
    )
    problems = "".join(
        f"<li>{safe_text(text)}: {count}</li>" for text, count in figures["problems"].items()
    )
    return (
        f"<div class='report-body'>{head}{nights}{hotspots}"
        "<h2>Response stops</h2>"
        + (
            "<div class='scroll'><table><tr><th>Team</th><th class='text'>Shooting</th>"
            f"<th>Hours after {'the end of its day' if dates_only else 'it'}</th>"
            f"<th>Within the window</th></tr>{responses}</table></div>"
            if responses
            else "<p>None this week.</p>"
        )
        + "<h2>Scene requests</h2>"
        + (
            "<div class='scroll'><table><tr><th>Request</th><th>Nearest team</th>"
            f"<th>Minutes to answer</th></tr>{scenes}</table></div>"
            if scenes
            else "<p>None this week.</p>"
        )
        + "<h2>Check-ins that did not fit the plan</h2>"
        + (f"<ul>{problems}</ul>" if problems else "<p>None.</p>")
        + "</div>"
    )


def public_page(summary: dict[str, Any]) -> str:
    """The public summary (``report --public``): territories shaded by the hours of presence
    published for them, and the table by week. Every number in it that could be a coordinate is
    one of the territories' vertices' (the map's bounds are their least and greatest)."""
    features = summary["territories"]["features"]
    hours: dict[str, float] = {}
    for week in summary["weeks"]:
        for row in week["territories"]:
            if row["presence_hours"] is not None:
                hours[row["territory"]] = hours.get(row["territory"], 0.0) + row["presence_hours"]
    shapes = [shapely.geometry.shape(f["geometry"]) for f in features]
    vertices = shapely.get_coordinates(shapes) if shapes else np.zeros((1, 2))
    (west, south), (east, north) = vertices.min(axis=0), vertices.max(axis=0)
    fmap = folium.Map(location=[south, west], zoom_start=12, tiles=TILES)
    _frame(fmap, [[south, west], [north, east]], padding=(10, 10))
    fmap.default_js = [(n, u) for n, u in fmap.default_js if n in ("leaflet", "jquery")]
    fmap.default_css = [(n, u) for n, u in fmap.default_css if n == "leaflet_css"]
    fmap.height = (55.0, "vh")
    scale = branca.colormap.LinearColormap(
        _HOURS_SCALE,
        vmin=0,
        vmax=max(hours.values(), default=1.0) or 1.0,
        caption="Hours of presence published",
    )
    for feature in features:
        name = feature["properties"]["territory"]
        colour = scale(hours.get(name, 0.0))
        folium.GeoJson(
            feature,
            style_function=lambda _f, c=colour: {
                "fillColor": c,
                "color": "#333",
                "weight": 1.5,
                "fillOpacity": 0.6,
            },  # fmt: skip
            tooltip=folium.Tooltip(f"{safe_text(name)}: {hours.get(name, 0.0):.0f} h"),
        ).add_to(fmap)

    def cell(value: Any) -> str:
        return "<td>&lt;3</td>" if value is None else f"<td>{value}</td>"

    names = [f["properties"]["territory"] for f in features]
    head = "".join(f"<th>{safe_text(n)}</th>" for n in names)
    rows = ""
    for week in summary["weeks"]:
        by_name = {r["territory"]: r for r in week["territories"]}
        for label, key in (("stops done", "stops_done"), ("hours", "presence_hours"),
                           ("response rate", "response_rate")):  # fmt: skip
            values = [by_name.get(n, {}).get(key) for n in names]
            total = week["total"].get(key, "")
            rows += (
                f"<tr><td class='text'>{week['week_of']}</td><td class='text'>{label}</td>"
                + "".join(
                    "<td>&ndash;</td>" if key == "response_rate" and v is None else cell(v)
                    for v in values
                )
                + ("<td></td>" if key == "response_rate" else cell(total))
                + "</tr>"
            )
    body = (
        f"<div class='report-body'><h1>{safe_text(summary['city'])}: violence interruption, "
        "week by week</h1><p>Stops done, hours of presence and the share of response walks done "
        "within 72 h of a shooting, per territory, for weeks at least two weeks old. Counts "
        f"under {summary['suppressed_under']} are shown as &lt;3, and one more is hidden where a "
        "total would give them away; a response rate is given over 3 response walks or "
        "more (&ndash;: fewer).</p><div class='report-key'>Territories on the map: hours of "
        f"presence, {_gradient(_HOURS_SCALE, '0', f'{scale.vmax:.0f}')}</div>"
        "<div class='scroll'><table><tr><th>Week of</th><th></th>"
        f"{head}<th>All</th></tr>{rows}</table></div></div>"
    )
    root = fmap.get_root()
    root.header.add_child(folium.Element(_REPORT_CSS))
    page = root.render()
    cut = page.rindex("</body>")
    return page[:cut] + body + page[cut:]


# --- the new city's proposal (`init`) ----------------------------------------------------------

_SETUP_CSS = """<style>
.setup-note { position: fixed; top: 10px; left: 55px; z-index: 1000; background: #fff;
  padding: 6px 10px; border-radius: 6px; box-shadow: 0 1px 4px rgba(0,0,0,.4);
  font: 13px/1.35 system-ui, sans-serif; max-width: min(460px, calc(100vw - 150px)); }
.setup-note h1 { font-size: 16px; margin: 0 0 2px; }
.setup-note ul { margin: 2px 0; padding-left: 1.2em; }
.setup-key { display: flex; flex-wrap: wrap; gap: 2px 12px; margin-top: 4px; }
.setup-key i { display: inline-block; width: 12px; height: 12px; margin-right: 4px;
  vertical-align: middle; border-radius: 6px; }
.setup-base { width: 18px; height: 18px; border-radius: 9px; border: 3px solid #000;
  box-shadow: 0 0 3px #fff; }
@media (max-width: 600px) { .setup-note ul, .setup-checks { display: none; }
  .setup-note { font-size: 12px; } .setup-note h1 { font-size: 14px; } }
</style>"""


def setup_page(
    *,
    city: str,
    extent: shapely.Geometry,
    streets: shapely.Geometry | None,
    incidents: Any,
    territories: Any,
    bases: list[dict[str, Any]],
    hotspots: Any | None,
    checks: list[str],
    modules: Path | None = None,
) -> str:
    """``setup.html``: one map of what ``init`` proposes for a new city, to look it over.

    ``extent`` is the walking network's extent, ``streets`` its lines; ``incidents`` a
    GeoDataFrame of located rows with ``outside`` (beyond the limits: drawn red);
    ``territories`` the teams' areas (``team``);
    ``bases`` ``{"name", "lat", "lon", "corner"}`` per team; ``hotspots`` those the first plan
    would use. Everything is in WGS 84; every text from the data is escaped.
    """
    lat, lon = extent.centroid.y, extent.centroid.x
    fmap = folium.Map(location=[lat, lon], zoom_start=13, tiles=TILES, control_scale=True)
    lean(fmap)
    fmap.get_root().html.add_child(folium.Element(_NO_LEAFLET))
    layers = [
        (extent, "Street network's extent", {"color": "#333", "weight": 2, "fillOpacity": 0.03}),
        (streets, "Walkable streets", {"color": "#8a8a8a", "weight": 1, "opacity": 0.8}),
    ]
    for shape, name, style in layers:
        if shape is not None:
            folium.GeoJson(
                shapely.geometry.mapping(shape),
                name=name,
                style_function=lambda _f, s=style: s,
                interactive=False,
            ).add_to(fmap)
    colours = {}
    group = folium.FeatureGroup(name="Proposed territories", show=True)
    for i, row in enumerate(territories.itertuples()):
        colour = colours[row.team] = TEAM_COLOURS[i % len(TEAM_COLOURS)]
        folium.GeoJson(
            shapely.geometry.mapping(row.geometry),
            style_function=lambda _f, c=colour: {
                "color": c,
                "weight": 3,
                "fillColor": c,
                "fillOpacity": 0.08,
            },
            tooltip=folium.Tooltip(safe_text(row.team)),
        ).add_to(group)
    group.add_to(fmap)
    if hotspots is not None and len(hotspots):
        layer = folium.FeatureGroup(name="Hotspots of the first plan", show=True)
        folium.GeoJson(
            json.loads(hotspots[["geometry"]].to_json(drop_id=True)),
            style_function=lambda _f: {
                "color": "#b10026",
                "weight": 1,
                "fillColor": "#fd8d3c",
                "fillOpacity": 0.5,
            },
            interactive=False,
        ).add_to(layer)
        layer.add_to(fmap)
    for outside, name, colour in (
        (False, "Shootings inside the limits", "#1f3a93"),
        (True, "Shootings outside the limits (rejected)", "#d7191c"),
    ):
        rows = incidents[incidents["outside"] == outside]
        layer = folium.FeatureGroup(name=f"{name} ({len(rows):,})", show=True)
        if len(rows):
            folium.GeoJson(
                json.loads(rows[["geometry"]].to_json(drop_id=True)),
                marker=folium.CircleMarker(
                    radius=3 if not outside else 5,
                    color=colour,
                    fill=True,
                    fill_opacity=0.7,
                    weight=1,
                ),
                interactive=False,
            ).add_to(layer)
        layer.add_to(fmap)
    group = folium.FeatureGroup(name="Bases", show=True)
    for base in bases:
        colour = colours.get(base["name"], "#000")
        folium.Marker(
            [base["lat"], base["lon"]],
            icon=folium.DivIcon(
                html=f'<div class="setup-base" style="background:{colour}"></div>',
                icon_size=(24, 24),
                icon_anchor=(12, 12),
            ),
            tooltip=folium.Tooltip(
                f"<b>{safe_text(base['name'])}</b>: base at {safe_text(base['corner'])}"
            ),
        ).add_to(group)
    group.add_to(fmap)
    folium.LayerControl(collapsed=True).add_to(fmap)
    everything = shapely.union_all([extent, *territories.geometry])
    west, south, east, north = everything.bounds
    _frame(fmap, [[south, west], [north, east]], padding_top_left=(10, 190))
    items = "".join(f"<li>{safe_text(c)}</li>" for c in checks)
    key = (
        '<div class="setup-key"><div><i style="background:#1f3a93"></i>shooting</div>'
        '<div><i style="background:#d7191c"></i>outside the limits</div>'
        '<div><i style="background:#fd8d3c;border-radius:0"></i>hotspot</div>'
        '<div><i style="background:#fff;border:3px solid #000;width:8px;height:8px"></i>base'
        "</div></div>"
    )
    note = (
        f'<div class="setup-note"><h1>{safe_text(city)}: proposed set-up</h1>'
        f'<span class="setup-checks">Check before the first plan:</span><ul>{items}</ul>'
        f"{key}</div>"
    )
    root = fmap.get_root()
    root.html.add_child(folium.Element(note))
    root.header.add_child(folium.Element(_SETUP_CSS))
    with _literal_pieces():
        page = root.render()
    return inline_assets(page, modules) if modules is not None else page
