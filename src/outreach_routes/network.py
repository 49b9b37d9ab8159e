"""The walking graph, from whatever street data a program has.

Sources, chosen by ``[network]``: a city centerline file in any GIS format; an OpenStreetMap
extract (``.osm``, ``.osm.bz2``, ``.osm.pbf``); a saved GraphML; or, online only, an osmnx
download by place name (cached). Returns an osmnx-style ``MultiDiGraph`` in the city's
projected CRS: integer nodes with ``x`` and ``y``, an edge each way per street segment with
``length`` (metres), ``geometry`` and ``name`` where the source has names, only what people walk
on, and only the largest connected piece. A report says what was dropped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
import weakref
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Geod
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

from ._errors import InputDataError
from ._io import code_digest, dumps_json, read_vector, sha256_file
from .config import EXCLUDABLE, NetworkConfig
from .projection import lonlat

# osmnx is imported where an OpenStreetMap extract, a GraphML or a download is read: a plan from
# a centerline file never needs it, nor the matplotlib it loads (0.2 s and 27 MB).

__all__ = [
    "NetworkReport",
    "WalkingNetwork",
    "crs_notes",
    "graph_frames",
    "graph_from_centerlines",
    "load_network",
    "load_walking_network",
    "list_corners",
    "list_streets",
    "osm_not_walked",
    "way_kind",
    "walkable_centerlines",
]

# Segment end points closer than this (metres) are the same street corner.
_SNAP_M = 0.1
OSM_SUFFIXES = (".osm", ".osm.bz2", ".osm.xml", ".osm.pbf", ".pbf")

# Which OpenStreetMap ways are walked: osmnx 2.x's "walk" filter, as one table. A way is kept
# only when it has a `highway` tag and no rule below drops it. Two changes from osmnx: streets
# tagged `sidewalk=separate` stay (osmnx drops them, and with them the names of the corners),
# and a cycleway that allows feet (`foot=yes|designated|permissive`) stays.
OSM_NOT_WALKED_HIGHWAY = frozenset(
    {
        "abandoned",
        "bus_guideway",
        "construction",
        "cycleway",
        "disused",
        "motorway",
        "motorway_link",
        "no",
        "planned",
        "platform",
        "proposed",
        "raceway",
        "razed",
        "rest_area",
        "services",
    }
)
_FOOT_ALLOWED = frozenset({"yes", "designated", "permissive"})
# For a way with no `highway` tag, the tag that says what it is, in this order ("railway" 412).
_OSM_KINDS = (
    "railway",
    "building",
    "waterway",
    "power",
    "aeroway",
    "public_transport",
    "barrier",
    "landuse",
    "natural",
    "leisure",
    "amenity",
    "man_made",
    "boundary",
    "route",
    "place",
)


# What a walker calls an unnamed way, by its OpenStreetMap tags (:func:`way_kind`).
_PATH_HIGHWAYS = frozenset(
    {"footway", "path", "steps", "pedestrian", "cycleway", "bridleway", "track", "corridor"}
)
_SERVICE_KINDS = {"alley": "alley", "parking_aisle": "parking aisle", "driveway": "driveway"}


def way_kind(highway: object, service: object = None) -> str:
    """What a walker calls a way of these OpenStreetMap tags when it has no name: ``"alley"``,
    ``"parking aisle"``, ``"driveway"``, ``"service road"``, ``"path"`` (footways, steps, park
    paths) or ``"street"``; lists (merged ways) are read by their first value."""
    highway, service = _first(highway), _first(service)
    if highway == "service":
        return _SERVICE_KINDS.get(service or "", "service road")
    if highway in _PATH_HIGHWAYS:
        return "path"
    return "street"


def osm_not_walked(tags: Mapping[str, str]) -> str | None:
    """Why an OpenStreetMap way (its tags) is not walked, or ``None`` when it is.

    The reason is the way's kind when it is no street (``"railway"``, ``"building"``,
    ``"other"``) or the tag that rules it out (``"highway=motorway"``, ``"foot=no"``,
    ``"area=yes"``, ``"service=private"``, ``"access=private"``).
    """
    highway = tags.get("highway")
    if not highway:
        return next((k for k in _OSM_KINDS if k in tags), "other")
    foot = tags.get("foot", "")
    if tags.get("area") == "yes":
        return "area=yes"
    if highway in OSM_NOT_WALKED_HIGHWAY and not (highway == "cycleway" and foot in _FOOT_ALLOWED):
        return f"highway={highway}"
    if foot in ("no", "private"):
        return f"foot={foot}"
    if tags.get("service") == "private":
        return "service=private"
    if tags.get("access") in ("no", "private") and foot not in _FOOT_ALLOWED:
        return f"access={tags['access']}"
    return None


@dataclass(frozen=True)
class NetworkReport:
    """What the walkability rules and the connectivity cut removed.

    For a centerline file the counts are segments; for OpenStreetMap they are ways, and
    ``dropped_kinds`` says what the dropped ways were (``{"railway": 412, "building": 9310}``).
    """

    source: str
    segments_read: int
    dropped_by_class: int
    dropped_limited_access: int
    dropped_disconnected: int
    km_kept: float
    dropped_kinds: dict[str, int] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The report as plain values, for the manifest."""
        values = dict(self.__dict__)
        values["notes"] = list(self.notes)
        return values

    def summary(self) -> list[str]:
        """What a run says about the network: the kinds of ways dropped, and any caveat."""
        lines = list(self.notes)
        if self.dropped_kinds:
            kinds = ", ".join(f"{k} {n:,}" for k, n in self.dropped_kinds.items())
            lines.insert(0, f"{self.source}: {self.dropped_by_class:,} ways not walked ({kinds})")
        return lines


@dataclass(frozen=True)
class WalkingNetwork:
    """The walking graph as the pipeline uses it: its nodes and edges as GeoDataFrames (in the
    order and form of ``osmnx.graph_to_gdfs``) and the report. The ``MultiDiGraph`` itself is
    built only when asked for: from a centerline file that saves 1.3 s and 60 MB on
    Philadelphia's streets, and the pipeline never needs it."""

    nodes: gpd.GeoDataFrame
    edges: gpd.GeoDataFrame
    report: NetworkReport

    @classmethod
    def of(cls, graph: nx.MultiDiGraph, report: NetworkReport) -> WalkingNetwork:
        """The frames of a graph already built (:func:`load_network`)."""
        walking = cls(*graph_frames(graph), report)
        walking.__dict__["graph"] = graph
        return walking

    @cached_property
    def graph(self) -> nx.MultiDiGraph:
        return _graph_with_frames(self.nodes, self.edges, str(self.edges.crs))

    @cached_property
    def extent(self) -> shapely.Geometry:
        """Where the walking network lies: the convex hull of its corners, in its CRS."""
        return shapely.MultiPoint(self.nodes[["x", "y"]].to_numpy()).convex_hull

    @cached_property
    def centre(self) -> tuple[float, float]:
        """The network's centre as ``(lon, lat)`` in degrees."""
        return lonlat(self.extent.centroid, self.nodes.crs)


def crs_notes(crs: str, extent: shapely.Geometry) -> list[str]:
    """A warning when the city's CRS (``[city] crs``) is meant for another part of the world
    than the walking network in ``extent`` (in that CRS): distances there are stretched."""
    from .projection import crs_fits, suggestion

    lon, lat = lonlat(extent.centroid, crs)
    if "Pseudo-Mercator" in CRS.from_user_input(crs).name:
        return [
            f"warning: [city] crs {crs} (web Mercator) stretches distances "
            f"{1 / np.cos(np.radians(lat)):.2f} times at this latitude: walks and radii come out "
            f"short; {suggestion(lon, lat)}"
        ]
    if crs_fits(crs, lon, lat):
        return []
    return [
        f"warning: [city] crs {crs} is meant for another part of the world than the streets, "
        f"whose distances it stretches; {suggestion(lon, lat)}"
    ]


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
    walking = load_walking_network(config, crs=crs)
    return walking.graph, walking.report


def load_walking_network(config: NetworkConfig, *, crs: str, cache: bool = True) -> WalkingNetwork:
    """:func:`load_network` as frames: the graph is built from a centerline file only when
    ``.graph`` is asked for; an OpenStreetMap extract, a GraphML or a download is read as one.

    With ``cache``, a network built from a file is kept under ``[network] cache_dir`` (by
    default :func:`default_cache_dir`) in a folder named by :func:`network_key`, and read back
    from there while the file, the ``[network]`` settings, the CRS and this package's code are
    the same. The folder is safe to delete; a cache that cannot be written is skipped.
    """
    folder = _cache_folder(config, crs) if cache else None
    if folder is not None:
        cached = read_network(folder, crs)
        if cached is not None:
            return cached
    walking = _build_walking_network(config, crs)
    if folder is not None:
        cache_network(walking, config, crs)
    return walking


def cache_network(walking: WalkingNetwork, config: NetworkConfig, crs: str) -> None:
    """Keep a network just built where :func:`load_walking_network` looks for it (``init``
    builds one in full, with every column, then leaves it for ``validate`` and ``plan``)."""
    folder = _cache_folder(config, crs)
    if folder is not None and not folder.exists():
        # A read-only or full disk, or another run writing it first: the next run builds it.
        with contextlib.suppress(OSError):
            write_network(walking, folder)


def _cache_folder(config: NetworkConfig, crs: str) -> Path | None:
    key = network_key(config, crs)
    return (config.cache_dir or default_cache_dir()) / "networks" / key if key else None


def default_cache_dir() -> Path:
    """Where built networks are kept without ``[network] cache_dir``:
    ``$XDG_CACHE_HOME/outreach-routes`` (``~/.cache/outreach-routes``)."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "outreach-routes"


# What a network built from a file depends on, besides the file, the settings and this package.
_NETWORK_LIBRARIES = ("geopandas", "shapely", "pyproj", "osmnx", "osmium", "networkx", "pandas")


def network_key(config: NetworkConfig, crs: str) -> str | None:
    """A SHA-256 of everything a walking network is built from: the street file's bytes, the
    ``[network]`` settings (less ``cache_dir``), the CRS, this package's source and the
    libraries' versions. None for a download (``place``), which may change, or a file that is
    not there (loading it says so)."""
    if config.path is None or not config.path.is_file():
        return None
    digest = hashlib.sha256(code_digest(_NETWORK_LIBRARIES).encode())
    digest.update(repr((replace(config, cache_dir=None), crs)).encode())
    digest.update(sha256_file(config.path).encode())
    return digest.hexdigest()


NODES_FILE, EDGES_FILE, REPORT_FILE = (
    "network_nodes.parquet",
    "network_edges.parquet",
    "network.json",
)


def write_network(network: WalkingNetwork, folder: Path) -> None:
    """Save a walking network's files (:func:`write_network_files`) and report into ``folder``,
    which appears whole or not at all."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        write_network_files(network, staging)
        (staging / REPORT_FILE).write_text(dumps_json(network.report.as_dict()), "utf-8")
        staging.replace(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_network_files(network: WalkingNetwork, folder: Path) -> None:
    """The network's nodes (x, y, geometry) and edges (length, geometry, name, kind) as
    ``network_nodes.parquet`` and ``network_edges.parquet`` in ``folder``: what a plan, a
    nightly re-plan and ``where`` read back."""
    from .routing import street_name

    network.nodes[["x", "y", "geometry"]].to_parquet(folder / NODES_FILE)
    edges = network.edges[["length", "geometry"]].copy()
    if "name" in network.edges:
        edges["name"] = network.edges["name"].map(street_name)
    if "kind" in network.edges:
        edges["kind"] = network.edges["kind"]
    edges.to_parquet(folder / EDGES_FILE)


def read_network(folder: Path, crs: str) -> WalkingNetwork | None:
    """The walking network saved in ``folder`` by :func:`write_network`, in ``crs`` (the CRS it
    was built in, named as the config names it), or None when there is none or it cannot be
    read."""
    try:
        nodes, edges = read_network_files(folder, crs)
        report = json.loads((folder / REPORT_FILE).read_text("utf-8"))
        report = NetworkReport(**{**report, "notes": tuple(report["notes"])})
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return WalkingNetwork(nodes, edges, report)


def read_network_files(folder: Path, crs: str) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The nodes and edges :func:`write_network_files` saved in ``folder``, in ``crs`` (named as
    the config names it: a CRS read back from Parquet would print as PROJJSON)."""
    nodes = gpd.read_parquet(folder / NODES_FILE).set_crs(crs, allow_override=True)
    edges = gpd.read_parquet(folder / EDGES_FILE).set_crs(crs, allow_override=True)
    return nodes, edges


def _build_walking_network(config: NetworkConfig, crs: str) -> WalkingNetwork:
    if config.path is None:
        if not config.place:
            raise InputDataError("[network] needs `path` (a street file) or `place` (online)")
        return WalkingNetwork.of(
            *_from_osm_graph(_download(config.place, config.cache_dir), crs, config.place)
        )
    name = config.path.name.lower()
    if name.endswith(OSM_SUFFIXES):
        graph, ways_read, dropped, notes = _read_osm(config.path, config.exclude)
        return WalkingNetwork.of(
            *_from_osm_graph(
                graph,
                crs,
                config.path.name,
                ways_read=ways_read,
                dropped=dropped,
                judged=True,
                notes=notes,
            )
        )
    if config.exclude:
        raise InputDataError(
            f"[network] `exclude` works on OpenStreetMap extracts (.osm, .osm.pbf), whose ways "
            f"say what they are; {config.path.name} is not one: remove `exclude`"
        )
    if name.endswith(".graphml"):
        import osmnx as ox

        try:
            graph = ox.load_graphml(config.path)
        except Exception as exc:  # networkx and lxml raise many kinds
            raise InputDataError(f"{config.path}: not a readable GraphML file ({exc})") from exc
        return WalkingNetwork.of(*_from_osm_graph(graph, crs, config.path.name))
    return _from_centerlines(config, crs)


def _from_centerlines(config: NetworkConfig, crs: str) -> WalkingNetwork:
    path = config.path
    streets = read_vector(path, what="street network")
    streets = streets.to_crs(crs).explode(index_parts=False, ignore_index=True)
    streets = streets[(streets.geom_type == "LineString") & ~streets.is_empty]
    streets = streets.reset_index(drop=True)
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
    nodes, edges = centerline_frames(walkable, crs=crs)
    report = NetworkReport(
        source=path.name,
        segments_read=len(streets) + int(by_rule.sum()),
        dropped_by_class=dropped_class + int(by_rule.sum()),
        dropped_limited_access=dropped_access,
        dropped_disconnected=len(walkable) - len(edges) // 2,
        km_kept=_km(edges["length"].tolist()),
    )
    return WalkingNetwork(nodes, edges, report)


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


_PARK_LEISURE = frozenset({"park", "garden", "playground", "nature_reserve", "dog_park"})


def excluded_as(tags: Mapping[str, str], in_park: bool) -> list[str]:
    """The ``[network] exclude`` names that would leave out a walked way of these tags."""
    highway, service = tags.get("highway"), tags.get("service")
    names = []
    if highway == "service":
        names.append("service")
        if service in ("alley", "parking_aisle", "driveway"):
            names.append(service)
    if highway in ("footway", "steps"):
        names.append(highway)
    if in_park and highway in _PATH_HIGHWAYS:
        names.append("park_paths")
    return names


def _read_osm(
    path: Path, exclude: tuple[str, ...] = ()
) -> tuple[nx.MultiDiGraph, int, Counter[str], list[str]]:
    """The walkable ways of an OpenStreetMap extract, as an unprojected osmnx graph.

    pyosmium reads the extract (``.osm``, ``.osm.bz2``, ``.osm.pbf``) and :func:`osm_not_walked`
    sorts its ways before any graph exists, so a railway or a building outline that shares a
    node with a street never becomes an edge; ways named by ``exclude`` (:data:`EXCLUDABLE`)
    are left out too. The kept ways go to osmnx through a temporary OSM XML file
    (``graph_from_xml``, every way walkable both ways), then simplified, keeping every node
    where the street name changes.

    Returns
    -------
    graph, ways_read, dropped, notes
        ``dropped`` counts the ways not walked by reason; ``notes`` says how many km each
        ``exclude`` name leaves out (or would).
    """
    import osmium
    import osmnx as ox

    dropped: Counter[str] = Counter()
    ways: list[tuple[int, dict[str, str], list[int]]] = []
    where: dict[int, tuple[float, float]] = {}
    parks: list[shapely.Geometry] = []
    ways_read = 0
    try:
        source = str(path)
        if path.name.lower().endswith(".osm.xml"):
            source = osmium.io.File(str(path), "osm")
        processor = osmium.FileProcessor(source).with_areas()
        for obj in processor.with_locations():
            if obj.is_area():
                if obj.tags.get("leisure") in _PARK_LEISURE:
                    parks += _area_polygons(obj)
                continue
            if not obj.is_way():
                continue
            ways_read += 1
            tags = dict(obj.tags)
            reason = osm_not_walked(tags)
            if reason is not None:
                dropped[reason] += 1
                continue
            refs = []
            for node in obj.nodes:
                if node.location.valid():
                    where[node.ref] = (node.lon, node.lat)
                    refs.append(node.ref)
            if len(refs) >= 2:
                ways.append((obj.id, tags, refs))
            else:
                dropped["no location"] += 1
    except (RuntimeError, OSError, ValueError) as exc:  # pyosmium's parse and I/O errors
        raise InputDataError(
            f"{path}: not a readable OpenStreetMap extract ({exc}); give an .osm, .osm.bz2 or "
            ".osm.pbf file"
        ) from exc
    ways, notes = _leave_out(ways, where, parks, exclude, dropped)
    if not ways:
        raise InputDataError(
            f"{path}: none of its {ways_read:,} ways is a walkable street (tag `highway`); give "
            "an extract of the city's streets"
        )
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "walkable.osm"
        with osmium.SimpleWriter(str(xml)) as writer:
            for ref in sorted(where):
                writer.add_node(osmium.osm.mutable.Node(id=ref, location=where[ref]))
            for way_id, tags, refs in ways:
                writer.add_way(osmium.osm.mutable.Way(id=way_id, nodes=refs, tags=tags))
        graph = ox.graph_from_xml(xml, bidirectional=True, simplify=False, retain_all=True)
    # A node where the street name changes stays a node, so every corner keeps its two names.
    graph = ox.simplify_graph(graph, edge_attrs_differ=["name"])
    return graph, ways_read, Counter(dict(dropped.most_common())), notes


def _area_polygons(area: Any) -> list[shapely.Geometry]:
    """The polygons of a pyosmium area (outer rings less their inner rings), in degrees."""
    polygons = []
    for outer in area.outer_rings():
        holes = [[(n.lon, n.lat) for n in inner] for inner in area.inner_rings(outer)]
        ring = [(n.lon, n.lat) for n in outer]
        if len(ring) >= 4:
            polygons.append(shapely.Polygon(ring, [h for h in holes if len(h) >= 4]))
    return polygons


def _leave_out(
    ways: list[tuple[int, dict[str, str], list[int]]],
    where: dict[int, tuple[float, float]],
    parks: list[shapely.Geometry],
    exclude: tuple[str, ...],
    dropped: Counter[str],
) -> tuple[list[tuple[int, dict[str, str], list[int]]], list[str]]:
    """The ways ``exclude`` keeps, counting the others in ``dropped`` ("exclude=alley"), and a
    note of the km each excludable kind holds: what ``exclude`` leaves out, or would."""
    lines = [shapely.LineString([where[r] for r in refs]) for _, _, refs in ways]
    in_park = np.zeros(len(ways), dtype=bool)
    if parks:
        park = shapely.union_all(parks)
        shapely.prepare(park)
        middles = shapely.line_interpolate_point(lines, 0.5, normalized=True)
        in_park = shapely.contains(park, middles)
    # Lengths in metres on the sphere: near enough for a note.
    geod = Geod(ellps="WGS84")
    kept, metres = [], Counter()
    for way, line, park_way in zip(ways, lines, in_park, strict=True):
        names = excluded_as(way[1], bool(park_way))
        for name in names:
            metres[name] += geod.geometry_length(line)
        hit = next((n for n in names if n in exclude), None)
        if hit is None:
            kept.append(way)
        else:
            dropped[f"exclude={hit}"] += 1
    if not metres:
        return kept, []
    kinds = ", ".join(f"{n} {metres[n] / 1000:.1f} km" for n in EXCLUDABLE if metres[n])
    left = f"; left out: {', '.join(exclude)}" if exclude else ""
    return kept, [f"ways a program may leave out with [network] exclude: {kinds}{left}"]


def _download(place: str, cache_dir: Path | None) -> nx.MultiDiGraph:
    """Download the walking network of a place, failing fast and clearly when offline."""
    import osmnx as ox

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


def _drop_not_walked(graph: nx.MultiDiGraph, dropped: Counter[str]) -> tuple[nx.MultiDiGraph, int]:
    """Judge each edge by the tags osmnx kept; count the ones dropped in ``dropped`` by reason.

    Returns the graph without them (a copy when any is dropped) and how many edges have no
    ``highway`` attribute (kept).
    """
    not_walked, untagged = [], 0
    for u, v, k, data in graph.edges(keys=True, data=True):
        if not data.get("highway"):
            untagged += 1
            continue
        tags = {key: _first(data.get(key)) for key in ("highway", "area", "foot", "service")}
        tags.update(access=_first(data.get("access")))
        reason = osm_not_walked({key: value for key, value in tags.items() if value})
        if reason is not None:
            not_walked.append((u, v, k))
            dropped[reason] += 1
    if not_walked:
        graph = graph.copy()
        graph.remove_edges_from(not_walked)
    return graph, untagged


def _from_osm_graph(
    graph: nx.MultiDiGraph,
    crs: str,
    source: str,
    *,
    ways_read: int | None = None,
    dropped: Counter[str] | None = None,
    judged: bool = False,
    notes: list[str] | None = None,
) -> tuple[nx.MultiDiGraph, NetworkReport]:
    """Project an osmnx graph, drop edges the rule table rules out, keep its largest piece.

    Edges of a GraphML or a download (not ``judged`` way by way already) are judged by the
    tags osmnx kept; edges with no ``highway`` attribute are kept, and the report says how many.
    """
    import osmnx as ox

    dropped = Counter(dropped or {})
    notes = [f"{source}: {note}" for note in notes or []]
    edges_read = graph.number_of_edges()
    if edges_read == 0:
        raise InputDataError(f"{source}: holds no streets")
    untagged = 0
    if not judged:
        graph, untagged = _drop_not_walked(graph, dropped)
    walkable = graph.number_of_edges()
    if untagged:
        notes.append(
            f"{source}: {untagged:,} of {edges_read:,} edges have no `highway` attribute; kept "
            "as walkable (check that they are streets)"
        )
    graph = ox.project_graph(graph, to_crs=crs)
    kept = ox.truncate.largest_component(graph, strongly=True)
    for _, _, data in kept.edges(data=True):
        if isinstance(data.get("name"), list):
            data["name"] = data["name"][0]
        data["kind"] = way_kind(data.get("highway"), data.get("service"))
    report = NetworkReport(
        source=source,
        segments_read=ways_read if ways_read is not None else edges_read,
        dropped_by_class=sum(dropped.values()),
        dropped_limited_access=0,
        dropped_disconnected=walkable - kept.number_of_edges(),
        km_kept=_km([d["length"] for *_, d in kept.edges(data=True)]),
        dropped_kinds=dict(dropped.most_common()),
        notes=tuple(notes),
    )
    return kept, report


def _first(value: object) -> str | None:
    """A tag value of an edge: osmnx keeps a list where merged ways disagree."""
    if isinstance(value, list):
        return str(value[0]) if value else None
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def _km(lengths: list[float]) -> float:
    """Street length (km) of the edges' lengths (m), each two-way street counted once."""
    return round(sum(lengths) / 2000, 1)


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
    nodes, edges = centerline_frames(streets, crs=crs)
    return _graph_with_frames(nodes, edges, crs)


def centerline_frames(
    streets: gpd.GeoDataFrame, *, crs: str
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """:func:`graph_from_centerlines`'s nodes and edges as frames, the graph not built."""
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
    # The order osmnx.graph_from_gdfs gives: nodes as the edges first name them, edges grouped
    # by start node, then by end node in order of first appearance, then by key.
    seen = pd.unique(edges[["u", "v"]].to_numpy().ravel())
    order = np.concatenate([seen, np.setdiff1d(np.arange(len(xy)), seen)])
    position = np.empty(len(order), dtype=int)
    position[order] = np.arange(len(order))
    pair = edges.groupby(["u", "v"], sort=False).ngroup().to_numpy()
    edges = edges.iloc[np.lexsort((edges["key"], pair, position[edges["u"]]))]
    edges = edges.set_index(["u", "v", "key"])
    nodes = gpd.GeoDataFrame(
        {"x": xy[order, 0], "y": xy[order, 1]},
        geometry=gpd.points_from_xy(xy[order, 0], xy[order, 1]),
        crs=crs,
        index=pd.Index(order, name="osmid"),
    )
    return nodes, edges


def _graph_with_frames(
    nodes: gpd.GeoDataFrame, edges: gpd.GeoDataFrame, crs: str
) -> nx.MultiDiGraph:
    """The MultiDiGraph ``osmnx.graph_from_gdfs`` makes of these frames (in their order), built
    in one pass; the frames are kept for :func:`graph_frames`. ``benchmarks/graph_build.py``
    measures it against osmnx's row-by-row build."""
    graph = nx.MultiDiGraph(crs=crs, simplified=True)
    graph.add_nodes_from(
        (int(n), {"x": x, "y": y})
        for n, x, y in zip(nodes.index, nodes["x"].tolist(), nodes["y"].tolist(), strict=True)
    )
    columns = list(edges.columns)
    values = [edges[c].tolist() for c in columns]
    present = [edges[c].notna().to_numpy() for c in columns]
    graph.add_edges_from(
        (
            int(u),
            int(v),
            int(k),
            {c: vals[i] for c, vals, ok in zip(columns, values, present, strict=True) if ok[i]},
        )
        for i, (u, v, k) in enumerate(edges.index)
    )
    _FRAMES[graph] = (nodes, edges)
    return graph


# Frames of the graphs built here or asked for once: a graph is not changed once loaded.
_FRAMES: weakref.WeakKeyDictionary[nx.MultiDiGraph, tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]] = (
    weakref.WeakKeyDictionary()
)


def graph_frames(graph: nx.MultiDiGraph) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The walking graph's nodes and edges as GeoDataFrames, as ``osmnx.graph_to_gdfs`` gives
    them, made once per graph. Treat them, and the graph, as read-only."""
    frames = _FRAMES.get(graph)
    if frames is None:
        import osmnx as ox

        frames = _FRAMES[graph] = ox.graph_to_gdfs(graph)
    return frames


def _end_keys(geoms: gpd.GeoSeries) -> tuple[np.ndarray, np.ndarray]:
    """Text keys of each line's first and last point, snapped to ``_SNAP_M``."""
    # Every line's coordinates in one array (a tenth of the time of shapely.get_point), and
    # where each line's first and last point lie in it.
    coords, line = shapely.get_coordinates(geoms.to_numpy(), return_index=True)
    first = np.searchsorted(line, np.arange(len(geoms)))
    last = np.append(first[1:], len(line)) - 1

    def key(points: np.ndarray) -> np.ndarray:
        x = np.round(points[:, 0] / _SNAP_M) * _SNAP_M
        y = np.round(points[:, 1] / _SNAP_M) * _SNAP_M
        return np.char.add(np.char.add(np.char.mod("%.1f", x), " "), np.char.mod("%.1f", y))

    return key(coords[first]), key(coords[last])


def list_streets(graph: nx.MultiDiGraph, *, match: str | None = None) -> pd.DataFrame:
    """The network's street names with their walkable length, for writing bases and corner
    requests: ``name``, ``km`` (each two-way street counted once), sorted by name.

    ``match`` keeps the names that contain it (any case).
    """
    from .routing import street_name

    metres: dict[str, float] = {}
    for *_, data in graph.edges(data=True):
        name = street_name(data.get("name"))
        if name:
            metres[name] = metres.get(name, 0.0) + float(data["length"]) / 2
    frame = pd.DataFrame(
        {"name": list(metres), "km": [round(m / 1000, 2) for m in metres.values()]}
    )
    if match:
        frame = frame[frame["name"].str.contains(match, case=False, regex=False)]
    return frame.sort_values("name", ignore_index=True)


def list_corners(
    graph: nx.MultiDiGraph,
    *,
    near: tuple[float, float] | None = None,
    radius_m: float = 300.0,
    match: str | None = None,
) -> pd.DataFrame:
    """Street corners (nodes where two or more named streets meet): ``corner`` as a request
    would write it ("8th St & Adeline St"), ``lat``, ``lon`` and, with ``near`` (lat, lon),
    ``metres`` from it; only those within ``radius_m`` of ``near`` and, with ``match``, on a
    street whose name contains it. Nearest first, else by name.
    """
    from pyproj import Transformer

    from .routing import street_name, streets_meeting

    named = streets_meeting(
        (u, street_name(data.get("name"))) for u, _v, data in graph.edges(data=True)
    )
    rows = []
    for node, names in named.items():
        if len(names) < 2:
            continue
        if match and not any(match.lower() in n.lower() for n in names):
            continue
        rows.append(
            {"corner": " & ".join(names), "x": graph.nodes[node]["x"], "y": graph.nodes[node]["y"]}
        )
    frame = pd.DataFrame(rows, columns=["corner", "x", "y"])
    to_wgs = Transformer.from_crs(graph.graph["crs"], "EPSG:4326", always_xy=True)
    lon, lat = to_wgs.transform(frame["x"].to_numpy(), frame["y"].to_numpy())
    frame = frame.assign(lat=np.round(lat, 6), lon=np.round(lon, 6))
    if near is None:
        return frame[["corner", "lat", "lon"]].sort_values("corner", ignore_index=True)
    x, y = to_wgs.transform(near[1], near[0], direction="INVERSE")
    frame["metres"] = np.round(np.hypot(frame["x"] - x, frame["y"] - y)).astype(int)
    frame = frame[frame["metres"] <= radius_m]
    return frame[["corner", "lat", "lon", "metres"]].sort_values(
        ["metres", "corner"], ignore_index=True
    )
