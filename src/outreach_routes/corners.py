"""Street corners written as people write them ("W Broadway & Emerson Ave N"), matched offline
against the street names of a walking graph.

:func:`corner_index` indexes a graph's nodes by the normalised names of the streets meeting
there; :func:`find_corner` turns two names into one place, or says why it cannot (an unknown
name with the closest ones, streets that meet in several places or nowhere). Only numpy,
shapely and pyproj: `where` looks corners up without loading the planning stack.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from pyproj import Transformer

from ._errors import InputDataError

if TYPE_CHECKING:
    import geopandas as gpd
    import networkx as nx
    import pandas as pd

    from .network import WalkingNetwork

__all__ = [
    "CornerIndex",
    "corner_index",
    "corner_outcomes",
    "find_corner",
    "normalise_street",
    "short_street",
    "street_corners",
    "street_names",
]


_SUFFIXES = {
    "AVENUE": "AVE",
    "AV": "AVE",
    "STREET": "ST",
    "BOULEVARD": "BLVD",
    "ROAD": "RD",
    "DRIVE": "DR",
    "PLACE": "PL",
    "LANE": "LN",
    "PARKWAY": "PKWY",
    "TERRACE": "TER",
    "COURT": "CT",
    "CIRCLE": "CIR",
    "HIGHWAY": "HWY",
    "WAY": "WAY",
    "TRAIL": "TRL",
}
_SUFFIX_SET = set(_SUFFIXES.values()) | {"PKY", "MALL"}
# Words a name may spell out or shorten, anywhere in it: "Mount Vernon" is "Mt Vernon".
_WORDS = {"MOUNT": "MT", "SAINT": "ST", "FORT": "FT"}
_DIRECTIONS = {
    "NORTH": "N",
    "SOUTH": "S",
    "EAST": "E",
    "WEST": "W",
    "NORTHEAST": "NE",
    "NORTHWEST": "NW",
    "SOUTHEAST": "SE",
    "SOUTHWEST": "SW",
}
_DIRECTION_SET = set(_DIRECTIONS.values())
_ORDINAL_WORDS = {
    "FIRST": 1,
    "SECOND": 2,
    "THIRD": 3,
    "FOURTH": 4,
    "FIFTH": 5,
    "SIXTH": 6,
    "SEVENTH": 7,
    "EIGHTH": 8,
    "NINTH": 9,
    "TENTH": 10,
    "ELEVENTH": 11,
    "TWELFTH": 12,
    "THIRTEENTH": 13,
    "FOURTEENTH": 14,
    "FIFTEENTH": 15,
    "SIXTEENTH": 16,
    "SEVENTEENTH": 17,
    "EIGHTEENTH": 18,
    "NINETEENTH": 19,
    "TWENTIETH": 20,
    "THIRTIETH": 30,
    "FORTIETH": 40,
    "FIFTIETH": 50,
    "SIXTIETH": 60,
    "SEVENTIETH": 70,
    "EIGHTIETH": 80,
    "NINETIETH": 90,
}
# The tens of "Twenty-First", "Thirty Second": the word before an ordinal word under ten.
_TENS = {
    "TWENTY": 20,
    "THIRTY": 30,
    "FORTY": 40,
    "FIFTY": 50,
    "SIXTY": 60,
    "SEVENTY": 70,
    "EIGHTY": 80,
    "NINETY": 90,
}
# OpenStreetMap keeps a way with several names as one value: "Leonard Avenue; Fifth Avenue".
_MULTI = re.compile(r"\s*;\s*")
_SPLIT = re.compile(r"\s*(?:&|\+|/|@|\band\b|\bat\b)\s*", flags=re.IGNORECASE)
_BLOCK = re.compile(r"^\s*\d+\s+block\s+of\s+", flags=re.IGNORECASE)


def normalise_street(name: str) -> str:
    """Upper case, abbreviated suffix, directions and words such as Mount, ordinal numbers in
    figures: ``"42nd Street N."`` -> ``"42ND ST N"``, ``"East Twenty-First Avenue"`` ->
    ``"E 21ST AVE"``, ``"Mount Vernon"`` -> ``"MT VERNON"``."""
    text = _BLOCK.sub("", str(name)).upper().replace(".", " ").replace(",", " ")
    text = re.sub(r"\b([A-Z]+)-([A-Z]+)\b", _joined_ordinal, text)
    tokens: list[str] = []
    for token in text.split():
        token = _SUFFIXES.get(token, _DIRECTIONS.get(token, _WORDS.get(token, token)))
        if token in _ORDINAL_WORDS:
            number = _ORDINAL_WORDS[token]
            if number < 10 and tokens and tokens[-1] in _TENS:
                number += _TENS[tokens.pop()]
            token = str(number)
        if token.isdigit():
            token += _ordinal_suffix(int(token))
        tokens.append(token)
    return " ".join(tokens)


def _joined_ordinal(match: re.Match[str]) -> str:
    """ "TWENTY-FIRST" as two words; other hyphenated names ("WILKES-BARRE") stay whole."""
    tens, unit = match.group(1), match.group(2)
    if tens in _TENS and unit in _ORDINAL_WORDS:
        return f"{tens} {unit}"
    return match.group(0)


def street_names(value: Any) -> list[str]:
    """The street names an edge carries: OpenStreetMap's several names of one way (a list from
    osmnx, or one value joined by ``;``) each on its own; [] for none."""
    values = value if isinstance(value, list | tuple | np.ndarray) else [value]
    out = []
    for item in values:
        if isinstance(item, str):
            out += [n for n in _MULTI.split(item.strip()) if n]
    return out


def short_street(name: str) -> str:
    """A street name as a sign or a person shortens it, its case kept: ``"Southeast Yamhill
    Street"`` -> ``"SE Yamhill St"`` (a leading or trailing direction, a trailing suffix)."""
    tokens = str(name).split()
    if len(tokens) < 2:
        return str(name).strip()
    if tokens[0].upper() in _DIRECTIONS:
        tokens[0] = _DIRECTIONS[tokens[0].upper()]
    if tokens[-1].upper() in _DIRECTIONS:
        tokens[-1] = _DIRECTIONS[tokens[-1].upper()]
    for i in (-1, -2) if len(tokens) > 2 else (-1,):
        word = tokens[i].upper()
        if word in _SUFFIXES:
            tokens[i] = _SUFFIXES[word].title()
            break
    return " ".join(tokens)


def _ordinal_suffix(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return "TH"
    return {1: "ST", 2: "ND", 3: "RD"}.get(n % 10, "TH")


def _variants(name: str) -> list[str]:
    """Forms to look a name up by, most specific first.

    Suffixes and trailing directions are dropped one by one; a trailing direction is also
    tried in front ("Broadway Ave W" -> "W BROADWAY"), and a leading direction is dropped last,
    since it can be part of the name (WEST BROADWAY is not BROADWAY).
    """
    tokens = normalise_street(name).split()
    out = [tokens]
    trimmed = tokens[:]
    while len(trimmed) > 1 and (trimmed[-1] in _SUFFIX_SET or trimmed[-1] in _DIRECTION_SET):
        if trimmed[-1] in _DIRECTION_SET and trimmed[0] not in _DIRECTION_SET:
            core = [t for t in trimmed[:-1] if t not in _SUFFIX_SET]
            out.append([trimmed[-1], *core])
        trimmed = trimmed[:-1]
        out.append(trimmed)
    if len(trimmed) > 1 and trimmed[0] in _DIRECTION_SET:
        out.append(trimmed[1:])
    joined = " ".join(trimmed)
    # Initials written apart ("E M Stately") are one word in many files ("EM STATELY").
    initials = re.sub(r"\b([A-Z]) (?=[A-Z]\b)", r"\1", joined)
    if initials != joined:
        out.append(initials.split())
    return list(dict.fromkeys(" ".join(t) for t in out))


@dataclass(frozen=True)
class CornerIndex:
    """Street corners of a walking graph, looked up by the names of the streets that meet."""

    names: frozenset[str]
    nodes_by_name: dict[str, frozenset[int]]
    xy: dict[int, tuple[float, float]]
    crs: str | None = None  # of ``xy``; messages give places as "lat, lon"
    spelled: dict[str, str] | None = None  # each normalised name as the network writes it

    def spelling(self, key: str) -> str:
        """A normalised name as the network spells it ("East Eleventh Avenue")."""
        return (self.spelled or {}).get(key, key)

    def latlon(self, points: list[tuple[float, float]]) -> str:
        """Places for a message: "44.94837, -93.26231; ..." (at most five)."""
        points = points[:5]
        if self.crs is None:  # a graph that never had a CRS is in degrees already
            return "; ".join(f"{y:.5f}, {x:.5f}" for x, y in points)
        to_wgs = Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)
        return "; ".join(
            f"{lat:.5f}, {lon:.5f}" for lon, lat in (to_wgs.transform(*p) for p in points)
        )


def corner_index(graph: nx.Graph, crs: str | None = None) -> CornerIndex:
    """Index the graph's nodes by the normalised names of the streets meeting at each.

    ``crs`` is the graph's (default: ``graph.graph["crs"]``).
    """
    return street_corners(
        ((u, v, data.get("name")) for u, v, data in graph.edges(data=True)),
        {n: (d["x"], d["y"]) for n, d in graph.nodes(data=True)},
        crs=crs or graph.graph.get("crs"),
    )


def network_corners(network: WalkingNetwork) -> CornerIndex:
    """:func:`corner_index` of a walking network's frames, the graph not built."""
    edges, nodes = network.edges, network.nodes
    names = edges["name"].tolist() if "name" in edges else [None] * len(edges)
    u, v = edges.index.get_level_values(0), edges.index.get_level_values(1)
    return street_corners(
        zip(u.tolist(), v.tolist(), names, strict=True),
        {n: (x, y) for n, x, y in zip(nodes.index, nodes["x"], nodes["y"], strict=True)},
        crs=edges.crs,
    )


def street_corners(
    edges: Iterable[tuple[int, int, Any]], xy: dict[int, tuple[float, float]], crs: Any = None
) -> CornerIndex:
    """:func:`corner_index` from plain data: ``(u, v, street name)`` per edge (names that are
    not text are skipped; several names of one way, as a list or joined by ``;``, each count)
    and each node's ``(x, y)`` in ``crs``."""
    by_name: dict[str, set[int]] = {}
    keys: dict[str, str] = {}  # a street's name is on many edges: normalise it once
    spelled: dict[str, str] = {}
    for u, v, value in edges:
        plain = isinstance(value, str) and ";" not in value  # the usual case, kept fast
        for name in [value] if plain else street_names(value):
            key = keys.get(name)
            if key is None:
                if not name.strip():
                    continue
                key = keys[name] = normalise_street(name)
                spelled.setdefault(key, name.strip())
            by_name.setdefault(key, set()).update((u, v))
    return CornerIndex(
        names=frozenset(by_name),
        nodes_by_name={k: frozenset(v) for k, v in by_name.items()},
        xy=xy,
        crs=str(crs) if crs else None,
        spelled=spelled,
    )


def find_corner(
    text: str,
    index: CornerIndex,
    *,
    within: shapely.Geometry | None = None,
    same_corner_m: float = 120.0,
    gap_m: float = 60.0,
    area_name: str = "the team's territory",
) -> tuple[float, float]:
    """Coordinates of the corner a person wrote, like ``"W Broadway & Emerson Ave N"``.

    Parameters
    ----------
    text
        Two street names joined by ``&``, ``and``, ``/`` or ``@``.
    index
        From :func:`corner_index`.
    within
        Where the corner should be (the requesting team's territory): used when the two streets
        meet more than once.
    same_corner_m
        Nodes of the two streets closer than this are one corner (divided roads).
    gap_m
        Streets that never share a node but come this close meet there (a street that stops
        just short of the other, as files often draw them).
    area_name
        What ``within`` is, for messages, after "inside": "the team's territory".

    Raises
    ------
    InputDataError
        For an unknown street (listing the closest names) or a pair of streets that meet in
        several places (listing them).
    """
    parts = [p for p in _SPLIT.split(str(text)) if p.strip()]
    if len(parts) != 2:
        raise InputDataError(
            f"corner {text!r}: write two street names joined by '&' or 'and', e.g. "
            "'Lake St & Chicago Ave'"
        )
    keys = [_street_keys(text, part, index) for part in parts]
    # Every reading of the two names that meets somewhere, most literal first; prefer the
    # first reading that meets inside `within`.
    readings = []
    for first in keys[0]:
        for second in keys[1]:
            common = index.nodes_by_name[first] & index.nodes_by_name[second]
            if common:
                readings.append(_cluster([index.xy[n] for n in sorted(common)], same_corner_m))
    clusters = readings[0] if readings else []
    where, elsewhere = "in the network", ""
    if within is not None:
        inside = (
            [c for c in reading if within.intersects(shapely.Point(c))] for reading in readings
        )
        where = f"inside {area_name}"
        if clusters:
            elsewhere = f"; they meet at {index.latlon(clusters)} (lat, lon)"
        clusters = next((c for c in inside if c), [])
    if not clusters:
        near = _nearest_approach(index, keys, within)
        if near is not None and near[1] <= gap_m:
            return near[0]
        raise InputDataError(
            f"corner {text!r}: these streets do not meet {where}{elsewhere}"
            + _closest_note(index, near)
        )
    if len(clusters) > 1:
        raise InputDataError(
            f"corner {text!r}: these streets meet at {len(clusters)} places "
            f"({index.latlon(clusters)}, as lat, lon); give the request a point instead, or a "
            "`team` whose territory holds only one of them"
        )
    return clusters[0]


def corner_outcomes(
    addresses: list[str],
    points: np.ndarray,
    index: CornerIndex,
    areas: gpd.GeoSeries,
    *,
    right_m: float = 400.0,
    on_street_m: float = 150.0,
) -> pd.DataFrame:
    """Match corners whose true points are known, and say how each came out.

    Each address is matched with the area holding its point (plus 200 m) as the team's
    territory. ``outcome`` is "right" (within ``right_m`` of the point), "wrong", or
    "reported" (an error naming the candidates, in ``message``). ``truth_on_streets`` says
    whether the known point lies within ``on_street_m`` of both named streets at all; where
    it does not, the point itself was placed wrongly (a geocoder that matched one street
    only) or the network lacks the street there.
    """
    import pandas as pd  # the matcher itself does without it (`where`)

    rows = []
    for address, point in zip(addresses, points, strict=True):
        holding = areas[areas.contains(point)]
        within = holding.union_all().buffer(200) if len(holding) else None
        message = ""
        try:
            corner = find_corner(address, index, within=within)
            outcome = "right" if shapely.Point(corner).distance(point) < right_m else "wrong"
        except InputDataError as exc:
            outcome, message = "reported", str(exc)
        rows.append(
            {
                "address": address,
                "outcome": outcome,
                "message": message,
                "truth_on_streets": _on_both_streets(address, point, index, on_street_m),
            }
        )
    return pd.DataFrame(rows)


def _on_both_streets(address: str, point: shapely.Point, index: CornerIndex, gap_m: float):
    parts = [p for p in _SPLIT.split(str(address)) if p.strip()]
    for part in parts:
        try:
            names = _street_keys(address, part, index)
        except InputDataError:
            return False
        xy = np.vstack([_node_xy(index, name, None) for name in names])
        if np.hypot(*(xy - [point.x, point.y]).T).min() > gap_m:
            return False
    return len(parts) == 2


def _street_keys(text: str, part: str, index: CornerIndex) -> list[str]:
    """Names in the index that ``part`` may mean, most literal first."""
    variants = _variants(part)
    found = [v for v in variants if v in index.names]
    # A bare name may be a directional street people shorten ("Broadway" for WEST
    # BROADWAY), or a name whose file form keeps a suffix ("Nicollet" for NICOLLET MALL,
    # "Mt Vernon" for Mount Vernon Street): try those after the exact forms.
    base = found[-1] if found else variants[-1]
    found += [f"{d} {base}" for d in sorted(_DIRECTION_SET) if f"{d} {base}" in index.names]
    found += [f"{base} {s}" for s in sorted(_SUFFIX_SET) if f"{base} {s}" in index.names]
    if not found:
        close = difflib.get_close_matches(variants[-1], index.names, n=4, cutoff=0.6)
        shown = sorted({index.spelling(name) for name in close})
        raise InputDataError(
            f"corner {text!r}: no street named {part.strip()!r} in the network; closest "
            f"names: {', '.join(shown) or 'none'}"
        )
    return list(dict.fromkeys(found))


def _closest_note(index: CornerIndex, near: tuple[tuple[float, float], float] | None) -> str:
    if near is None:
        return ""
    point, gap = near
    return f"; they come closest at {index.latlon([point])} (lat, lon), {gap:.0f} m apart"


def _nearest_approach(
    index: CornerIndex, keys: list[list[str]], within: shapely.Geometry | None
) -> tuple[tuple[float, float], float] | None:
    """The node of the first street nearest to the second (over every reading of the two
    names, inside ``within`` when given), and the gap between them in metres."""
    from scipy.spatial import cKDTree  # only when a corner is not found: `where` starts faster

    best = None
    for first in keys[0]:
        for second in keys[1]:
            a, b = (_node_xy(index, name, within) for name in (first, second))
            if not len(a) or not len(b):
                continue
            distance, _ = cKDTree(b).query(a)
            i = int(np.argmin(distance))
            if best is None or distance[i] < best[1]:
                best = ((float(a[i, 0]), float(a[i, 1])), float(distance[i]))
    return best


def _node_xy(index: CornerIndex, name: str, within: shapely.Geometry | None) -> np.ndarray:
    xy = np.array([index.xy[n] for n in sorted(index.nodes_by_name[name])]).reshape(-1, 2)
    if within is not None and len(xy):
        xy = xy[shapely.intersects(within, shapely.points(xy))]
    return xy


def _cluster(points: list[tuple[float, float]], radius: float) -> list[tuple[float, float]]:
    """Group points joined by chains of gaps up to ``radius`` (single linkage, as DBSCAN with
    one sample per core); return each group's point closest to the group's centre, groups in
    the order of their first point."""
    xy = np.asarray(points, dtype=float).reshape(-1, 2)
    near = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) <= radius
    labels = np.full(len(xy), -1)
    for first in range(len(xy)):  # groups numbered by their first point
        if labels[first] >= 0:
            continue
        labels[first] = group = labels.max() + 1
        todo = [first]
        while todo:
            here = todo.pop()
            for other in np.flatnonzero(near[here] & (labels < 0)):
                labels[other] = group
                todo.append(other)
    out = []
    for label in dict.fromkeys(labels.tolist()):
        members = xy[labels == label]
        centre = members.mean(axis=0)
        best = members[np.argmin(np.hypot(*(members - centre).T))]
        out.append((float(best[0]), float(best[1])))
    return out
