"""Which projected CRS fits a city, from where the city is: the hints a run gives when a CRS is
missing or wrong. pyproj's database answers; nothing here names one city.

A city is found by a point (longitude, latitude in degrees): the centre of its walking network,
territories or limits. Its UTM zone (WGS 84, metres) is what ``[city] crs`` should be; its State
Plane zone (NAD83, often in US feet) is what a US city's exports are often in, the usual
``[incidents] source_crs``.
"""

from __future__ import annotations

import functools
from typing import Any

from pyproj import CRS, Transformer
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_crs_info, query_utm_crs_info
from pyproj.enums import PJType

__all__ = ["crs_fits", "lonlat", "state_plane_crs", "utm_crs", "where_text"]


def lonlat(point: Any, crs: Any) -> tuple[float, float]:
    """A point (shapely) in ``crs`` as ``(lon, lat)`` in degrees: where a city lies, for the
    look-ups below."""
    lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(point.x, point.y)
    return float(lon), float(lat)


@functools.lru_cache(maxsize=64)
def utm_crs(lon: float, lat: float) -> str | None:
    """The WGS 84 UTM zone of a point as ``"EPSG:326NN"`` / ``"EPSG:327NN"``; None off the
    globe's UTM zones (the poles)."""
    found = query_utm_crs_info(
        datum_name="WGS 84", area_of_interest=AreaOfInterest(lon, lat, lon, lat)
    )
    return f"{found[0].auth_name}:{found[0].code}" if found else None


@functools.lru_cache(maxsize=64)
def state_plane_crs(lon: float, lat: float) -> list[tuple[str, str]]:
    """The NAD83 State Plane zones (SPCS83) holding a point, as ``(code, name)``, the zone in
    US feet first where there is one (cities export in it); [] outside the United States."""
    candidates = query_crs_info(
        auth_name="EPSG",
        pj_types=PJType.PROJECTED_CRS,
        area_of_interest=AreaOfInterest(lon, lat, lon, lat),
        contains=True,
    )
    zones = []
    for info in candidates:
        if info.deprecated or not info.name.startswith("NAD83 / "):
            continue
        operation = CRS.from_epsg(int(info.code)).coordinate_operation
        if operation is not None and operation.name.startswith("SPCS83"):
            zones.append((f"EPSG:{info.code}", info.name))
    return sorted(zones, key=lambda z: ("ft" not in z[1], z[1]))


def crs_fits(crs: str, lon: float, lat: float) -> bool:
    """Whether a point lies in the area a CRS is meant for (its EPSG area of use, widened by a
    degree: a city on a zone's edge is fine); True when the CRS states no area."""
    area = CRS.from_user_input(crs).area_of_use
    if area is None:
        return True
    west, south, east, north = area.bounds
    return west - 1 <= lon <= east + 1 and south - 1 <= lat <= north + 1


def where_text(lon: float, lat: float) -> str:
    """A point as a person reads it: ``"45.5150, -122.6600 (lat, lon)"``."""
    return f"{lat:.4f}, {lon:.4f} (lat, lon)"


def suggestion(lon: float, lat: float) -> str:
    """The CRS to use for a city at this point, as a clause: ``"this city's UTM zone is
    EPSG:32610"`` (or a generic hint where the point has no UTM zone)."""
    utm = utm_crs(lon, lat)
    if utm is None:
        return "use a projected CRS in metres for the city"
    return f"the UTM zone of this city ({where_text(lon, lat)}) is '{utm}'"
