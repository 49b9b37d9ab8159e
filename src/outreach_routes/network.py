"""The walking graph, from whatever street data a program has.

Sources, chosen by ``[network]``: a city centerline file in any GIS format; an OpenStreetMap
extract (``.osm``, ``.osm.bz2``, ``.osm.pbf``); a saved GraphML; or, online only, an osmnx
download by place name (cached). Returns an osmnx-style ``MultiDiGraph`` in the city's
projected CRS: integer nodes with ``x`` and ``y``, an edge each way per street segment with
``length`` (metres), ``geometry`` and ``name`` where the source has names, only what people walk
on, and only the largest connected piece. A report says what was dropped.
"""

from __future__ import annotations

import re
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

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

__all__ = [
    "NetworkReport",
    "graph_from_centerlines",
    "load_network",
    "walkable_centerlines",
]

# Segment end points closer than this (metres) are the same street corner.
_SNAP_M = 0.1
OSM_SUFFIXES = (".osm", ".osm.bz2", ".osm.xml", ".osm.pbf", ".pbf")
# OpenStreetMap ways nobody walks along.
_OSM_NOT_WALKED = {
    "motorway",
    "motorway_link",
    "construction",
    "proposed",
    "raceway",
    "bus_guideway",
    "abandoned",
}


@dataclass(frozen=True)
class NetworkReport:
    """What the walkability rules and the connectivity cut removed, in segments and km."""

    source: str
    segments_read: int
    dropped_by_class: int
    dropped_limited_access: int
    dropped_disconnected: int
    km_kept: float

    def as_dict(self) -> dict[str, float | str]:
        """The report as plain values, for the manifest."""
        return dict(self.__dict__)


def load_network(config: NetworkConfig, *, crs: str) -> tuple[nx.MultiDiGraph, NetworkReport]:
    """Build the walking graph from the source named in ``[network]``.

    Parameters
    ----------
    config
        The ``[network]`` table: ``path`` (centerlines, OSM extract or GraphML) or ``place``.
    crs
        The city's projected CRS, in metres.

    Returns
    -------
    graph, report

    Raises
    ------
    InputDataError
        For a file that cannot be read or holds no streets, a column named in the config that
        the file lacks, or a download asked for while offline.
    """
    if config.path is None:
        if not config.place:
            raise InputDataError("[network] needs `path` (a street file) or `place` (online)")
        return _from_osm_graph(_download(config.place, config.cache_dir), crs, config.place)
    name = config.path.name.lower()
    if name.endswith(OSM_SUFFIXES):
        return _from_osm_graph(_read_osm(config.path), crs, config.path.name)
    if name.endswith(".graphml"):
        try:
            graph = ox.load_graphml(config.path)
        except Exception as exc:  # networkx and lxml raise many kinds
            raise InputDataError(f"{config.path}: not a readable GraphML file ({exc})") from exc
        return _from_osm_graph(graph, crs, config.path.name, filter_osm=False)
    return _from_centerlines(config, crs)


def _from_centerlines(config: NetworkConfig, crs: str) -> tuple[nx.MultiDiGraph, NetworkReport]:
    path = config.path
    streets = read_vector(path, what="street network")
    streets = streets.to_crs(crs).explode(index_parts=False, ignore_index=True)
    streets = streets[streets.geom_type == "LineString"].reset_index(drop=True)
    if streets.empty:
        raise InputDataError(f"{path}: no line geometries; give a street centerline file")
    named = {
        "class_column": config.class_column,
        "name_column": config.name_column,
        "speed_column": config.speed_column,
    }
    missing = [f"`{k}` = {v!r}" for k, v in named.items() if v and v not in streets]
    if missing:
        raise InputDataError(
            f"{path}: column(s) {', '.join(missing)} of [network] not found; the file has "
            f"{', '.join(map(str, streets.columns))}"
        )
    by_rule = _dropped_by_name_or_speed(streets, config)
    streets = streets[~by_rule].reset_index(drop=True)
    walkable, dropped_class, dropped_access = walkable_centerlines(
        streets,
        class_column=config.class_column,
        drop_classes=config.drop_classes,
        local_classes=config.local_classes,
        limited_access_min_m=config.limited_access_min_m,
    )
    if config.name_column:
        walkable = walkable.rename(columns={config.name_column: "name"})
    kept = graph_from_centerlines(walkable, crs=crs)
    segments_kept = kept.number_of_edges() // 2
    report = NetworkReport(
        source=path.name,
        segments_read=len(streets) + int(by_rule.sum()),
        dropped_by_class=dropped_class + int(by_rule.sum()),
        dropped_limited_access=dropped_access,
        dropped_disconnected=len(walkable) - segments_kept,
        km_kept=_km(kept),
    )
    return kept, report


def _dropped_by_name_or_speed(streets: gpd.GeoDataFrame, config: NetworkConfig) -> np.ndarray:
    """Segments a name pattern (ramps, interstates) or a speed limit marks as not walked."""
    drop = np.zeros(len(streets), dtype=bool)
    if config.name_column and config.drop_name_pattern:
        try:
            pattern = re.compile(config.drop_name_pattern, flags=re.IGNORECASE)
        except re.error as exc:
            raise InputDataError(
                f"[network] `drop_name_pattern` is not a valid regular expression: {exc}"
            ) from exc
        names = streets[config.name_column].fillna("").astype(str)
        drop |= names.map(lambda n: bool(pattern.search(n))).to_numpy()
    if config.speed_column and config.drop_speed_at_least is not None:
        speed = pd.to_numeric(streets[config.speed_column], errors="coerce")
        drop |= (speed >= config.drop_speed_at_least).fillna(False).to_numpy()
    return drop


def _read_osm(path: Path) -> nx.MultiDiGraph:
    """An OpenStreetMap extract as an unprojected osmnx graph, every way walkable both ways."""
    try:
        if path.name.lower().endswith(".pbf"):
            return _read_pbf(path)
        return ox.graph_from_xml(path, bidirectional=True, simplify=True, retain_all=True)
    except InputDataError:
        raise
    except Exception as exc:  # lxml, bz2 and osmnx raise many kinds
        raise InputDataError(
            f"{path}: not a readable OpenStreetMap extract ({exc}); give an .osm, .osm.bz2 or "
            ".osm.pbf file"
        ) from exc


def _read_pbf(path: Path) -> nx.MultiDiGraph:
    """Read a PBF extract with pyosmium, through a temporary OSM XML file osmnx can parse."""
    import osmium

    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "extract.osm"
        with osmium.SimpleWriter(str(xml)) as writer:
            for obj in osmium.FileProcessor(str(path)):
                writer.add(obj)
        return ox.graph_from_xml(xml, bidirectional=True, simplify=True, retain_all=True)


def _download(place: str, cache_dir: Path | None) -> nx.MultiDiGraph:
    """Download the walking network of a place, failing fast and clearly when offline."""
    host = urlparse(ox.settings.overpass_url).hostname or ""
    try:
        socket.create_connection((host, 443), timeout=3).close()
    except OSError as exc:
        raise InputDataError(
            f"cannot reach the OpenStreetMap servers ({host}) to download the streets of "
            f"{place!r}: this machine looks offline. Download an .osm.pbf extract of the city "
            "once, elsewhere, and set [network] path to it"
        ) from exc
    ox.settings.use_cache = True
    if cache_dir is not None:
        ox.settings.cache_folder = str(cache_dir)
    ox.settings.requests_timeout = 30
    return ox.graph_from_place(place, network_type="walk", retain_all=True)


def _from_osm_graph(
    graph: nx.MultiDiGraph, crs: str, source: str, *, filter_osm: bool = True
) -> tuple[nx.MultiDiGraph, NetworkReport]:
    """Project an osmnx graph, drop what is not walked, keep its largest piece."""
    segments = graph.number_of_edges()
    if segments == 0:
        raise InputDataError(f"{source}: holds no streets")
    dropped = []
    if filter_osm:
        for u, v, k, data in graph.edges(keys=True, data=True):
            highway = data.get("highway", "")
            kinds = set(highway) if isinstance(highway, list) else {highway}
            if kinds <= _OSM_NOT_WALKED or data.get("foot") in ("no", "private"):
                dropped.append((u, v, k))
        graph = graph.copy()
        graph.remove_edges_from(dropped)
    graph = ox.project_graph(graph, to_crs=crs)
    kept = ox.truncate.largest_component(graph, strongly=True)
    for _, _, data in kept.edges(data=True):
        if isinstance(data.get("name"), list):
            data["name"] = data["name"][0]
    report = NetworkReport(
        source=source,
        segments_read=segments,
        dropped_by_class=len(dropped),
        dropped_limited_access=0,
        dropped_disconnected=segments - len(dropped) - kept.number_of_edges(),
        km_kept=_km(kept),
    )
    return kept, report


def _km(graph: nx.MultiDiGraph) -> float:
    """Street length, each two-way street counted once."""
    return round(sum(d["length"] for *_, d in graph.edges(data=True)) / 2000, 1)


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
    extra = [c for c in ("name",) if c in streets]
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
