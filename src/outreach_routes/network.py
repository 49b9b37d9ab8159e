"""The walking graph: built from a city centerline file, kept to what people walk on.

Returns an osmnx-style ``MultiDiGraph`` in the city's projected CRS: integer nodes with ``x``
and ``y``, an edge each way per street segment with ``length`` (metres) and ``geometry``, only
the largest connected piece. A report says what the walkability rule dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
import pandas as pd
import shapely
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

from ._errors import InputDataError
from ._io import read_vector
from .config import NetworkConfig

__all__ = ["NetworkReport", "graph_from_centerlines", "load_network", "walkable_centerlines"]

# Segment end points closer than this (metres) are the same street corner.
_SNAP_M = 0.1


@dataclass(frozen=True)
class NetworkReport:
    """What the walkability rule and the connectivity cut removed, in segments and km."""

    segments_read: int
    dropped_by_class: int
    dropped_limited_access: int
    dropped_disconnected: int
    km_kept: float

    def as_dict(self) -> dict[str, float]:
        """The report as plain numbers, for the manifest."""
        return dict(self.__dict__)


def load_network(config: NetworkConfig, *, crs: str) -> tuple[nx.MultiDiGraph, NetworkReport]:
    """Read the centerline file named in ``[network]`` and build the walking graph.

    Parameters
    ----------
    config
        The ``[network]`` table.
    crs
        The city's projected CRS, in metres.

    Returns
    -------
    graph, report
    """
    streets = read_vector(config.path, what="street network")
    streets = streets.to_crs(crs).explode(index_parts=False, ignore_index=True)
    streets = streets[streets.geom_type == "LineString"].reset_index(drop=True)
    if streets.empty:
        raise InputDataError(f"{config.path}: no line geometries; give a street centerline file")
    if config.class_column and config.class_column not in streets:
        raise InputDataError(
            f"{config.path}: column `{config.class_column}` (network.class_column) not found; "
            f"the file has {', '.join(map(str, streets.columns))}"
        )
    walkable, dropped_class, dropped_access = walkable_centerlines(
        streets,
        class_column=config.class_column,
        drop_classes=config.drop_classes,
        local_classes=config.local_classes,
        limited_access_min_m=config.limited_access_min_m,
    )
    kept = graph_from_centerlines(walkable, crs=crs)
    segments_kept = kept.number_of_edges() // 2
    report = NetworkReport(
        segments_read=len(streets),
        dropped_by_class=dropped_class,
        dropped_limited_access=dropped_access,
        dropped_disconnected=len(walkable) - segments_kept,
        km_kept=round(sum(d["length"] for *_, d in kept.edges(data=True)) / 2000, 1),
    )
    return kept, report


def walkable_centerlines(
    streets: gpd.GeoDataFrame,
    *,
    class_column: str | None,
    drop_classes: tuple[str, ...] = (),
    local_classes: tuple[str, ...] = (),
    limited_access_min_m: float = 1000.0,
) -> tuple[gpd.GeoDataFrame, int, int]:
    """Keep the segments people walk along.

    The rule, for files whose only class field separates local streets from the rest:

    1. drop the classes in ``drop_classes`` (toll bridges);
    2. a non-local segment neither of whose ends meets a local street is *isolated*; isolated
       segments that join into a chain of at least ``limited_access_min_m`` metres are a
       limited-access road (an expressway and its ramps) and are dropped. Short isolated runs,
       such as an arterial block between two other arterials, stay.

    Returns
    -------
    walkable, dropped_by_class, dropped_limited_access
    """
    if not class_column:
        return streets, 0, 0
    classes = streets[class_column].astype("string")
    by_class = classes.isin(drop_classes).fillna(False).to_numpy()
    if not local_classes:
        return streets[~by_class].reset_index(drop=True), int(by_class.sum()), 0
    start, end = _end_keys(streets.geometry)
    local = classes.isin(local_classes).fillna(False).to_numpy()
    local_ends = set(start[local]) | set(end[local])
    isolated = (
        ~local & ~by_class & ~np.isin(start, list(local_ends)) & ~np.isin(end, list(local_ends))
    )
    limited = np.zeros(len(streets), dtype=bool)
    rows = np.flatnonzero(isolated)
    if len(rows):
        # Join isolated segments that share an end point into chains; measure each chain.
        codes, uniques = pd.factorize(np.concatenate([start[rows], end[rows]]))
        n = len(uniques)
        links = coo_array((np.ones(len(rows)), (codes[: len(rows)], codes[len(rows) :])), (n, n))
        _, chain_of_point = connected_components(links, directed=False)
        chain = chain_of_point[codes[: len(rows)]]
        chain_length = np.bincount(chain, weights=streets.geometry.length.to_numpy()[rows])
        limited[rows] = chain_length[chain] >= limited_access_min_m
    keep = ~by_class & ~limited
    return streets[keep].reset_index(drop=True), int(by_class.sum()), int(limited.sum())


def graph_from_centerlines(streets: gpd.GeoDataFrame, *, crs: str) -> nx.MultiDiGraph:
    """Turn LineStrings into a two-way walking graph whose nodes are the segments' end points.

    Only the largest connected piece is kept: a walker cannot reach the rest.
    """
    start, end = _end_keys(streets.geometry)
    codes, uniques = pd.factorize(np.concatenate([start, end]), sort=True)
    u, v = codes[: len(streets)], codes[len(streets) :]
    n = len(uniques)
    _, piece = connected_components(coo_array((np.ones(len(u)), (u, v)), (n, n)), directed=False)
    largest = np.bincount(piece).argmax()
    streets = streets[piece[u] == largest].reset_index(drop=True)
    start, end = start[piece[u] == largest], end[piece[u] == largest]
    codes, uniques = pd.factorize(np.concatenate([start, end]), sort=True)
    u, v = codes[: len(streets)], codes[len(streets) :]
    xy = np.array([list(map(float, k.split(" "))) for k in uniques])
    nodes = gpd.GeoDataFrame(
        {"x": xy[:, 0], "y": xy[:, 1]},
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
        crs=crs,
        index=pd.Index(np.arange(len(uniques)), name="osmid"),
    )
    geoms = streets.geometry.to_numpy()
    not_loop = u != v
    forward = pd.DataFrame({"u": u, "v": v, "geometry": geoms})[not_loop]
    backward = pd.DataFrame({"u": v, "v": u, "geometry": shapely.reverse(geoms)})[not_loop]
    extra = [c for c in ("streetname", "name") if c in streets]
    for col in extra:
        forward[col] = streets[col].to_numpy()[not_loop]
        backward[col] = streets[col].to_numpy()[not_loop]
    edges = pd.concat([forward, backward], ignore_index=True)
    edges["key"] = edges.groupby(["u", "v"]).cumcount()
    edges = gpd.GeoDataFrame(edges, geometry="geometry", crs=crs)
    edges["length"] = edges.geometry.length
    edges = edges.set_index(["u", "v", "key"])
    graph = ox.convert.graph_from_gdfs(nodes, edges, graph_attrs={"crs": crs, "simplified": True})
    return graph


def _end_keys(geoms: gpd.GeoSeries) -> tuple[np.ndarray, np.ndarray]:
    """Text keys of each line's first and last point, snapped to ``_SNAP_M``."""
    values = geoms.to_numpy()

    def key(points: np.ndarray) -> np.ndarray:
        x = np.round(shapely.get_x(points) / _SNAP_M) * _SNAP_M
        y = np.round(shapely.get_y(points) / _SNAP_M) * _SNAP_M
        return np.char.add(np.char.add(np.char.mod("%.1f", x), " "), np.char.mod("%.1f", y))

    return key(shapely.get_point(values, 0)), key(shapely.get_point(values, -1))
