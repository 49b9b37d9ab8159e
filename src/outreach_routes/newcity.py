"""A new city's first config, proposed from two files (``outreach-routes init``).

From a shooting export and a street file (an OpenStreetMap extract or city centerlines), and
optionally a file of the program's own areas, :func:`propose_city` detects what a person would
otherwise look up by hand (the incident columns, the coordinates' CRS, the street-name column
and the freeways to drop, the city's UTM zone and time zone, the city limits), cuts or groups
territories for the teams and puts each team's base at a named corner near the middle of its
territory's risk. :func:`write_city` writes ``plan.toml`` (every choice commented with why and
what to check), ``limits.geojson``, the proposed ``territories.geojson`` and ``setup.html``, a
map to look the proposal over, then checks the config as ``validate`` does.

Nothing here names a city: every choice comes from the data and pyproj's database.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._errors import InputDataError
from ._io import read_table, read_vector, write_text_atomic
from .config import PLACEHOLDER_CONTACT, HotspotConfig, IncidentConfig, NetworkConfig
from .districts import cut_territories, group_areas
from .incidents import DATE_NAMES, LAT_NAMES, LON_NAMES, X_NAMES, Y_NAMES
from .network import OSM_SUFFIXES, WalkingNetwork, cache_network, load_walking_network
from .projection import lonlat, state_plane_crs, utm_crs

__all__ = [
    "CityFiles",
    "CityProposal",
    "detect_incidents",
    "detect_streets",
    "init_city",
    "propose_city",
    "write_city",
]

DEFAULT_TEAMS = 4
MAX_OUTSIDE_M = 2000.0  # [incidents] max_outside_m's default: "far away" in the notes

ID_NAMES = ("incident_id", "incident_number", "incident_num", "case_number", "dc_key", "id")
ID_NAMES += ("objectid", "event_id", "cad_number", "report_number")
FATAL_NAMES = ("fatal", "is_fatal", "fatality", "n_killed", "killed", "deaths", "dead")
TYPE_HINTS = ("characteristic", "type", "category", "offense", "offence", "description", "ucr")
STREET_NAME_HINTS = ("streetname", "street_name", "st_name", "stname", "fullname", "full_name")
STREET_NAME_HINTS += ("name", "street", "label", "str_name")
AREA_NAME_HINTS = ("name", "bdname", "neighborhood", "neighbourhood", "nbhd", "district")
AREA_NAME_HINTS += ("dist_name", "area", "label", "zone", "beat", "sector")
SHOOTING_WORDS = re.compile(
    r"\bshots?\b|(?<!non-)\bshooting|\bfired\b|\bgunshot", flags=re.IGNORECASE
)
_DATE_TEXT = re.compile(
    r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)",
    flags=re.IGNORECASE,
)
# Names of centerline segments nobody walks along, each tried against the file's names.
FREEWAY_PATTERNS = {
    r"^INTERSTATE ": "interstates",
    r"\bI-?\s?\d+\b": "interstates written I-94 or I94",
    r"\bHOV\b": "HOV lanes",
    r"\bRAMP\b": "ramps",
    r"\bTO\b": 'ramps named like "EB I94 TO 25TH AVE S"',
    r"\b(?:FREEWAY|FWY|EXPRESSWAY|EXPY)\b": "freeways and expressways",
}
FREEWAY_CLASSES = re.compile(
    r"freeway|motorway|interstate|expressway|limited access|highway ramp|\bramp\b",
    flags=re.IGNORECASE,
)


@dataclass(frozen=True)
class Choice:
    """One value of the config with the comment that says why and what to check."""

    key: str
    value: Any
    why: str = ""


@dataclass
class CityProposal:
    """What ``init`` proposes: the config's tables as commented choices, and the layers of
    ``setup.html`` (all in WGS 84)."""

    folder: Path
    name: str
    city: list[Choice]
    incidents: list[Choice]
    incident_comments: list[str]
    network: list[Choice]
    network_comments: list[str]
    territories: list[Choice]
    territory_comments: list[str]
    teams: list[dict[str, Any]]
    limits: gpd.GeoDataFrame
    areas: gpd.GeoDataFrame | None  # the proposed territories.geojson (None: the user's file)
    points: gpd.GeoDataFrame  # every located incident row, ``outside`` the limits or not
    extent: shapely.Geometry  # the walking network's extent
    crs: str = "EPSG:4326"  # of each team's ``shape``
    streets: shapely.Geometry | None = None  # the walkable streets, simplified, in WGS 84
    problems: list[str] = field(default_factory=list)


# --- the whole proposal ------------------------------------------------------------------------


@dataclass(frozen=True)
class CityFiles:
    """What ``init`` is given: the two files, the program's areas if any, and the choices a
    person makes (``init``'s options)."""

    incidents: Path
    streets: Path
    territories: Path | None = None
    teams: int | None = None  # territories cut (default 4), or the areas grouped into
    name: str | None = None
    timezone: str | None = None  # when the lookup from the streets' centre finds none


def propose_city(
    folder: Path, given: CityFiles, *, progress: Callable[[str], None] | None = None
) -> CityProposal:
    """Propose a config for the city of ``given``'s files (see the module).

    Raises
    ------
    InputDataError
        When a file cannot be read, or the streets or incidents cannot be placed at all; each
        problem names the file and the fix.
    """
    say = progress or (lambda _m: None)
    folder = Path(folder)
    incidents, streets, territories = given.incidents, given.streets, given.territories
    teams, name, timezone = given.teams, given.name, given.timezone
    missing = [
        f"{path}: no such file (--{what})"
        for what, path in (
            ("incidents", incidents),
            ("streets", streets),
            ("territories", territories),
        )
        if path is not None and not Path(path).is_file()
    ]
    if missing:
        raise InputDataError(*missing)
    if teams is not None and teams < 1:
        raise InputDataError(f"--teams {teams}: give at least 1 team")
    streets, incidents = Path(streets).resolve(), Path(incidents).resolve()
    territories = Path(territories).resolve() if territories is not None else None
    say("reading the streets ...")
    lon, lat = _streets_centre(streets)
    crs = utm_crs(round(lon, 3), round(lat, 3))
    if crs is None:
        raise InputDataError(
            f"{streets}: the streets' centre ({lat:.4f}, {lon:.4f}) has no UTM zone; "
            "write the config by hand with a local projected CRS in metres"
        )
    network_choices, network_comments, network_config = detect_streets(streets, crs=crs)
    # Built in full (OpenStreetMap's classes name the main streets, and a cached network keeps
    # fewer columns), then cached under the path the config resolves to: validate and plan
    # read it back.
    network = load_walking_network(network_config, crs=crs, cache=False)
    cache_network(network, network_config, crs)
    lon, lat = network.centre
    city, problems = _city_choices(lon, lat, crs, timezone, name, streets)
    tz = next(c.value for c in city if c.key == "timezone")

    say("reading the incidents ...")
    frame = read_table(incidents).reset_index(drop=True)
    if frame.empty:
        raise InputDataError(f"{incidents}: has a header but no data rows; export the rows too")
    extent = network.extent
    area, area_file = extent, None
    if territories is not None:
        areas = read_vector(territories, what="territories").to_crs(crs)
        areas = areas[areas.geometry.notna() & ~areas.geometry.is_empty].reset_index(drop=True)
        if areas.empty:
            raise InputDataError(f"{territories}: no polygons; give a file of the areas' polygons")
        area, area_file = areas.union_all(), territories
    found = detect_incidents(frame, incidents, crs=crs, area=area)
    problems += found.problems
    points = found.points
    limits_shape = area
    limits = gpd.GeoDataFrame(
        {"name": ["city limits proposed by init"]}, geometry=[limits_shape], crs=crs
    )
    points["outside"] = np.zeros(len(points), dtype=bool)
    if not points.empty:
        points["outside"] = ~shapely.dwithin(
            limits_shape, points.geometry.to_numpy(), MAX_OUTSIDE_M
        )
    city.append(
        Choice(
            "limits",
            "limits.geojson",
            (
                f"the union of the {len(areas)} areas of {area_file.name}"
                if area_file is not None
                else f"the walking network's extent (the hull of its {len(network.nodes):,} "
                "corners)"
            )
            + f", {limits_shape.area / 1e6:,.1f} km²: shootings more than "
            f"{MAX_OUTSIDE_M:g} m outside it are rejected (rejects.csv). "
            f"{_outside_text(points)} Replace it with the city's own boundary file when you "
            "have one.",
        )
    )

    say("cutting territories ...")
    risk = _node_risk(network, points, found, tz)
    n_teams = teams or (None if territories is not None else DEFAULT_TEAMS)
    if territories is not None:
        territory_choices, territory_comments, groups, proposed = _from_area_file(
            areas, territories, folder, n_teams, network, risk
        )
    else:
        territory_choices, territory_comments, groups, proposed = _cut(
            network, risk, n_teams or DEFAULT_TEAMS, extent
        )
    team_rows = [_team(group, network, risk) for group in groups]
    return CityProposal(
        folder=folder,
        name=next(c.value for c in city if c.key == "name"),
        city=city,
        incidents=found.choices,
        incident_comments=found.comments,
        network=network_choices,
        network_comments=network_comments,
        territories=territory_choices,
        territory_comments=territory_comments,
        teams=team_rows,
        limits=limits.to_crs("EPSG:4326"),
        areas=proposed.to_crs("EPSG:4326") if proposed is not None else None,
        points=points.to_crs("EPSG:4326"),
        extent=gpd.GeoSeries([extent], crs=crs).to_crs("EPSG:4326").iloc[0],
        crs=crs,
        streets=_street_lines(network),
        problems=problems,
    )


def write_city(proposal: CityProposal, given: CityFiles, *, force: bool = False) -> Path:
    """Write ``plan.toml``, ``limits.geojson`` and the proposed ``territories.geojson`` into the
    proposal's folder (created when missing); the input files are named by paths relative to it.

    Raises
    ------
    InputDataError
        When ``plan.toml`` exists and ``force`` is not set.
    """
    folder = proposal.folder
    config = folder / "plan.toml"
    _refuse_overwrite(config, force)
    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomic(folder / "limits.geojson", proposal.limits.to_json(drop_id=True))
    if proposal.areas is not None:
        write_text_atomic(folder / "territories.geojson", proposal.areas.to_json(drop_id=True))
    text = config_text(
        proposal,
        incidents=_relative(given.incidents, folder),
        streets=_relative(given.streets, folder),
        territories=(
            _relative(given.territories, folder) if given.territories else "territories.geojson"
        ),
    )
    write_text_atomic(config, text)
    return config


@dataclass(frozen=True)
class InitResult:
    """What ``init`` did: the config written, what ``validate`` says of it, the map."""

    config: Path
    setup: Path
    problems: list[str]
    notes: list[str]
    chosen: list[str] = field(default_factory=list)  # "[city] crs = EPSG:32615", ...


def init_city(
    folder: Path,
    given: CityFiles,
    *,
    force: bool = False,
    modules: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> InitResult:
    """``outreach-routes init``: propose, write, check (as ``validate``) and draw the proposal.

    The config is written even when the check finds problems: they are returned, for the
    user to fix in the file.
    """
    from .pipeline import validate_with_hotspots
    from .render import setup_page

    folder = Path(folder)
    _refuse_overwrite(folder / "plan.toml", force)  # before the work, not after
    proposal = propose_city(folder, given, progress=progress)
    config = write_city(proposal, given, force=force)
    (progress or (lambda _m: None))("checking the config as validate does ...")
    problems, notes, hotspots = validate_with_hotspots(config)
    shapes = gpd.GeoDataFrame(
        {"team": [t["name"] for t in proposal.teams]},
        geometry=[t["shape"] for t in proposal.teams],
        crs=proposal.crs,
    ).to_crs("EPSG:4326")
    bases = [
        {"name": t["name"], "lat": t["base"][0], "lon": t["base"][1], "corner": t["corner"]}
        for t in proposal.teams
    ]
    page = setup_page(
        city=proposal.name,
        extent=proposal.extent,
        streets=proposal.streets,
        incidents=proposal.points,
        territories=shapes,
        bases=bases,
        hotspots=hotspots.to_crs("EPSG:4326") if hotspots is not None else None,
        checks=SETUP_CHECKS,
        modules=modules,
    )
    setup = folder / "setup.html"
    write_text_atomic(setup, page)
    # What init found wrong with a file comes first; validate's lines on the same file say it
    # again in other words.
    told = {problem.split(": ")[0] for problem in proposal.problems}
    problems = [p for p in problems if p.split(": ")[0] not in told]
    return InitResult(config, setup, proposal.problems + problems, notes, _chosen(proposal))


def _chosen(proposal: CityProposal) -> list[str]:
    """The choices a person checks first, one line each, as the config writes them."""
    tables = {
        "city": proposal.city,
        "incidents": proposal.incidents,
        "network": proposal.network,
        "territories": proposal.territories,
    }
    lines = [
        f"[{table}] {c.key} = {_toml(c.value)}"
        for table, choices in tables.items()
        for c in choices
        if c.key not in ("path", "limits", "drop_name_pattern")
    ]
    return lines + [
        f"team {_toml(t['name'])}: base at {t['corner']} ({t['share']:.0%} of the risk)"
        for t in proposal.teams
    ]


# What a person checks on setup.html (docs/new-city.md says more).
SETUP_CHECKS = [
    "the shootings lie on the city's streets (a cloud elsewhere: swapped columns or a wrong "
    "source_crs);",
    "the red ones outside the limits are really out of town;",
    "each territory is an area one team can walk; each base a safe place to meet;",
    "the hotspots sit where the program knows shootings happen.",
]


def _refuse_overwrite(config: Path, force: bool) -> None:
    if config.exists() and not force:
        raise InputDataError(
            f"{config} exists; init does not overwrite a config: give another folder, or "
            "--force to replace it (and the files init wrote beside it)"
        )


def _street_lines(network: WalkingNetwork) -> shapely.Geometry:
    """The network's streets for the map: each two-way street once, simplified to 3 m."""
    edges = network.edges
    u, v = edges.index.get_level_values(0), edges.index.get_level_values(1)
    once = edges.geometry[np.asarray(u <= v)].simplify(3).to_numpy()
    lines = gpd.GeoSeries([shapely.MultiLineString(list(once))], crs=edges.crs)
    return lines.to_crs("EPSG:4326").iloc[0]


def _relative(path: Path, folder: Path) -> str:
    """A path as the config names it: relative to the config's folder (forward slashes)."""
    return Path(os.path.relpath(Path(path).resolve(), Path(folder).resolve())).as_posix()


# --- the city ------------------------------------------------------------------------------------


def _streets_centre(path: Path) -> tuple[float, float]:
    """The middle (median lon, lat) of a street file, read fast: the city's UTM zone."""
    path = Path(path)
    if path.name.lower().endswith(OSM_SUFFIXES):
        import osmium

        lons, lats = [], []
        try:
            for i, node in enumerate(osmium.FileProcessor(str(path), osmium.osm.NODE)):
                if i % 20 == 0 and node.location.valid():
                    lons.append(node.location.lon)
                    lats.append(node.location.lat)
        except RuntimeError as exc:
            raise InputDataError(f"{path}: not a readable OpenStreetMap file ({exc})") from None
        if not lons:
            raise InputDataError(f"{path}: no nodes; give an OpenStreetMap extract of the city")
        return float(np.median(lons)), float(np.median(lats))
    streets = read_vector(path, what="street network")
    if streets.crs is None:
        raise InputDataError(f"{path}: geometry without a CRS; set the file's CRS and export again")
    xy = shapely.get_coordinates(streets.geometry.to_crs("EPSG:4326").to_numpy())
    if not len(xy):
        raise InputDataError(f"{path}: no line geometries; give a street centerline file")
    return float(np.median(xy[:, 0])), float(np.median(xy[:, 1]))


def _city_choices(
    lon: float, lat: float, crs: str, timezone: str | None, name: str | None, streets: Path
) -> tuple[list[Choice], list[str]]:
    problems: list[str] = []
    where = f"{lat:.4f}, {lon:.4f} (lat, lon)"
    zones = state_plane_crs(round(lon, 2), round(lat, 2))
    plane = (
        f" The local State Plane zone is {zones[0][0]} ({zones[0][1]}): what a US city's "
        "x/y exports are often in, not for [city] crs (it may be in feet)."
        if zones
        else ""
    )
    if timezone:
        tz, tz_why = timezone, "given with --timezone."
    else:
        tz = _timezone_at(lon, lat)
        tz_why = f"where the streets' centre {where} lies (timezonefinder, offline)."
        if tz is None:
            tz, tz_why = "UTC", "NO time zone found for the streets' centre: CHANGE THIS."
            problems.append(
                f"{streets}: no time zone is known at the streets' centre ({where}); give "
                "--timezone with the city's IANA name, e.g. --timezone America/Chicago"
            )
    city_name = name or _city_name(streets)
    return [
        Choice(
            "name",
            city_name,
            "from --name" if name else "from the street file's (or its folder's) name: check it",
        ),
        Choice("timezone", tz, f"{tz_why} Dates without an offset are read in it."),
        Choice(
            "crs",
            crs,
            f"the UTM zone of the streets' centre, {where}: distances in metres.{plane}",
        ),
    ], problems


def _timezone_at(lon: float, lat: float) -> str | None:
    """The IANA time zone at a point, from timezonefinder's bundled boundaries; None at sea
    (its ``Etc/GMT`` zones know no daylight saving time)."""
    from timezonefinder import TimezoneFinder

    found = TimezoneFinder().timezone_at(lng=lon, lat=lat)
    return found if found and not found.startswith("Etc/") else None


def _city_name(streets: Path) -> str:
    """A name from the street file's (``minneapolis-streets.osm.pbf``), or from its folder's
    when the file's says nothing (``portland/streets.osm.pbf``)."""
    generic = {"streets", "street", "roads", "map", "centerlines", "centrelines", "osm", "data"}
    path = Path(streets).resolve()
    for part in (path.name.split(".")[0], path.parent.name):
        words = [w for w in re.split(r"[-_ ]+", part) if w and w.lower() not in generic]
        if words:
            return " ".join(words).title()
    return "City"


# --- the streets ---------------------------------------------------------------------------------


def detect_streets(path: Path, *, crs: str) -> tuple[list[Choice], list[str], NetworkConfig]:
    """The ``[network]`` table for a street file: for centerlines, the street-name column and
    the rules that drop freeways and ramps; an OpenStreetMap extract needs only its path."""
    path = Path(path)
    if path.name.lower().endswith(OSM_SUFFIXES) or path.suffix.lower() == ".graphml":
        comments = [
            "An OpenStreetMap extract: street names come from its `name` tags; motorways, "
            "ramps, ways with foot=no and private ways are dropped by their tags (validate "
            "lists the counts). To leave out alleys, parking aisles or park paths too, add "
            '`exclude = ["alley", "park_paths"]` (docs/config.md lists the kinds).'
        ]
        return [Choice("path", None)], comments, NetworkConfig(path=path)
    streets = read_vector(path, what="street network")
    choices: list[Choice] = [Choice("path", None)]
    comments: list[str] = []
    text = [
        c
        for c in streets.columns
        if c != streets.geometry.name and _is_text(streets[c]) and streets[c].notna().mean() > 0.5
    ]
    name_column = _best_name_column(streets, text, STREET_NAME_HINTS)
    if name_column is None:
        comments.append(
            "No column of street names was found: stops are named by place, not by corner. "
            "Set `name_column` if the file has one."
        )
    else:
        names = streets[name_column].dropna().astype(str)
        examples = ", ".join(repr(n) for n in names.value_counts().index[:4])
        choices.append(
            Choice(
                "name_column",
                name_column,
                f"street names ({names.nunique():,} distinct, e.g. {_clean(examples)}): stops "
                "and corner requests are named by them",
            )
        )
        upper = names.str.upper()
        hits = {p: upper.str.contains(p, regex=True) for p in FREEWAY_PATTERNS}
        used = [p for p, hit in hits.items() if hit.any()]
        if used:
            shown = "; ".join(
                f"{FREEWAY_PATTERNS[p]} ({int(hits[p].sum())} segments, e.g. "
                f"{_clean(repr(names[hits[p]].iloc[0]))})"
                for p in used
            )
            choices.append(
                Choice(
                    "drop_name_pattern",
                    "|".join(used),
                    f"segments not walked, found by name: {shown}. Check `streets` lists no "
                    "street you walk",
                )
            )
    for column in streets.columns:
        if "speed" in str(column).lower() and pd.api.types.is_numeric_dtype(streets[column]):
            top = float(pd.to_numeric(streets[column], errors="coerce").max())
            limit = 90.0 if top > 80 else 55.0  # km/h or mph
            if top >= limit:
                unit = "km/h" if limit == 90 else "mph"
                choices += [
                    Choice("speed_column", column, "speed limits"),
                    Choice(
                        "drop_speed_at_least",
                        limit,
                        f"{unit} (the values reach {top:g}): a road this fast is a freeway, "
                        "not walked",
                    ),
                ]
            break
    for column in text:
        values = streets[column].dropna().astype(str)
        if column == name_column or values.nunique() > 40:
            continue
        fast = sorted(v for v in values.unique() if FREEWAY_CLASSES.search(v))
        if fast:
            choices += [
                Choice("class_column", column, "street classes"),
                Choice("drop_classes", fast, "classes never walked: check the list"),
            ]
            break
    kw = {
        c.key: tuple(c.value) if isinstance(c.value, list) else c.value
        for c in choices
        if c.key != "path"
    }
    return choices, comments, NetworkConfig(path=path, **kw)


def _is_text(values: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(values) or pd.api.types.is_object_dtype(values)


def _best_name_column(frame: pd.DataFrame, columns: list[Any], hints: tuple[str, ...]) -> Any:
    """The text column most like names: a hinted name first, then the most distinct values."""
    if not columns:
        return None

    def score(column: Any) -> tuple[int, int]:
        lower = str(column).lower()
        hinted = next((len(hints) - i for i, h in enumerate(hints) if h == lower), 0)
        hinted = hinted or next((1 for h in hints if h in lower), 0)
        return hinted, int(frame[column].nunique())

    return max(columns, key=score)


# --- the incidents -------------------------------------------------------------------------------


@dataclass
class IncidentGuess:
    """The ``[incidents]`` table proposed for a file, with the rows' points and dates."""

    choices: list[Choice]
    comments: list[str]
    points: gpd.GeoDataFrame  # located rows, in the city's CRS (``occurred_at`` when read)
    problems: list[str]
    config: IncidentConfig


def detect_incidents(
    frame: pd.DataFrame, path: Path, *, crs: str, area: shapely.Geometry
) -> IncidentGuess:
    """Detect the columns of a shooting export as ``plan`` would, judged by the values, not
    the names alone: a ``date`` column of text is passed over for one holding dates; latitude
    and longitude columns named the wrong way round are read the right way; x/y values are
    given the CRS (the local State Plane zones and the UTM zone are tried) that lays them over
    ``area`` (the city, in ``crs``)."""
    path = Path(path)
    choices: list[Choice] = [Choice("path", None)]
    comments: list[str] = []
    problems: list[str] = []
    date, dates, date_why = _date_column(frame)
    if date is None:
        problems.append(
            f"{path}: no column holds dates (looked at {_columns(frame)}); export the date of "
            "each shooting, then set `date_column` in [incidents]"
        )
    else:
        choices.append(Choice("date_column", date, date_why))
        from .hotspots import has_times_of_day

        if has_times_of_day(dates.dropna()):
            comments.append(
                f"`{date}` holds times of day: each night's stops are ordered by their risk at "
                "the hour of the visit ([routing] time_aware)."
            )
        else:
            clock = [c for c in frame.columns if re.search(r"time|hour", str(c), re.IGNORECASE)]
            also = (
                f" The file has {_columns(frame[clock])}: a plan reads one column, so export "
                "date and time together to use it."
                if clock and date not in clock
                else ""
            )
            comments.append(
                f"`{date}` holds dates only (no time of day): risk is the same at every hour, "
                f"so stops are not ordered by the hour of the visit.{also}"
            )
    ids = _detect(frame, ID_NAMES)
    if ids is not None:
        repeats = frame[ids].astype("string").duplicated().sum()
        choices.append(Choice("id_column", ids, "the incident id"))
        choices.append(
            Choice(
                "rows",
                "victims" if repeats else "incidents",
                f"{repeats:,} rows repeat an id: rows sharing one are victims of one shooting, "
                "grouped"
                if repeats
                else "no id repeats: each row is a shooting (a repeated id would be rejected)",
            )
        )
    else:
        comments.append(
            "No incident id column found: each row is counted as a shooting. If the file has "
            'one row per victim, set `id_column` and `rows = "victims"`.'
        )
    fatal = _detect(frame, FATAL_NAMES)
    if fatal is not None:
        choices.append(Choice("fatal_column", fatal, "deaths: fatal shootings are marked"))
    points, coordinate_choices, coordinate_problems = _coordinates(frame, path, crs, area)
    choices += coordinate_choices
    problems += coordinate_problems
    used = {c.value for c in choices if isinstance(c.value, str)}
    comments += _type_suggestion(frame, used)
    config_keys = {
        c.key: c.value
        for c in choices
        if c.key in IncidentConfig.__dataclass_fields__ and c.key != "path"
    }
    config = IncidentConfig(path=path, **config_keys)
    if date is not None and not points.empty:
        points["occurred_at"] = dates.reindex(points.index)
    return IncidentGuess(choices, comments, points, problems, config)


def _columns(frame: pd.DataFrame) -> str:
    return ", ".join(f"`{c}`" for c in frame.columns[:12]) + (
        ", ..." if len(frame.columns) > 12 else ""
    )


def _detect(frame: pd.DataFrame, names: tuple[str, ...]) -> Any:
    lower = {str(c).strip().lower(): c for c in frame.columns}
    return next((lower[n] for n in names if n in lower), None)


def _date_column(frame: pd.DataFrame) -> tuple[Any, pd.Series, str]:
    """The first column, by the usual names and then any other, whose values read as dates."""
    lower = {str(c).strip().lower(): c for c in frame.columns}
    named = [lower[n] for n in DATE_NAMES if n in lower]
    hinted = [c for c in frame.columns if re.search(r"date|time|occur|when", str(c), re.I)]
    others = [c for c in frame.columns if _is_text(frame[c]) or _is_datetime(frame[c])]
    passed = []
    for column in dict.fromkeys([*named, *hinted, *others]):
        values = frame[column]
        if _is_datetime(values):
            return column, pd.to_datetime(values), f"`{column}` holds dates"
        text = values.astype("string").str.strip()
        sample = text.dropna()
        sample = sample[sample != ""].head(500)
        if sample.empty or sample.str.contains(_DATE_TEXT).mean() < 0.8:
            passed.append(column)
            continue
        parsed = pd.to_datetime(sample, format="mixed", errors="coerce")
        if parsed.notna().mean() < 0.8:
            passed.append(column)
            continue
        dates = pd.to_datetime(text, format="mixed", errors="coerce")
        skipped = [c for c in passed if c in named]
        why = f"its values read as dates (e.g. {_clean(repr(sample.iloc[0]))})"
        if skipped:
            example = frame[skipped[0]].dropna().astype(str)
            seen = _clean(repr(example.iloc[0])) if len(example) else "nothing"
            why += f"; `{skipped[0]}` was passed over: it holds text like {seen}, not dates"
        return column, dates, why
    return None, pd.Series(dtype="datetime64[ns]"), ""


def _is_datetime(values: pd.Series) -> bool:
    return pd.api.types.is_datetime64_any_dtype(values)


def _numbers(frame: pd.DataFrame, column: Any) -> pd.Series:
    values = frame[column]
    if not pd.api.types.is_numeric_dtype(values):
        values = pd.to_numeric(values.astype("string").str.strip(), errors="coerce")
    return values.astype(float).where(lambda v: np.isfinite(v))


def _coordinates(
    frame: pd.DataFrame, path: Path, crs: str, area: shapely.Geometry
) -> tuple[gpd.GeoDataFrame, list[Choice], list[str]]:
    """The coordinate columns and their CRS, chosen by where the points land."""
    empty = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=crs))
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.notna().any():
        if frame.crs is None:
            return (
                empty,
                [],
                [f"{path}: geometry without a CRS; set the file's CRS and export again"],
            )
        points = frame.geometry.to_crs(crs)
        points = points.where(points.geom_type == "Point", points.representative_point())
        return gpd.GeoDataFrame(geometry=points), [], []
    pairs = []  # (x column, y column), each tried as degrees and as the local projections
    lat, lon = _detect(frame, LAT_NAMES), _detect(frame, LON_NAMES)
    x, y = _detect(frame, X_NAMES), _detect(frame, Y_NAMES)
    if lat is not None and lon is not None:
        pairs += [(lon, lat), (lat, lon)]
    if x is not None and y is not None:
        pairs += [(x, y), (y, x)]
    if not pairs:
        return (
            empty,
            [],
            [
                f"{path}: no coordinate columns found among {_columns(frame)}; set `lat_column` "
                "and `lon_column` (or `x_column`, `y_column` and `source_crs`) in [incidents]"
            ],
        )
    centre = lonlat(area.centroid, crs)
    zones = state_plane_crs(round(centre[0], 2), round(centre[1], 2))
    projected = [code for code, _ in zones]
    projected.append(crs)
    shapely.prepare(area)
    best = None
    for a, b in pairs:
        xs, ys = _numbers(frame, a), _numbers(frame, b)
        ok = xs.notna() & ys.notna()
        if not ok.any():
            continue
        degrees = bool(xs[ok].abs().max() <= 180 and ys[ok].abs().max() <= 90)
        for source in ["EPSG:4326"] if degrees else projected:
            pts = gpd.GeoSeries(gpd.points_from_xy(xs[ok], ys[ok]), index=xs[ok].index, crs=source)
            pts = pts.to_crs(crs)
            near = shapely.dwithin(area, pts.to_numpy(), MAX_OUTSIDE_M)
            score = (int(near.sum()), (a, b) == pairs[0])
            if best is None or score > best[0]:
                best = (score, a, b, source, pts, int(ok.sum()))
    if best is None or best[0][0] == 0:
        shown = ", ".join(f"`{c}`" for c in dict.fromkeys(sum(pairs, ())))
        return (
            empty,
            [],
            [
                f"{path}: the coordinates in {shown} "
                "land nowhere near the streets, read as degrees either way round or in the "
                f"local projections ({', '.join(projected)}); set `source_crs` in [incidents] "
                "to the CRS the export names, and check the street file is of the same city"
            ],
        )
    (inside, _), a, b, source, pts, located = best
    share = f"{inside:,} of {located:,} located rows lie within {MAX_OUTSIDE_M:g} m of the city"
    if source == "EPSG:4326":
        swapped = (a, b) not in ((lon, lat), (x, y))
        why = f"degrees; {share}"
        if swapped:
            why += (
                f" read this way round: `{b}` holds the latitudes and `{a}` the longitudes, "
                "whatever their names say"
            )
        choices = [Choice("lat_column", b, why), Choice("lon_column", a, "")]
    else:
        names = dict(zones)
        label = names.get(source, "the city's UTM zone")
        choices = [
            Choice("x_column", a, f"projected x/y ({share})"),
            Choice("y_column", b, ""),
            Choice(
                "source_crs",
                source,
                f"{label}: of the local projections tried ({', '.join(projected)}), the one "
                "that lays the points over the streets; check it against the export's "
                "documentation",
            ),
        ]
    return gpd.GeoDataFrame(geometry=pts), choices, []


def _type_suggestion(frame: pd.DataFrame, used: set[str]) -> list[str]:
    """Comments on a column that looks like an incident type: its most common values and a
    suggested filter to switch on."""
    candidates = []
    for column in frame.columns:
        if column in used or not _is_text(frame[column]):
            continue
        text = frame[column].dropna().astype(str)
        if text.empty:
            continue
        values = text.str.split("||", regex=False).explode().str.strip()
        values = values[values != ""]
        distinct = values.nunique()
        hinted = any(h in str(column).lower() for h in TYPE_HINTS)
        if 2 <= distinct <= 300 and (hinted or distinct <= 50) and distinct < 0.5 * len(text):
            candidates.append((hinted, -distinct, column, values))
    if not candidates:
        return []
    *_, column, values = max(candidates, key=lambda c: (c[0], c[1]))
    counts = values.value_counts()
    top = "; ".join(f"{_clean(v)!r} ({n:,} rows)" for v, n in counts.head(8).items())
    shooting = [v for v in counts.index[:40] if SHOOTING_WORDS.search(v)]
    lines = [f"`{column}` looks like an incident type; its most common values: {top}."]
    if shooting:
        lines += [
            "To keep only shootings, switch these two lines on (rows matching none are "
            "rejected, and listed in rejects.csv):",
            f"filter_column = {_toml(column)}",
            f"filter_contains = {_toml([_clean(v) for v in shooting[:6]])}",
        ]
    return lines


# --- territories ---------------------------------------------------------------------------------


def _node_risk(
    network: WalkingNetwork, points: gpd.GeoDataFrame, found: IncidentGuess, tz: str
) -> np.ndarray:
    """Each network node's share of the risk surface (the hotspot stage's, with its default
    settings, on the rows inside the city), plus a small floor so empty streets count too."""
    from .hotspots import make_grid, risk_raster

    nodes = network.nodes[["x", "y"]].to_numpy()
    risk = np.zeros(len(nodes))
    if not points.empty and "occurred_at" in points:
        usable = points[~points["outside"] & points["occurred_at"].notna()].copy()
        if len(usable):
            stamps = usable["occurred_at"]
            stamps = (
                stamps.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
                if stamps.dt.tz is None
                else stamps.dt.tz_convert(tz)
            )
            usable["occurred_at"] = stamps
            usable = usable[usable["occurred_at"].notna()]
            week = usable["occurred_at"].max().normalize() + pd.Timedelta(days=7)
            grid = make_grid(network.extent.buffer(200), 150.0)
            raster = risk_raster(usable, week_start=week, config=HotspotConfig(), grid=grid)
            col = np.clip(((nodes[:, 0] - grid.x0) // grid.size).astype(int), 0, grid.shape[1] - 1)
            row = np.clip(((nodes[:, 1] - grid.y0) // grid.size).astype(int), 0, grid.shape[0] - 1)
            risk = raster[row, col]
    total = risk.sum()
    risk = risk / total if total > 0 else np.full(len(nodes), 1.0 / max(len(nodes), 1))
    return risk + 0.05 / max(len(nodes), 1)


@dataclass(frozen=True)
class _Group:
    """One team's territory: its name, its parts in the territories file, its shape."""

    name: str
    parts: tuple[str, ...]
    shape: shapely.Geometry
    share: float


def _from_area_file(
    areas: gpd.GeoDataFrame,
    path: Path,
    folder: Path,
    n: int | None,
    network: WalkingNetwork,
    risk: np.ndarray,
) -> tuple[list[Choice], list[str], list[_Group], None]:
    text = [c for c in areas.columns if c != areas.geometry.name]
    unique = [
        c
        for c in text
        if areas[c].notna().all() and areas[c].astype(str).is_unique and _is_text(areas[c])
    ]
    unique = unique or [
        c for c in text if areas[c].notna().all() and areas[c].astype(str).is_unique
    ]
    if not unique:
        raise InputDataError(
            f"{path}: no column names each area once (columns: {', '.join(map(str, text))}); "
            "add one, e.g. the area's name"
        )
    column = _best_name_column(areas, unique, AREA_NAME_HINTS)
    names = areas[column].astype(str)
    examples = ", ".join(repr(v) for v in names.head(4))
    choices = [
        Choice("path", None),
        Choice(
            "name_column",
            column,
            f"names each of the {len(areas)} areas once (e.g. {_clean(examples)}); other "
            f"columns: {', '.join(map(str, text))}",
        ),
    ]
    nodes = network.nodes[["x", "y"]].to_numpy()
    held = _risk_by_area(areas.geometry, nodes, risk)
    labels = group_areas(areas, nodes, risk, n or len(areas))
    groups = []
    for label in sorted(set(labels.tolist()), key=lambda g: -held[labels == g].sum()):
        members = np.flatnonzero(labels == label)
        order = members[np.argsort(-held[members], kind="stable")]
        parts = tuple(names.iloc[order])
        shape = areas.geometry.iloc[order].union_all().buffer(0.5).buffer(-0.5)
        name = parts[0] if len(parts) == 1 else f"{parts[0]} area"
        groups.append(_Group(name, parts, shape, float(held[members].sum())))
    how = (
        f"the {len(areas)} areas grouped into {len(groups)} territories of neighbouring areas "
        "(each team's list under [[teams]]; the first area holds the most risk)"
        if len(groups) < len(areas)
        else f"one team per area ({len(areas)}); give --teams N to group them"
    )
    comments = [
        f"Territories: {how}. Shares of the risk surface: "
        + ", ".join(f"{g.name} {g.share:.0%}" for g in groups)
        + ". Move areas between teams by editing their `territory` lists."
    ]
    return choices, comments, groups, None


def _risk_by_area(shapes: gpd.GeoSeries, xy: np.ndarray, risk: np.ndarray) -> np.ndarray:
    points = shapely.points(xy)
    held = np.zeros(len(shapes))
    tree = shapely.STRtree(points)
    area_index, point_index = tree.query(shapes.to_numpy(), predicate="contains")
    np.add.at(held, area_index, risk[point_index])
    return held


def _cut(
    network: WalkingNetwork, risk: np.ndarray, n: int, extent: shapely.Geometry
) -> tuple[list[Choice], list[str], list[_Group], gpd.GeoDataFrame]:
    nodes = network.nodes[["x", "y"]].to_numpy()
    shapes = [s for s in cut_territories(nodes, risk, extent, n) if not s.is_empty]
    held = _risk_by_area(gpd.GeoSeries(shapes), nodes, risk)
    names = _street_names(network, shapes, risk)
    groups = [
        _Group(name, (name,), shape, float(share))
        for name, shape, share in zip(names, shapes, held, strict=True)
    ]
    groups.sort(key=lambda g: -g.share)
    frame = gpd.GeoDataFrame(
        {"name": [g.name for g in groups], "risk_share": [round(g.share, 3) for g in groups]},
        geometry=[g.shape for g in groups],
        crs=network.nodes.crs,
    )
    choices = [
        Choice("path", None),
        Choice("name_column", "name", "each territory named by its two main streets"),
    ]
    comments = [
        f"Territories PROPOSED by init, not the program's: the walking network's extent cut "
        f"into {len(groups)} contiguous areas with similar shares of the risk surface "
        "(shootings weighted by recency, smoothed over 60-150 m): "
        + ", ".join(f"{g.name} {g.share:.0%}" for g in groups)
        + ". Replace them with the program's own areas (docs/new-city.md) when you have them."
    ]
    return choices, comments, groups, frame


# How much more a street of an OpenStreetMap class counts in naming an area by its main streets.
_MAIN_STREET = {"trunk": 4.0, "primary": 4.0, "secondary": 3.0, "tertiary": 2.0}


def _main_street(highway: Any) -> float:
    """The weight of a way's class (its first, for a way osmnx merged from several)."""
    values = highway if isinstance(highway, list | tuple | np.ndarray) else [highway]
    return max((_MAIN_STREET.get(str(v), 1.0) for v in values), default=1.0)


def _street_names(
    network: WalkingNetwork, shapes: list[shapely.Geometry], risk: np.ndarray
) -> list[str]:
    """Each area's two main streets ("SE Hawthorne Blvd / SE 11th Ave"): the named streets
    with the most risk along them inside, arterials counting more."""
    from .corners import short_street
    from .routing import pretty_street, street_name

    edges = network.edges
    if "name" not in edges:
        return [f"Territory {i + 1}" for i in range(len(shapes))]
    if "kind" in edges and (edges["kind"] == "street").any():
        edges = edges[edges["kind"] == "street"]  # a street, not a path or a parking aisle
    node_risk = pd.Series(risk, index=network.nodes.index)
    u = edges.index.get_level_values(0)
    weight = node_risk.reindex(u).to_numpy() * edges["length"].to_numpy()
    if "highway" in edges:  # main streets first: a block of an arterial counts more
        weight = weight * np.array([_main_street(v) for v in edges["highway"]])
    names = edges["name"].map(street_name).map(pretty_street).map(short_street).to_numpy()
    middle = shapely.line_interpolate_point(edges.geometry.to_numpy(), 0.5, normalized=True)
    out: list[str] = []
    for i, shape in enumerate(shapes):
        inside = shapely.contains(shape, middle) & (names != "")
        ranked = pd.Series(weight[inside]).groupby(names[inside]).sum().sort_values(ascending=False)
        top = list(ranked.index[:2])
        name = " / ".join(top) if top else f"Territory {i + 1}"  # not a corner: no "&"
        while name in out:
            name += f" {i + 1}"
        out.append(name)
    return out


# --- teams ---------------------------------------------------------------------------------------


def _team(group: _Group, network: WalkingNetwork, risk: np.ndarray) -> dict[str, Any]:
    """A team for a territory: its base at the named corner nearest the middle of the
    territory's risk."""
    from .routing import pretty_street, street_name, streets_meeting

    nodes = network.nodes
    xy = nodes[["x", "y"]].to_numpy()
    inside = shapely.contains_xy(group.shape, xy[:, 0], xy[:, 1])
    if not inside.any():
        inside = shapely.dwithin(group.shape, shapely.points(xy), 25)
    middle = (xy[inside] * risk[inside, None]).sum(axis=0) / risk[inside].sum()
    u = network.edges.index.get_level_values(0)
    names = network.edges["name"].map(street_name) if "name" in network.edges else None
    meeting = (
        streets_meeting(zip(u.tolist(), names.tolist(), strict=True)) if names is not None else {}
    )
    ids = nodes.index.to_numpy()
    corner = np.array([len(meeting.get(n, ())) >= 2 for n in ids]) & inside
    pool = corner if corner.any() else inside
    distance = np.hypot(*(xy - middle).T)
    best = int(np.flatnonzero(pool)[np.argmin(distance[pool])])
    lon, lat = (
        gpd.GeoSeries([shapely.Point(xy[best])], crs=nodes.crs)
        .to_crs("EPSG:4326")
        .iloc[0]
        .coords[0]
    )
    streets = meeting.get(ids[best], ())
    where = (
        f"{pretty_street(streets[0])} & {pretty_street(streets[1])}"
        if len(streets) >= 2
        else "a street node (no named corner in the territory)"
    )
    return {
        "name": group.name,
        "territory": group.parts[0] if len(group.parts) == 1 else list(group.parts),
        "base": [round(lat, 5), round(lon, 5)],
        "corner": where,
        "metres": float(distance[best]),
        "share": group.share,
        "shape": group.shape,
    }


# --- the config text -----------------------------------------------------------------------------


def config_text(proposal: CityProposal, *, incidents: str, streets: str, territories: str) -> str:
    """``plan.toml`` as init writes it: every value with a comment saying why it was chosen
    and what to check."""
    lines = [
        f"# outreach-routes plan for {_clean(proposal.name)}, PROPOSED by `outreach-routes init`",
        "# from the two files named below. Every value says why it was chosen and what to check;",
        "# open setup.html beside this file to look the proposal over on a map, then see",
        "# docs/new-city.md (what to check) and docs/config.md (every option and its default).",
        "",
    ]
    lines += _table("city", proposal.city)
    lines += ['coordinators_contact = ""  # the coordinators\' line, printed on every sheet', ""]
    lines += _table("incidents", proposal.incidents, path=incidents)
    lines += _comments(proposal.incident_comments)
    lines += _table("network", proposal.network, path=streets)
    lines += _comments(proposal.network_comments)
    lines += _table("territories", proposal.territories, path=territories)
    lines += _comments(proposal.territory_comments)
    lines += [
        "# Each team: its base at the named corner nearest the middle of its territory's risk",
        "# (check it is a safe place to meet), the default nights and shift (18:00-23:00, Monday",
        "# to Saturday: set the program's own), and a contact line to replace: validate warns",
        "# until it is changed.",
        "",
    ]
    for team in proposal.teams:
        lines += [
            "[[teams]]",
            f"name = {_toml(team['name'])}",
            f"territory = {_toml(team['territory'])}  # risk share {team['share']:.0%}",
            f"base = {_toml(team['base'])}  # {_clean(team['corner'])}, "
            f"{team['metres']:.0f} m from the middle of the territory's risk",
            'nights = ["mon", "tue", "wed", "thu", "fri", "sat"]',
            'shift_start = "18:00"',
            'shift_end = "23:00"',
            f"contact = {_toml(PLACEHOLDER_CONTACT)}",
            "",
        ]
    return "\n".join(lines)


def _table(name: str, choices: list[Choice], *, path: str | None = None) -> list[str]:
    lines = [f"[{name}]"]
    for choice in choices:
        value = path if choice.key == "path" else choice.value
        line = f"{choice.key} = {_toml(value)}"
        if choice.key == "path":
            line += "  # relative to this file"
        if choice.why:
            lines += _wrap(choice.why)
        lines.append(line)
    return lines


def _comments(paragraphs: list[str]) -> list[str]:
    """Comment paragraphs, wrapped; a line of TOML (a setting to switch on) kept whole."""
    lines = []
    for text in paragraphs:
        lines += [f"# {text}"] if re.match(r"^\w+ = ", text) else _wrap(text)
    return [*lines, ""]


def _wrap(text: str, width: int = 98) -> list[str]:
    """A comment over several lines of at most ``width`` characters."""
    import textwrap

    return [f"# {line}" for line in textwrap.wrap(_clean(text), width - 2)]


def _clean(text: str) -> str:
    """Text from a file made safe for one TOML comment line."""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", str(text))


def _toml(value: Any) -> str:
    """A TOML value: strings as JSON writes them (a valid TOML basic string), lists likewise."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else str(value)


def _outside_text(points: gpd.GeoDataFrame) -> str:
    if points.empty or "outside" not in points:
        return ""
    far = int(points["outside"].sum())
    if not far:
        return "Every located row lies inside."
    return f"{far:,} of {len(points):,} located rows lie farther out (red on setup.html)."
