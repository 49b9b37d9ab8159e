"""Shared fixtures: one real weekly plan on the bundled data, written by the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Built walking networks are cached under $XDG_CACHE_HOME (network.default_cache_dir): the
# tests, and the commands they run, keep theirs in a folder of their own, never a user's.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="outreach-routes-tests-")
BUNDLED = ROOT / "data" / "philadelphia"


CITIES = {
    "philadelphia": BUNDLED / "plan.toml",
    "minneapolis": ROOT / "data" / "minneapolis" / "plan.toml",
}


DATA_FILES = (
    "incidents.parquet",
    "streets.parquet",
    "police_districts.geojson",
    "city_limits.geojson",
    "requests.geojson",
)


# A second team in North Central, on a shift overlapping the bundled team's 18:00-23:00: with
# ``write_bundled_config(..., extra=LATE_TEAM_22)``, two teams share a district.
LATE_TEAM_22 = """
[[teams]]
name = "Team 22 late"
territory = "22"
base = [39.98465, -75.16900]
nights = ["mon", "tue", "wed", "thu", "fri", "sat"]
shift_start = "21:00"
shift_end = "02:00"
walk_speed_kmh = 3.5
dwell_min = 15
"""


def bundled_config_text(*, keep: tuple[str, ...] = (), **replace: str) -> str:
    """The bundled Philadelphia config, its data paths made absolute (but those in ``keep``),
    with the first occurrence of each key of ``replace`` replaced by its value."""
    text = (BUNDLED / "plan.toml").read_text(encoding="utf-8")
    for name in DATA_FILES:
        if name not in keep:
            text = text.replace(f'"{name}"', f'"{BUNDLED / name}"')
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def write_bundled_config(
    folder: Path, *, keep: tuple[str, ...] = (), extra: str = "", **replace: str
) -> Path:
    """Write :func:`bundled_config_text` (plus ``extra``) to ``folder/plan.toml``."""
    path = folder / "plan.toml"
    path.write_text(bundled_config_text(keep=keep, **replace) + extra, encoding="utf-8")
    return path


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``outreach-routes`` with ``args`` as a user does; its output as text, any exit code."""
    return subprocess.run(
        [sys.executable, "-m", "outreach_routes", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )


def minneapolis_config(folder: Path, requests: Path, **replace: str) -> Path:
    """The bundled Minneapolis config written to ``folder/plan.toml``, its data paths made
    absolute, its requests read from ``requests``, and each key of ``replace`` replaced by its
    value (first occurrence)."""
    source = CITIES["minneapolis"]
    text = source.read_text("utf-8")
    for name in ("gva_minneapolis_2013-2018.csv", "streets.parquet", "neighborhoods.geojson"):
        text = text.replace(f'"{name}"', json.dumps(str(source.parent / name)))
    text = text.replace('"requests.csv"', json.dumps(str(requests)))
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    path = folder / "plan.toml"
    path.write_text(text, encoding="utf-8")
    return path


def run_plan(config: Path, out: Path, *options: str) -> Path:
    """Plan a city's week through the command line, as a user does."""
    result = run_cli("plan", "--config", str(config), "--out", str(out), "--quiet", *options)
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="session")
def plan_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled Philadelphia week planned through the command line, as `make run` does."""
    return run_plan(CITIES["philadelphia"], tmp_path_factory.mktemp("plan") / "out")


@pytest.fixture(scope="session")
def plan_json(plan_dir: Path) -> dict:
    return json.loads((plan_dir / "plan.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def minneapolis_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled Minneapolis week, from the Gun Violence Archive export."""
    return run_plan(CITIES["minneapolis"], tmp_path_factory.mktemp("mpls") / "out")


@pytest.fixture(scope="session", params=sorted(CITIES))
def city_plan(request: pytest.FixtureRequest) -> tuple[str, Path, dict]:
    """Each bundled city's plan: (city, output folder, plan.json)."""
    fixture = "plan_dir" if request.param == "philadelphia" else "minneapolis_dir"
    folder = request.getfixturevalue(fixture)
    return request.param, folder, json.loads((folder / "plan.json").read_text("utf-8"))
