"""What a nightly re-plan takes from its week's run instead of computing it again.

Every run writes, beside its plan, what its slow stages made from inputs that do not change
between Monday and the nights after: the walking graph (``network_nodes.parquet`` and
``network_edges.parquet``, written for users anyway) and, in ``state/``, the hotspot cells, the
hotspots and the candidate stops. Each comes with a key, a SHA-256 of everything it was computed
from: this package's source and libraries, the config (less the incident file's path), the
files it read, and for the hotspots and stops the incidents the weekly plan used. (Last week's
follow-up raises prizes after the stops are read back, so it is not part of the key.)

``plan --night`` computes the keys from its own inputs and reads back what matches; anything
else (no state, another config, a corrected street file, an old row of the incident file
changed) is computed again as the weekly run did. Either way the plan is the same, to the byte
(``tests/test_nightly.py``); reading it back takes the bundled nightly run from about 3.7 s to
2.2-2.5 s (``benchmarks/plan_city.py --night`` prints both).

Only data is read back (Parquet and JSON), never code: a runs folder is not trusted with that.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._io import code_digest, dumps_json, sha256_file
from .network import (
    EDGES_FILE,
    NODES_FILE,
    NetworkReport,
    WalkingNetwork,
    read_network_files,
    write_network_files,
)
from .network import network_key as streets_key

if TYPE_CHECKING:
    from .config import PlanConfig

STATE_DIR = "state"


@dataclass(frozen=True)
class WeekState:
    """The hotspot and stop stages' results, with the key of what they came from: the cells,
    the hotspots, how many hotspot cells lay off the network, the candidate stops (with their
    hourly risk, before last week's follow-up raised any) and the requests left unplaced."""

    key: str
    cells: gpd.GeoDataFrame
    hotspots: gpd.GeoDataFrame
    off_network: int
    stops: gpd.GeoDataFrame
    unplaced: pd.DataFrame


def network_key(config: PlanConfig) -> str | None:
    """The walking graph's key (:func:`outreach_routes.network.network_key`)."""
    return streets_key(config.network, config.city.crs)


def week_key(
    config: PlanConfig, known: gpd.GeoDataFrame, week_start: pd.Timestamp, streets: str | None
) -> str | None:
    """The key of the hotspots and stops planned from ``known`` incidents on the walking graph
    whose key is ``streets`` (:func:`network_key`); None where the graph has none."""
    if streets is None:
        return None
    digest = hashlib.sha256(streets.encode())
    digest.update(code_digest(("scikit-learn", "scipy", "numpy")).encode())
    # The incident file's path changes with each nightly export; the incidents used are hashed.
    same = replace(config, source=None, incidents=replace(config.incidents, path=None))
    digest.update(repr(same).encode())
    for path in (config.territories.path, config.city.limits, config.requests.path):
        digest.update(sha256_file(path).encode() if path is not None else b"-")
    digest.update(week_start.isoformat().encode())
    columns = known.drop(columns=known.geometry.name)
    digest.update(pd.util.hash_pandas_object(columns, index=False).to_numpy().tobytes())
    digest.update(b"".join(shapely.to_wkb(known.geometry.to_numpy())))
    return digest.hexdigest()


def save_state(
    folder: Path,
    network: WalkingNetwork,
    network_key: str | None,
    state: WeekState | None,
    *,
    before: Path | None = None,
) -> None:
    """Write the walking graph's files and ``state/`` into a run's (staging) ``folder``.

    What ``before`` (the folder this run replaces) holds under the same key is copied, not
    written again: a nightly re-plan that read it back saves 0.3 s, and the bytes are the same.
    """
    target = folder / STATE_DIR
    target.mkdir()
    earlier = _meta(before) if before is not None else {}
    meta: dict[str, Any] = {}
    network_files = (NODES_FILE, EDGES_FILE)
    if not _copied(before, folder, network_files, earlier.get("network"), network_key):
        write_network_files(network, folder)
    if network_key is not None:
        meta["network"] = {"key": network_key, "report": network.report.as_dict()}
    if state is not None:
        meta["week"] = {"key": state.key, "off_network": state.off_network}
        files = tuple(f"{STATE_DIR}/{n}.parquet" for n in _STATE_FRAMES)
        if not _copied(before, folder, files, earlier.get("week"), state.key):
            for name in _STATE_FRAMES:
                getattr(state, name).to_parquet(target / f"{name}.parquet")
    (target / "state.json").write_text(dumps_json(meta), encoding="utf-8")


_STATE_FRAMES = ("cells", "hotspots", "stops", "unplaced")


def _copied(
    before: Path | None, folder: Path, files: tuple[str, ...], meta: Any, key: str | None
) -> bool:
    """Copy ``files`` from ``before`` when it saved them under ``key``; whether it did."""
    if before is None or key is None or not meta or meta.get("key") != key:
        return False
    try:
        for name in files:
            shutil.copyfile(before / name, folder / name)
    except OSError:
        return False
    return True


def load_saved_network(folder: Path, key: str | None, crs: str) -> WalkingNetwork | None:
    """The walking graph of the run in ``folder`` when its key is ``key``, else None."""
    meta = _meta(folder).get("network")
    if key is None or not meta or meta.get("key") != key:
        return None
    try:
        nodes, edges = read_network_files(folder, crs)
        report = NetworkReport(**{**meta["report"], "notes": tuple(meta["report"]["notes"])})
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return WalkingNetwork(nodes, edges, report)


def load_state(folder: Path, key: str | None) -> WeekState | None:
    """The hotspots and stops of the run in ``folder`` when their key is ``key``, else None."""
    meta = _meta(folder).get("week")
    if key is None or not meta or meta.get("key") != key:
        return None
    target = folder / STATE_DIR
    try:
        cells = gpd.read_parquet(target / "cells.parquet")
        hotspots = gpd.read_parquet(target / "hotspots.parquet")
        stops = gpd.read_parquet(target / "stops.parquet")
        unplaced = pd.read_parquet(target / "unplaced.parquet")
    except (OSError, ValueError):
        return None
    # Parquet gives list columns back as arrays: the plan holds lists of ids.
    stops["sources"] = [list(s) for s in stops["sources"]]
    if "hour_risk" in stops:
        stops["hour_risk"] = [np.asarray(h, dtype=float) for h in stops["hour_risk"]]
    return WeekState(key, cells, hotspots, int(meta["off_network"]), stops, unplaced)


def _meta(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / STATE_DIR / "state.json").read_text("utf-8"))
    except (OSError, ValueError):
        return {}
