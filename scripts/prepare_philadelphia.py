"""Build the bundled Philadelphia data in ``data/philadelphia/`` from the raw public files.

Usage::

    python scripts/prepare_philadelphia.py ../shared/data/raw

Reads the raw files listed in ``../shared/data/raw/SOURCES.md`` and writes compact copies:

* ``incidents.parquet``: shooting victim rows 2015-2022 (one row per victim, as published),
  keeping only ``dc_key``, ``victim_no``, ``date``, ``fatal`` and the point. Victim race, sex
  and age are dropped here, so they never enter the project. ``victim_no`` numbers the distinct
  victims of an incident. Rows without a location and exact duplicates are kept on purpose: the
  loader must reject them and say why.
* ``streets.parquet``: the city's street centerlines (EPSG:2272, US feet) with ``SEG_ID`` and
  ``NETWORK``; the walkability rule is applied when the graph is built (see data/README.md).
* ``police_districts.geojson`` and ``city_limits.geojson``: boundaries, as published.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd

OUT = Path(__file__).resolve().parents[1] / "data" / "philadelphia"


def main(raw: Path) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    frames = [
        gpd.read_file(raw / "philly-shootings" / f"shootings_{year}.json")
        for year in range(2015, 2023)
    ]
    victims = pd.concat(frames, ignore_index=True)
    # Two victims of one incident often share date, place and outcome; dropping their
    # attributes would make them look like duplicates. `victim_no` numbers the distinct victims
    # within an incident (1, 2, ...) without carrying any attribute, and leaves rows that were
    # exact duplicates in the source as exact duplicates here.
    person = pd.util.hash_pandas_object(victims.drop(columns="geometry"), index=False)
    victims["victim_no"] = person.groupby(victims["dc_key"]).rank(method="dense").astype(int)
    victims = gpd.GeoDataFrame(
        victims[["dc_key", "victim_no", "date", "fatal", "geometry"]],
        geometry="geometry",
        crs=frames[0].crs,
    )
    victims["date"] = victims["date"].dt.strftime("%Y-%m-%d %H:%M:%S")
    victims.to_parquet(OUT / "incidents.parquet", compression="zstd", index=False)

    streets = gpd.read_file(raw / "philly-streets" / "Street_Network_Types.shp")
    streets = streets[["SEG_ID", "NETWORK", "geometry"]]
    streets.to_parquet(OUT / "streets.parquet", compression="zstd", index=False)

    shutil.copy(raw / "philly-boundaries" / "police_districts.geojson", OUT)
    shutil.copy(raw / "philly-boundaries" / "City_Limits.geojson", OUT / "city_limits.geojson")
    print(f"victim rows: {len(victims)}; street segments: {len(streets)}; written to {OUT}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/raw"))
