"""Reading and writing files: one place for format dispatch and atomic writes."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from ._errors import InputDataError

TABLE_SUFFIXES = {".csv", ".tsv", ".txt"}


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV, Parquet or any GIS vector file into a (Geo)DataFrame.

    GeoParquet and GIS files come back as GeoDataFrames; CSV and plain Parquet as DataFrames.
    """
    suffix = path.suffix.lower()
    try:
        if suffix in TABLE_SUFFIXES:
            return _read_csv(path)
        if suffix == ".parquet":
            try:
                return gpd.read_parquet(path)
            except ValueError:  # a Parquet file with no geometry metadata
                return pd.read_parquet(path)
        return gpd.read_file(path)
    except (OSError, ValueError) as exc:
        if isinstance(exc, InputDataError):
            raise
        raise InputDataError(
            f"{path}: cannot be read ({exc}); give a CSV, GeoJSON, GeoPackage, Parquet or Shapefile"
        ) from exc


def read_vector(path: Path, *, what: str) -> gpd.GeoDataFrame:
    """Read a file that must hold geometries (streets, territories, requests)."""
    frame = read_table(path)
    if not isinstance(frame, gpd.GeoDataFrame) or frame.crs is None:
        raise InputDataError(
            f"{path}: the {what} file has no geometry or no CRS; give a GeoJSON, GeoPackage, "
            "GeoParquet or Shapefile with its CRS set"
        )
    return frame


def _read_csv(path: Path) -> pd.DataFrame:
    for encoding in ("utf-8-sig", "latin-1"):
        try:
            return pd.read_csv(path, sep=None, engine="python", dtype=str, encoding=encoding)
        except UnicodeDecodeError:
            continue
    raise InputDataError(f"{path}: not UTF-8 or Latin-1 text; save it as UTF-8 CSV")


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` so that readers see the old file or the whole new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def dumps_json(data: Any) -> str:
    """JSON as the project writes it: stable key order, two-space indent, UTF-8 text."""
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
