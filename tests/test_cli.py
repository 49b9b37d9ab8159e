"""The command line: bad input gives one clear line and exit code 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from outreach_routes.config import default_config_path

BUNDLED = default_config_path()


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "outreach_routes", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )


def test_missing_config_is_exit_2_with_one_line(tmp_path):
    result = run("plan", "--config", str(tmp_path / "missing.toml"), "--out", str(tmp_path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"error: config file {tmp_path / 'missing.toml'} not found: pass an "
        "existing file with --config"
    ]


def test_bad_week_is_exit_2(tmp_path):
    result = run("plan", "--week-of", "next monday", "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert "--week-of 'next monday' is not a date" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_data_row_names_file_and_fix_and_keeps_old_output(tmp_path):
    requests = tmp_path / "requests.geojson"
    text = (
        (BUNDLED.parent / "requests.geojson")
        .read_text()
        .replace('"priority": 4,', '"priority": 9,', 1)
    )
    requests.write_text(text)
    config = BUNDLED.read_text()
    for name in (
        "incidents.parquet",
        "streets.parquet",
        "police_districts.geojson",
        "city_limits.geojson",
    ):
        config = config.replace(f'"{name}"', f'"{BUNDLED.parent / name}"')
    (tmp_path / "plan.toml").write_text(config)
    out = tmp_path / "out"
    out.mkdir()
    (out / "index.html").write_text("last week's map")
    result = run("plan", "--config", str(tmp_path / "plan.toml"), "--out", str(out))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "requests.geojson: request R01: `priority` 9 must be 1 (low) to 5 (high)" in (
        result.stderr
    )
    assert (out / "index.html").read_text() == "last week's map"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "plan.toml", "requests.geojson"]


def test_help_lists_the_plan_command():
    result = run("--help")
    assert result.returncode == 0
    assert "plan" in result.stdout
