"""Build the bundled Minneapolis data in ``data/minneapolis/`` from the raw public files.

Usage::

    python scripts/prepare_minneapolis.py ../shared/data/raw

* ``gva_minneapolis_2013-2018.csv``: the Gun Violence Archive extract, copied byte for byte: it
  is the kind of messy export the loader must handle (non-shooting rows to filter out, points
  geocoded outside the city, incident-level rows). Participant details were already removed
  upstream (see SOURCES.md).
* ``streets.parquet``: the city street centerlines (``streetname``, ``speed_lim``), EPSG:4326.
* ``neighborhoods.geojson``: the 87 neighbourhoods (``BDNAME``), the building blocks of the
  team territories and, together, the city limits.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import geopandas as gpd

OUT = Path(__file__).resolve().parents[1] / "data" / "minneapolis"


def main(raw: Path) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    gva = OUT / "gva_minneapolis_2013-2018.csv"
    shutil.copyfile(raw / "gva-2013-2018" / "gva_minneapolis_2013-2018.csv", gva)
    streets = gpd.read_file(raw / "minneapolis-streets" / "mpls_street_centerline_2018.geojson")
    streets[["streetname", "speed_lim", "geometry"]].to_parquet(
        OUT / "streets.parquet", compression="zstd", index=False
    )
    areas = gpd.read_file(raw / "minneapolis-boundaries" / "mpls_neighborhoods.geojson")
    areas[["BDNAME", "BDNUM", "geometry"]].to_file(OUT / "neighborhoods.geojson")
    print(f"{len(streets)} street segments, {len(areas)} neighbourhoods written to {OUT}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/raw"))
