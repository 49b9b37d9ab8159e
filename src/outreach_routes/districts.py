"""Territories for teams, cut from a risk surface: contiguous areas with similar shares of it.

:func:`cut_territories` splits an area into ``n`` convex pieces (a power diagram around risk-
weighted KMeans centres, its weights moved until each piece holds a similar share of the risk);
:func:`group_areas` groups a city's own polygons (neighbourhoods, districts) into ``n``
territories of neighbouring polygons the same way, each group one piece. scikit-learn does the
clustering; every run with the same seed cuts the same way.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

__all__ = ["cut_territories", "group_areas"]

SEED = 42  # territories are cut the same way on every run


def cut_territories(
    xy: np.ndarray, risk: np.ndarray, extent: shapely.Geometry, n: int, *, seed: int = SEED
) -> list[shapely.Geometry]:
    """``n`` contiguous areas of ``extent`` holding similar shares of ``risk`` (per point ``xy``).

    KMeans weighted by risk places ``n`` centres; the extent is then split into their power
    diagram (Voronoi cells with a weight each, convex, so each area is one piece), the weights
    moved until the shares of risk come close to equal.
    """
    centres, weights = _balanced_centres(xy, risk, n, seed=seed)
    return [_power_cell(k, centres, weights, extent) for k in range(len(centres))]


def _balanced_centres(
    xy: np.ndarray, risk: np.ndarray, n: int, *, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` centres (KMeans weighted by risk) and the power-diagram weights that give each
    centre's cell a similar share of the risk (within 5% where the points allow)."""
    from sklearn.cluster import KMeans

    n = max(1, min(n, len(xy)))
    centres = (
        KMeans(n_clusters=n, n_init=10, random_state=seed)
        .fit(xy, sample_weight=risk)
        .cluster_centers_
    )
    weights = np.zeros(n)
    spread = float(np.mean(np.square(xy - xy.mean(axis=0)).sum(axis=1))) or 1.0
    target = risk.sum() / n
    for _ in range(200):
        share = np.bincount(_power_labels(xy, centres, weights), weights=risk, minlength=n)
        if np.abs(share - target).max() < 0.05 * target:
            break
        weights += 0.5 * spread / n * (target - share) / target
    return centres, weights


def _power_labels(xy: np.ndarray, centres: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The power-diagram cell of each point."""
    return (np.square(xy[:, None, :] - centres[None, :, :]).sum(axis=2) - weights).argmin(axis=1)


def _power_cell(
    k: int, centres: np.ndarray, weights: np.ndarray, extent: shapely.Geometry
) -> shapely.Geometry:
    """The part of ``extent`` nearer (in power distance) to centre ``k`` than to any other."""
    xmin, ymin, xmax, ymax = extent.bounds
    big = 4 * max(xmax - xmin, ymax - ymin, 1.0)
    cell = extent
    for j in range(len(centres)):
        if j == k:
            continue
        # |p - c_k|² - w_k <= |p - c_j|² - w_j  <=>  2 (c_j - c_k) . p <= rhs
        normal = 2 * (centres[j] - centres[k])
        rhs = centres[j] @ centres[j] - centres[k] @ centres[k] - weights[j] + weights[k]
        length = float(np.hypot(*normal)) or 1.0
        unit = normal / length
        middle = np.array(extent.centroid.coords[0])
        on_line = middle - unit * (unit @ middle - rhs / length)  # the line, beside the city
        along = np.array([-unit[1], unit[0]])
        half = shapely.Polygon(
            [
                on_line + big * along,
                on_line - big * along,
                on_line - big * along - 2 * big * unit,
                on_line + big * along - 2 * big * unit,
            ]
        )
        cell = cell.intersection(half)
    return cell


def group_areas(
    areas: gpd.GeoDataFrame, xy: np.ndarray, risk: np.ndarray, n: int, *, seed: int = SEED
) -> np.ndarray:
    """A group label (0 .. n-1) per polygon of ``areas``: ``n`` groups of neighbouring polygons
    with similar shares of ``risk`` (per point ``xy``, in the areas' CRS).

    Each polygon joins the cell of :func:`cut_territories`'s power diagram that holds most of
    its risk, so the groups share the risk as evenly as whole polygons allow. Where that leaves
    a group in pieces, the polygons are grouped by Ward's agglomerative clustering of their
    centroids instead, joined only where polygons touch: each group one piece.
    """
    if n >= len(areas):
        return np.arange(len(areas))
    centres, weights = _balanced_centres(xy, risk, n, seed=seed)
    point_cell = _power_labels(xy, centres, weights)
    held = np.zeros((len(areas), len(centres)))
    tree = shapely.STRtree(shapely.points(xy))
    area_index, point_index = tree.query(areas.geometry.to_numpy(), predicate="contains")
    np.add.at(held, (area_index, point_cell[point_index]), risk[point_index])
    middle = shapely.get_coordinates(areas.geometry.representative_point().to_numpy())
    labels = np.where(
        held.sum(axis=1) > 0, held.argmax(axis=1), _power_labels(middle, centres, weights)
    )
    labels = np.unique(labels, return_inverse=True)[1]
    pieces = [_pieces(areas.geometry[labels == g]) for g in range(labels.max() + 1)]
    if max(pieces) == 1 and labels.max() + 1 == n:
        return labels
    return _ward_groups(areas, n)


def _pieces(shapes: gpd.GeoSeries) -> int:
    """How many separate pieces polygons make together (gaps up to 10 m closed; slivers of
    under 1 m², left by the buffering, not counted)."""
    union = shapes.buffer(5).union_all().buffer(-5)
    return sum(part.area >= 1 for part in getattr(union, "geoms", [union]))


def _ward_groups(areas: gpd.GeoDataFrame, n: int) -> np.ndarray:
    from scipy.sparse import csr_matrix
    from sklearn.cluster import AgglomerativeClustering

    shapes = areas.geometry.buffer(2).to_numpy()  # neighbours: 4 m apart at most
    tree = shapely.STRtree(shapes)
    left, right = tree.query(shapes, predicate="intersects")
    touching = csr_matrix((np.ones(len(left)), (left, right)), shape=(len(areas),) * 2)
    xy = shapely.get_coordinates(areas.geometry.centroid.to_numpy())
    return (
        AgglomerativeClustering(n_clusters=n, connectivity=touching, linkage="ward").fit(xy).labels_
    )
