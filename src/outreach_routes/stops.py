"""Candidate stops: where a team should pause, and how much a visit is worth.

Hotspots give one stop per ``cells_per_stop`` of their cells, at the street corner nearest each
risk peak; active community requests give a stop at the corner nearest them, worth
``priority * prize_per_priority``; shootings of the last ``boost_days`` outside every hotspot give
a "recent" stop at the nearest corner. A stop is always a street corner of its team's walking
graph, never an incident's own point. Each stop belongs to the team whose territory holds it.

Returns a ``stops`` GeoDataFrame (``stop_id``, ``team``, ``kind``, ``prize``, ``node`` (index in
the team's network), ``label`` (why), ``corner`` (the corner's street names, or ``None`` where the
network has none), ``sources``, point geometry) and the requests no team can serve.
"""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from .config import HotspotConfig, RequestConfig, RoutingConfig
from .routing import TeamNetwork, corner_name
from .teams import Team

__all__ = ["build_stops", "stop_id"]

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


def stop_id(slug: str, network: TeamNetwork, node: int) -> str:
    """A stop's id: the team's slug and the walking graph's id of its corner."""
    return f"{slug}-{network.node_ids[node]}"


class _Corners:
    """Street corners of one team's network that may hold a stop, with a nearest-corner lookup."""

    def __init__(self, network: TeamNetwork, incident_tree: cKDTree) -> None:
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
            for xy, prize in _peaks(centres[members], risk[members], config):
                peaks.append((xy, prize, f"hotspot {hotspot_id}", hotspot_id))
        # A territory with few city-wide hotspots still gets its own riskiest corners.
        local = np.flatnonzero(inside & ~in_hotspot)
        for i in local[np.lexsort((local, -risk[local]))]:
            if len(peaks) >= config.min_stops_per_team:
                break
            if all(np.hypot(*(centres[i] - p[0])) >= 2 * config.cell_m for p in peaks):
                near = np.hypot(*(centres - centres[i]).T) <= 1.5 * config.cell_m
                peaks.append(
                    (
                        centres[i],
                        float(risk[near].sum()),
                        "risk peak outside city hotspots",
                        "local",
                    )
                )
        for xy, prize, label, source in peaks:
            node = corners[team.name].nearest(*xy)
            if node is not None:
                rows.append(
                    {
                        "team_order": order,
                        "team": team.name,
                        "kind": "hotspot",
                        "prize": prize,
                        "node": node,
                        "label": label,
                        "source": source,
                    }
                )
    if rows:
        top = max(r["prize"] for r in rows)
        for r in rows:
            r["prize"] = r["prize"] / top * routing.hotspot_prize_max
    return rows


def _peaks(xy: np.ndarray, risk: np.ndarray, config: HotspotConfig):
    """Split a hotspot's cells among its peaks: (peak centre, risk of the cells nearest it)."""
    count = max(1, int(np.ceil(len(xy) / config.cells_per_stop)))
    order = np.lexsort((xy[:, 1], xy[:, 0], -risk))
    peaks: list[int] = []
    for i in order:
        if len(peaks) == count:
            break
        if all(np.hypot(*(xy[i] - xy[p])) >= 2 * config.cell_m for p in peaks):
            peaks.append(int(i))
    nearest = np.argmin(
        np.hypot(xy[:, None, 0] - xy[None, peaks, 0], xy[:, None, 1] - xy[None, peaks, 1]), axis=1
    )
    return [(xy[p], float(risk[nearest == k].sum())) for k, p in enumerate(peaks)]


def _request_stops(requests, teams, corners, config: RequestConfig):
    rows, unplaced = [], []
    for req in requests[requests["active"]].itertuples():
        anchor = req.geometry.representative_point()
        order = _team_of(anchor, teams)
        if order is None:
            unplaced.append(
                {"request_id": req.request_id, "reason": "outside every team's territory"}
            )
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
