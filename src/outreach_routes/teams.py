"""Teams and no-go zones: territories, bases and shifts placed on the map and in the week.

Returns :class:`Team` objects (frozen, geometry in the city's projected CRS), a ``territories``
GeoDataFrame and a ``zones`` GeoDataFrame of the no-go zones in force in the plan week.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from ._errors import InputDataError
from ._io import read_vector
from .config import WEEKDAYS, PlanConfig, TeamConfig

__all__ = ["Shift", "Team", "load_teams", "slugify"]


@dataclass(frozen=True)
class Shift:
    """One night of work: when it starts and ends, in the city's time zone."""

    night: dt.date
    start: pd.Timestamp
    end: pd.Timestamp


@dataclass(frozen=True)
class Team:
    """A team placed on the map: its config, territory, base and the zones it must avoid."""

    config: TeamConfig
    slug: str
    territory: shapely.Geometry
    base: shapely.Point
    no_go: shapely.Geometry | None

    @property
    def name(self) -> str:
        """The team's name as written in the config."""
        return self.config.name

    def shifts(self, week_start: pd.Timestamp) -> list[Shift]:
        """The team's shifts in the week that starts on ``week_start`` (a Monday)."""
        shifts = []
        for day in self.config.nights:
            night = week_start.date() + dt.timedelta(days=WEEKDAYS.index(day))
            start = pd.Timestamp.combine(night, self.config.shift_start).tz_localize(
                week_start.tz, nonexistent="shift_forward", ambiguous=False
            )
            end = start + pd.Timedelta(minutes=self.config.shift_minutes)
            shifts.append(Shift(night=night, start=start, end=end))
        return sorted(shifts, key=lambda s: s.start)


def slugify(name: str) -> str:
    """File-name-safe form of a team name: ``"Team 25 Fairhill"`` -> ``"team-25-fairhill"``."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "team"


def load_teams(
    config: PlanConfig, *, week_start: pd.Timestamp
) -> tuple[list[Team], gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Place every team of the config on the map.

    Returns
    -------
    teams, territories, zones
        ``territories`` has one row per team (``team``, polygon); ``zones`` the no-go zones in
        force in the week (``name``, ``teams``, ``until``, ``reason``, polygon). Both are in the
        city's projected CRS.

    Raises
    ------
    InputDataError
        Listing every team whose territory is not in the territories file or whose base lies
        outside it, and every no-go zone naming an unknown team.
    """
    crs = config.city.crs
    source = config.territories
    areas = read_vector(source.path, what="territories").to_crs(crs)
    if source.name_column not in areas:
        raise InputDataError(
            f"{source.path}: column `{source.name_column}` ([territories] name_column) not found; "
            f"the file has {', '.join(map(str, areas.columns))}"
        )
    by_name = {str(k): g for k, g in zip(areas[source.name_column], areas.geometry, strict=True)}
    zones, problems = _zones(config, week_start=week_start, areas=areas.union_all())
    teams, slugs = [], set()
    for team_config in config.teams:
        wanted = team_config.territory
        parts = [wanted] if isinstance(wanted, str) else list(wanted)
        unknown = [p for p in parts if str(p) not in by_name]
        if unknown:
            problems.append(
                f"team {team_config.name!r}: territory {', '.join(map(repr, unknown))} is not in "
                f"column `{source.name_column}` of {source.path.name}; it holds "
                f"{', '.join(sorted(by_name))}"
            )
            continue
        territory = shapely.union_all([by_name[str(p)] for p in parts])
        if len(parts) > 1:  # close slivers between neighbouring polygons
            territory = territory.buffer(0.5).buffer(-0.5)
        lat, lon = team_config.base
        base = gpd.GeoSeries([shapely.Point(lon, lat)], crs="EPSG:4326").to_crs(crs).iloc[0]
        if not territory.buffer(source.edge_tolerance_m).contains(base):
            problems.append(_base_outside(team_config, territory, base, crs, source))
            continue
        applies = zones[
            zones["teams"].map(lambda names, n=team_config.name: not names or n in names)
        ]
        no_go = shapely.union_all(applies.geometry.to_numpy()) if len(applies) else None
        slug = slugify(team_config.name)
        while slug in slugs:
            slug += "-2"
        slugs.add(slug)
        teams.append(
            Team(config=team_config, slug=slug, territory=territory, base=base, no_go=no_go)
        )
    if problems:
        raise InputDataError(*problems)
    territories = gpd.GeoDataFrame(
        {"team": [t.name for t in teams]}, geometry=[t.territory for t in teams], crs=crs
    )
    return teams, territories, zones


def _base_outside(
    team: TeamConfig, territory: shapely.Geometry, base: shapely.Point, crs: str, source: Any
) -> str:
    """Why a team's base is refused: outside its territory, or written the wrong way round."""
    lat, lon = team.base
    where = f"team {team.name!r}: base {lat:.5f}, {lon:.5f}"
    if _within_after_swap([(lon, lat)], territory.buffer(source.edge_tolerance_m), crs):
        return (
            f"{where} looks swapped (longitude first): outside territory {team.territory!r} as "
            f"written, inside it the other way round; write `base = [{lon:.6g}, {lat:.6g}]` "
            "(latitude first)"
        )
    gap = territory.distance(base)
    return (
        f"{where} lies {gap:,.0f} m outside territory {team.territory!r}; move `base` inside it "
        "(as [lat, lon])"
    )


def _within_after_swap(
    lonlat: Sequence[tuple[float, float]], area: shapely.Geometry, crs: str
) -> bool:
    """Whether points given as ``(lon, lat)`` land in ``area`` (in ``crs``) once each pair's two
    numbers are exchanged (any of them: a no-go zone may reach past the territories): a place
    written in the wrong order."""
    if not all(abs(lon) <= 90 for lon, _lat in lonlat):
        return False
    turned = gpd.GeoSeries(
        [shapely.Point(lat, lon) for lon, lat in lonlat], crs="EPSG:4326"
    ).to_crs(crs)
    return bool(shapely.intersects(area, turned.to_numpy()).any())


def _zones(
    config: PlanConfig, *, week_start: pd.Timestamp, areas: shapely.Geometry
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """The no-go zones in force in the week, and a problem per zone naming unknown teams or
    written with its corners as [lat, lon]."""
    names = {t.name for t in config.teams}
    rows, problems = [], []
    for zone in config.no_go_zones:
        unknown = set(zone.teams) - names
        if unknown:
            problems.append(
                f"no-go zone {zone.name!r}: teams {sorted(unknown)} are not in [[teams]]; "
                f"known teams: {', '.join(sorted(names))}"
            )
            continue
        corners = [tuple(c) for c in zone.polygon]
        placed = gpd.GeoSeries([shapely.Polygon(corners)], crs="EPSG:4326").to_crs(config.city.crs)
        if not placed.intersects(areas).iloc[0] and _within_after_swap(
            corners, areas, config.city.crs
        ):
            fixed = ", ".join(f"[{lat:.6g}, {lon:.6g}]" for lon, lat in corners)
            problems.append(
                f"no-go zone {zone.name!r}: its corners look swapped ([lat, lon]): the polygon "
                f"lies outside every territory as written, inside them the other way round; "
                f"write `polygon = [{fixed}]` (longitude first)"
            )
            continue
        if zone.until is not None and zone.until < week_start.date():
            continue
        rows.append(
            {
                "name": zone.name,
                "teams": list(zone.teams),
                "until": zone.until.isoformat() if zone.until else None,
                "reason": zone.reason,
                "geometry": shapely.Polygon(zone.polygon),
            }
        )
    frame = gpd.GeoDataFrame(
        rows, columns=["name", "teams", "until", "reason", "geometry"], crs="EPSG:4326"
    )
    return frame.set_geometry("geometry").to_crs(config.city.crs), problems
