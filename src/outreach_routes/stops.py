"""Candidate stops: where a team should pause, and how much a visit is worth.

Hotspots give one stop per ``cells_per_stop`` of their cells, at the street corner nearest each
risk peak, worth the risk of the cells within ``[routing] presence_m`` of that corner (what a
team standing there is near, as the route backtest scores it); active community requests give a
stop at the corner nearest them, worth ``priority * prize_per_priority``; shootings of the last
``boost_days`` outside every hotspot give a "recent" stop at the nearest corner. A stop is always
a street corner of its team's walking graph, never an incident's own point. Each stop belongs to
the team whose territory holds it.

Returns a ``stops`` GeoDataFrame (``stop_id``, ``team``, ``kind``, ``prize``, ``node`` (index in
the team's network), ``label`` (why), ``corner`` (the corner's street names, or ``None`` where the
network has none), ``sources``, point geometry) and the requests no team can serve.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from scipy.spatial import cKDTree

from .config import HotspotConfig, RequestConfig, ResponseConfig, RoutingConfig
from .hotspots import risk_near
from .routing import TeamNetwork, corner_name, shooting_when
from .teams import Team

__all__ = ["boost_missed", "build_stops", "response_from", "response_stops", "stop_id"]

KIND_ORDER = ("request", "recent", "hotspot")  # a merged stop takes the first kind present
# A corner this close (metres) to an incident is the incident's own point: never a stop.
_OWN_POINT_M = 1.0


def build_stops(
    *,
    cells: gpd.GeoDataFrame,
    hotspots: gpd.GeoDataFrame,
    requests: gpd.GeoDataFrame,
    incidents: gpd.GeoDataFrame,
    teams: list[Team],
    networks: dict[str, TeamNetwork],
    week_start: pd.Timestamp,
    hotspot_config: HotspotConfig,
    request_config: RequestConfig,
    routing_config: RoutingConfig,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Turn hotspots, requests and recent shootings into stops for each team.

    Returns
    -------
    stops, unplaced_requests
        ``unplaced_requests`` lists active requests that no team's territory holds
        (``request_id``, ``reason``).
    """
    incident_tree = cKDTree(shapely.get_coordinates(incidents.geometry.to_numpy()))
    corner_trees = {t.name: _Corners(networks[t.name], incident_tree) for t in teams}
    rows: list[dict] = []
    rows += _hotspot_stops(cells, teams, corner_trees, hotspot_config, routing_config)
    request_rows, unplaced = _request_stops(requests, teams, corner_trees, request_config)
    rows += request_rows
    rows += _recent_stops(
        incidents, hotspots, teams, corner_trees, week_start, hotspot_config, routing_config
    )
    columns = ["stop_id", "team", "kind", "prize", "node", "label", "corner", "sources"]
    columns.append("geometry")
    if not rows:
        empty = gpd.GeoDataFrame(columns=columns, geometry="geometry", crs=cells.crs)
        return empty, unplaced
    raw = pd.DataFrame(rows)
    raw["kind_rank"] = raw["kind"].map(KIND_ORDER.index)
    raw = raw.sort_values(["team_order", "node", "kind_rank", "label"], kind="stable")
    merged = raw.groupby(["team_order", "node"], sort=True).agg(
        team=("team", "first"),
        kind=("kind", "first"),
        prize=("prize", "sum"),
        label=("label", lambda labels: "; ".join(dict.fromkeys(labels))),
        sources=("source", lambda s: sorted(set(s))),
    )
    merged = merged.reset_index().sort_values(
        ["team_order", "prize", "node"], ascending=[True, False, True], kind="stable"
    )
    slugs = {t.name: t.slug for t in teams}
    at = list(zip(merged["team"], merged["node"], strict=True))
    # Keyed by the corner's graph node, so a stop keeps its id when other stops come and go.
    merged["stop_id"] = [stop_id(slugs[t], networks[t], n) for t, n in at]
    merged["corner"] = [corner_name(networks[t], n) for t, n in at]
    xy = np.array([networks[t].xy[n] for t, n in at]).reshape(-1, 2)
    stops = gpd.GeoDataFrame(
        merged[columns[:-1]].reset_index(drop=True),
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
        crs=cells.crs,
    )
    stops["prize"] = stops["prize"].round(3)
    return stops, unplaced


def boost_missed(
    stops: gpd.GeoDataFrame, missed: list[dict], boost: float
) -> tuple[gpd.GeoDataFrame, list[dict]]:
    """Raise the prize of this week's stops that were planned last week and not done.

    ``missed`` holds last week's stops no check-in says were done (``team``, ``stop_id``,
    ``lat``, ``lon``, ``why``: :func:`outreach_routes.report.missed_last_week`). A stop matches
    one of them by its ``stop_id``, else by its place rounded to 5 decimals (about a metre, as
    the changes page matches), within the same team; its prize is multiplied by ``1 + boost``
    once, however many nights it was missed. Returns the stops and, per raised stop, its
    ``team``, ``stop_id``, the reasons it was missed and ``weeks``, the weeks running it has
    not been done.
    """
    if not missed or stops.empty:
        return stops, []
    why: dict[tuple[str, Any], list[str]] = {}
    weeks: dict[tuple[str, Any], int] = {}
    for row in missed:
        place = (round(row["lat"], 5), round(row["lon"], 5))
        for key in ((row["team"], row["stop_id"].removesuffix("-2")), (row["team"], place)):
            why.setdefault(key, []).append(row["why"])
            weeks[key] = max(weeks.get(key, 1), row.get("weeks", 1))
    wgs = stops.geometry.to_crs(4326)
    raised, records = [], []
    rows = zip(stops["team"], stops["stop_id"], stops["corner"], wgs.x, wgs.y, strict=True)
    for i, (team, sid, corner, x, y) in enumerate(rows):
        keys = [(team, sid), (team, (round(y, 5), round(x, 5)))]
        reasons = [r for k in keys for r in why.get(k, [])]
        if reasons:
            raised.append(i)
            records.append(
                {
                    "team": team,
                    "stop_id": sid,
                    "corner": corner if isinstance(corner, str) else None,
                    "lat": round(float(y), 6),
                    "lon": round(float(x), 6),
                    "why": sorted(set(reasons)),
                    "weeks": max(weeks.get(k, 1) for k in keys),
                }
            )
    stops = stops.copy()
    column = stops.columns.get_loc("prize")
    stops.iloc[raised, column] = (stops.iloc[raised, column] * (1 + boost)).round(3)
    return stops, records


def stop_id(slug: str, network: TeamNetwork, node: int) -> str:
    """A stop's id: the team's slug and the walking graph's id of its corner."""
    return f"{slug}-{network.node_ids[node]}"


class _Corners:
    """Street corners of one team's network that may hold a stop, with a nearest-corner lookup."""

    def __init__(self, network: TeamNetwork, incident_tree: cKDTree) -> None:
        self.network = network
        candidates = network.corners
        xy = network.xy[candidates]
        if len(candidates):
            distance, _ = incident_tree.query(xy)
            keep = distance > _OWN_POINT_M
            candidates, xy = candidates[keep], xy[keep]
        self.nodes = candidates
        self.xy = xy
        self.tree = cKDTree(xy) if len(xy) else None

    def nearest(self, x: float, y: float, within: shapely.Geometry | None = None) -> int | None:
        """Network node of the corner nearest ``(x, y)``, preferring corners inside ``within``."""
        if self.tree is None:
            return None
        if within is not None:
            inside = shapely.contains_xy(within, self.xy[:, 0], self.xy[:, 1])
            if inside.any():
                idx = np.flatnonzero(inside)
                d = np.hypot(self.xy[idx, 0] - x, self.xy[idx, 1] - y)
                return int(self.nodes[idx[np.argmin(d)]])
        _, i = self.tree.query([x, y])
        return int(self.nodes[i])


def _team_of(point: shapely.Point, teams: list[Team]) -> int | None:
    for i, team in enumerate(teams):
        if team.territory.contains(point):
            return i
    return None


def _hotspot_stops(cells, teams, corners, config: HotspotConfig, routing: RoutingConfig):
    centres = shapely.get_coordinates(cells.geometry.centroid.to_numpy())
    risk = cells["risk"].to_numpy()
    hotspot = cells["hotspot_id"].fillna("").to_numpy(dtype=object)
    in_hotspot = cells["hotspot_id"].notna().to_numpy()
    rows = []
    for order, team in enumerate(teams):
        inside = shapely.contains_xy(team.territory, centres[:, 0], centres[:, 1])
        peaks = []
        for hotspot_id in sorted(set(hotspot[inside & in_hotspot])):
            members = inside & (hotspot == hotspot_id)
            for xy in _peaks(centres[members], risk[members], config):
                peaks.append((xy, f"hotspot {hotspot_id}", hotspot_id))
        # A territory with few city-wide hotspots still gets its own riskiest corners.
        local = np.flatnonzero(inside & ~in_hotspot)
        for i in local[np.lexsort((local, -risk[local]))]:
            if len(peaks) >= config.min_stops_per_team:
                break
            if all(np.hypot(*(centres[i] - p[0])) >= 2 * config.cell_m for p in peaks):
                peaks.append((centres[i], "risk peak outside city hotspots", "local"))
        for xy, label, source in peaks:
            node = corners[team.name].nearest(*xy)
            if node is not None:
                rows.append(
                    {
                        "team_order": order,
                        "team": team.name,
                        "kind": "hotspot",
                        "node": node,
                        "label": label,
                        "source": source,
                    }
                )
    # A stop is worth the risk its team is near while there (a hotspot's other cells are near
    # its other stops, and near the streets walked between them).
    at = np.array([corners[r["team"]].network.xy[r["node"]] for r in rows]).reshape(-1, 2)
    for row, near in zip(rows, risk_near(cells, at, routing.presence_m), strict=True):
        row["prize"] = float(near)
    if rows:
        top = max(r["prize"] for r in rows)
        for r in rows:
            r["prize"] = r["prize"] / top * routing.hotspot_prize_max if top > 0 else 0.0
    return rows


def _peaks(xy: np.ndarray, risk: np.ndarray, config: HotspotConfig) -> list[np.ndarray]:
    """A hotspot's risk peaks, one per ``cells_per_stop`` cells, riskiest first, at least two
    cells apart."""
    count = max(1, int(np.ceil(len(xy) / config.cells_per_stop)))
    order = np.lexsort((xy[:, 1], xy[:, 0], -risk))
    peaks: list[int] = []
    for i in order:
        if len(peaks) == count:
            break
        if all(np.hypot(*(xy[i] - xy[p])) >= 2 * config.cell_m for p in peaks):
            peaks.append(int(i))
    return [xy[p] for p in peaks]


def _request_stops(requests, teams, corners, config: RequestConfig):
    rows, unplaced = [], []
    for req in requests[requests["active"]].itertuples():
        anchor = req.geometry.representative_point()
        order = _team_of(anchor, teams)
        if order is None:
            reason = "outside every team's territory" + _swapped_hint(anchor, requests.crs, teams)
            unplaced.append({"request_id": req.request_id, "reason": reason})
            continue
        team = teams[order]
        if team.no_go is not None and team.no_go.contains(req.geometry):
            unplaced.append({"request_id": req.request_id, "reason": "inside a no-go zone"})
            continue
        within = req.geometry if req.geometry.geom_type != "Point" else None
        node = corners[team.name].nearest(anchor.x, anchor.y, within=within)
        if node is None:
            unplaced.append({"request_id": req.request_id, "reason": "no street corner near it"})
            continue
        rows.append(
            {
                "team_order": order,
                "team": team.name,
                "kind": "request",
                "prize": float(req.priority * config.prize_per_priority),
                "node": node,
                "label": f"request {req.request_id} (priority {req.priority})",
                "source": req.request_id,
            }
        )
    return rows, pd.DataFrame(unplaced, columns=["request_id", "reason"])


def _swapped_hint(point: shapely.Point, crs: Any, teams: Sequence[Team]) -> str:
    """ "; its lat and lon look swapped ..." when the point, its two numbers exchanged, lies in a
    team's territory; "" otherwise."""
    to_wgs = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    lon, lat = to_wgs.transform(point.x, point.y)
    if not (np.isfinite(lon) and np.isfinite(lat)) or abs(lon) > 90:
        return ""
    x, y = to_wgs.transform(lat, lon, direction="INVERSE")
    order = _team_of(shapely.Point(x, y), teams)
    if order is None:
        return ""
    return (
        f"; its lat and lon look swapped: as lat = {lon:.6g}, lon = {lat:.6g} it lies in "
        f"{teams[order].name}'s territory"
    )


def _recent_stops(incidents, hotspots, teams, corners, week_start, config, routing):
    since = week_start - dt.timedelta(days=config.boost_days)
    recent = incidents[
        (incidents["occurred_at"] >= since) & (incidents["occurred_at"] < week_start)
    ]
    if len(hotspots):
        covered = shapely.union_all(hotspots.geometry.to_numpy())
        recent = recent[~recent.within(covered)]
    rows = []
    for inc in recent.itertuples():
        order = _team_of(inc.geometry, teams)
        if order is None:
            continue
        node = corners[teams[order].name].nearest(inc.geometry.x, inc.geometry.y)
        if node is None:
            continue
        rows.append(
            {
                "team_order": order,
                "team": teams[order].name,
                "kind": "recent",
                "prize": routing.recent_prize,
                "node": node,
                "label": f"recent shooting {inc.occurred_at:%a %d %b}",
                "source": f"recent {inc.occurred_at:%Y-%m-%d}",
            }
        )
    return rows


RESPONSE_COLUMNS = ["stop_id", "team", "kind", "prize", "node", "label", "corner", "sources"]
RESPONSE_COLUMNS += ["occurred_at", "due", "closes", "geometry"]
NOT_ANSWERED_COLUMNS = ["incident_id", "occurred_at", "corner", "x", "y", "reason"]


def response_from(occurred_at: pd.Timestamp, *, dates_only: bool = False) -> pd.Timestamp:
    """When a response stop's ``[response] delay_h`` and ``window_h`` start counting: at the
    shooting, or where the incidents carry dates only, at the end of its day (midnight after
    it, local time): the shooting may have been at any hour of that day."""
    if not dates_only:
        return occurred_at
    return occurred_at.normalize() + pd.DateOffset(days=1)


def response_stops(
    shootings: gpd.GeoDataFrame,
    incidents: gpd.GeoDataFrame,
    teams: list[Team],
    networks: dict[str, TeamNetwork],
    *,
    cutoff: pd.Timestamp,
    config: ResponseConfig,
    dates_only: bool = False,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """A "response" stop at the walkable corner nearest each new shooting, for the nightly re-plan.

    Parameters
    ----------
    shootings
        Shootings the weekly plan did not know, occurred before ``cutoff``.
    incidents
        Every incident, so that no stop sits on an incident's own point.
    cutoff
        The first shift start of the re-planned night: the newest data the run may use.
    dates_only
        The incidents carry dates but no times of day: ``delay_h`` and ``window_h`` count from
        the end of the shooting's day (:func:`response_from`), and labels give the date alone.

    Returns
    -------
    stops, not_answered
        ``stops`` has the columns of :func:`build_stops` plus ``occurred_at``, ``due`` (the
        earliest time a team may walk there: ``delay_h`` after the shooting) and ``closes``
        (``window_h`` after it: the last shift start that may walk there); ids are
        ``<slug>-r01``... in order of time. ``not_answered`` lists each shooting given no stop
        (``incident_id``, ``occurred_at``, ``corner``, ``x``, ``y``, ``reason``): older than
        ``window_h``, outside every territory (naming the nearest team), inside a no-go zone, or
        with no corner near it. Its ``corner`` is that of the nearest street node of the team
        whose territory holds it (None outside every territory or where streets have no names).
    """
    incident_tree = cKDTree(shapely.get_coordinates(incidents.geometry.to_numpy()))
    corner_trees: dict[str, _Corners] = {}  # built for the teams that need one, once each
    rows, skipped = [], []
    window = pd.Timedelta(hours=config.window_h)
    for shot in shootings.sort_values(["occurred_at", "incident_id"]).itertuples():
        when = shot.occurred_at
        since = response_from(when, dates_only=dates_only)

        def skip(reason: str, shot=shot) -> None:
            skipped.append(
                {
                    "incident_id": shot.incident_id,
                    "occurred_at": shot.occurred_at,
                    "corner": _place_name(shot.geometry, teams, networks),
                    "x": shot.geometry.x,
                    "y": shot.geometry.y,
                    "reason": reason,
                }
            )

        if cutoff - since > window:
            skip(f"older than {config.window_h:g} h ([response] window_h) at the cut-off")
            continue
        order = _team_of(shot.geometry, teams)
        if order is None:
            nearest = min(teams, key=lambda t: t.territory.distance(shot.geometry))
            gap = nearest.territory.distance(shot.geometry)
            skip(f"outside every territory; nearest team {nearest.name} ({gap:,.0f} m away)")
            continue
        team = teams[order]
        if team.no_go is not None and team.no_go.contains(shot.geometry):
            skip(f"inside a no-go zone of team {team.name}")
            continue
        if team.name not in corner_trees:
            corner_trees[team.name] = _Corners(networks[team.name], incident_tree)
        node = corner_trees[team.name].nearest(shot.geometry.x, shot.geometry.y)
        if node is None:
            skip(f"no walkable corner in team {team.name}'s streets")
            continue
        rows.append(
            {
                "team_order": order,
                "team": team.name,
                "node": node,
                "occurred_at": when,
                "since": since,
                "source": str(shot.incident_id),
            }
        )
    not_answered = pd.DataFrame(skipped, columns=NOT_ANSWERED_COLUMNS)
    if not rows:
        empty = gpd.GeoDataFrame(columns=RESPONSE_COLUMNS, geometry="geometry", crs=incidents.crs)
        return empty, not_answered
    grouped = (
        pd.DataFrame(rows)
        .groupby(["team_order", "node"], sort=False)
        .agg(
            team=("team", "first"),
            occurred_at=("occurred_at", "min"),
            since=("since", "min"),
            sources=("source", lambda s: sorted(set(s))),
        )
        .reset_index()
        .sort_values(["team_order", "occurred_at", "node"], kind="stable")
    )
    slugs = {t.name: t.slug for t in teams}
    number = grouped.groupby("team_order").cumcount() + 1
    grouped["stop_id"] = [
        f"{slugs[t]}-r{i:02d}" for t, i in zip(grouped["team"], number, strict=True)
    ]
    grouped["kind"] = "response"
    grouped["prize"] = float(config.prize)
    grouped["label"] = [
        f"response: shooting {shooting_when(t, dates_only=dates_only)}"
        for t in grouped["occurred_at"]
    ]
    grouped["due"] = grouped["since"] + pd.Timedelta(hours=config.delay_h)
    grouped["closes"] = grouped["since"] + window
    at = list(zip(grouped["team"], grouped["node"], strict=True))
    grouped["corner"] = [corner_name(networks[t], n) for t, n in at]
    xy = np.array([networks[t].xy[n] for t, n in at]).reshape(-1, 2)
    return (
        gpd.GeoDataFrame(
            grouped[RESPONSE_COLUMNS[:-1]].reset_index(drop=True),
            geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
            crs=incidents.crs,
        ),
        not_answered,
    )


def _place_name(
    point: shapely.Point, teams: list[Team], networks: dict[str, TeamNetwork]
) -> str | None:
    """The corner a person would find a shooting by: that of the nearest street node of the
    team whose territory holds it; None outside every territory."""
    order = _team_of(point, teams)
    if order is None or teams[order].name not in networks:
        return None
    net = networks[teams[order].name]
    if not len(net.xy):
        return None
    node = int(np.argmin(np.hypot(net.xy[:, 0] - point.x, net.xy[:, 1] - point.y)))
    return corner_name(net, node)
