"""Reading and writing files: one place for format dispatch and atomic writes."""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._errors import InputDataError

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

# geopandas and pandas are imported by the readers that need them: the service writes files
# through this module and loads neither (2 s of imports, `python -X importtime`).

TABLE_SUFFIXES = {".csv", ".tsv", ".txt"}


def read_table(path: Path, *, delimiter: str | None = None) -> pd.DataFrame:
    """Read a CSV, Parquet or any GIS vector file, plain, zipped or gzipped.

    GeoParquet and GIS files come back as GeoDataFrames; CSV and plain Parquet as DataFrames
    of text columns.

    Raises
    ------
    InputDataError
        For a missing or empty file, or one no reader understands.
    """
    import geopandas as gpd
    import pandas as pd

    if not path.is_file():
        raise InputDataError(f"{path}: file not found; check the path in the config")
    if path.stat().st_size == 0:
        raise InputDataError(f"{path}: the file is empty; export the data again")
    name = path.name.lower()
    inner = name.removesuffix(".gz").removesuffix(".zip")
    suffix = Path(inner).suffix
    try:
        if suffix in TABLE_SUFFIXES or (name.endswith(".zip") and _zip_holds_csv(path)):
            return _read_csv(path, delimiter)
        if suffix == ".parquet":
            try:
                return gpd.read_parquet(path)
            except ValueError:  # a Parquet file with no geometry metadata
                return pd.read_parquet(path)
        if name.endswith(".gz"):
            return gpd.read_file(f"/vsigzip/{path}")
        return gpd.read_file(path)
    except InputDataError:
        raise
    except (OSError, ValueError, RuntimeError) as exc:
        raise InputDataError(
            f"{path}: cannot be read ({exc}); give a CSV, GeoJSON, GeoPackage, Parquet or "
            "Shapefile (plain, .zip or .gz)"
        ) from exc


def read_city_limits(city: Any) -> Any:
    """The city limits of a ``[city]`` table as one polygon in the city's CRS (None if unset)."""
    if city.limits is None:
        return None
    return read_vector(city.limits, what="city limits").to_crs(city.crs).union_all()


def _zip_holds_csv(path: Path) -> bool:
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if not n.endswith("/")]
    return len(names) == 1 and Path(names[0]).suffix.lower() in TABLE_SUFFIXES


def read_vector(path: Path, *, what: str) -> gpd.GeoDataFrame:
    """Read a file that must hold geometries (streets, territories, requests)."""
    import geopandas as gpd

    frame = read_table(path)
    if not isinstance(frame, gpd.GeoDataFrame) or frame.crs is None:
        raise InputDataError(
            f"{path}: the {what} file has no geometry or no CRS; give a GeoJSON, GeoPackage, "
            "GeoParquet or Shapefile with its CRS set"
        )
    return frame


def _read_csv(path: Path, delimiter: str | None) -> pd.DataFrame:
    """Read delimited text as strings: delimiter sniffed unless given, UTF-8 or Latin-1."""
    import pandas as pd

    options = {"dtype": str, "keep_default_na": True, "compression": "infer"}
    if delimiter:
        options["sep"] = delimiter
    else:
        options.update(sep=None, engine="python")
    for encoding in ("utf-8-sig", "latin-1"):
        try:
            frame = pd.read_csv(path, encoding=encoding, **options)
            break
        except UnicodeDecodeError:
            continue
        except pd.errors.EmptyDataError as exc:
            raise InputDataError(f"{path}: the file is empty; export the data again") from exc
        except (pd.errors.ParserError, csv.Error) as exc:
            raise InputDataError(
                f"{path}: rows do not split into the same columns ({exc}); set `delimiter` in "
                "[incidents] or fix the quoting"
            ) from exc
    if frame.shape[1] == 1:
        header = str(frame.columns[0])
        for candidate in (";", "\t", "|", ","):
            if candidate in header:
                shown = "\\t" if candidate == "\t" else candidate
                raise InputDataError(
                    f"{path}: read as a single column {header[:60]!r}; the delimiter looks "
                    f'like {shown!r}: set `delimiter = "{shown}"` in [incidents]'
                )
    return frame


def _umask() -> int:
    """The process's umask (the command line sets 077: its outputs are its user's alone)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` so that readers see the old file or the whole new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # as any file the process makes (mkstemp's is 0600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def dumps_json(data: Any, *, indent: int | None = 2) -> str:
    """JSON as the project writes it: strict (NaN and Infinity refused with ``ValueError``, as
    every strict reader would refuse them), stable key order, UTF-8 text, ``indent`` spaces
    (``None``: one compact line, with no newline at the end)."""
    if indent is None:
        return json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return json.dumps(data, indent=indent, ensure_ascii=False, allow_nan=False) + "\n"


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@functools.cache
def code_digest(libraries: tuple[str, ...]) -> str:
    """SHA-256 of this package's source and the installed versions of ``libraries``: what a
    result saved for reuse was computed with (a change to either makes it stale). Read once per
    process: the source does not change under a running plan."""
    from importlib import metadata

    digest = hashlib.sha256()
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.read_bytes())
    for name in libraries:
        try:
            digest.update(f"{name} {metadata.version(name)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(name.encode())
    return digest.hexdigest()
