"""The weekly batch job: dated runs, a change report, safe reruns, a lock, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import CITIES

from outreach_routes.runs import RunLocked, run_lock

WEEKS = ("2022-12-26", "2023-01-02")  # ISO weeks 2022-W52 and 2023-W01


def plan_command(runs: Path, week: str, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "outreach_routes", "plan", "--config", str(CITIES["philadelphia"]),
        "--runs-dir", str(runs), "--week-of", week, "--quiet", *extra,
    ]  # fmt: skip


def run(runs: Path, week: str) -> subprocess.CompletedProcess:
    return subprocess.run(plan_command(runs, week), capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("runs")
    for week in WEEKS:
        result = run(folder, week)
        assert result.returncode == 0, result.stderr
        assert result.stdout == "" and result.stderr == ""  # --quiet: silent on success
    return folder


def load(folder: Path, name: str) -> dict:
    return json.loads((folder / name).read_text("utf-8"))


def test_two_weeks_make_two_dated_folders_an_index_and_latest(runs: Path):
    assert sorted(p.name for p in runs.iterdir() if not p.name.startswith(".")) == [
        "2022-W52", "2023-W01", "index.html", "latest", "logs",
    ]  # fmt: skip
    assert os.readlink(runs / "latest") == "2023-W01"
    index = (runs / "index.html").read_text("utf-8")
    assert index.index('href="2023-W01/index.html"') < index.index('href="2022-W52/index.html"')
    assert len(list((runs / "logs").glob("run-*.log"))) == 2
    assert "done:" in (runs / "2023-W01" / "run.log").read_text("utf-8")
    assert 'href="changes.html"' in (runs / "2023-W01" / "index.html").read_text("utf-8")
    assert load(runs / "2022-W52", "changes.json")["previous_week_of"] is None


def test_change_report_counts_match_the_two_plans(runs: Path):
    before, now = load(runs / "2022-W52", "plan.json"), load(runs / "2023-W01", "plan.json")
    report = load(runs / "2023-W01", "changes.json")
    assert report["previous_week_of"] == "2022-12-26"
    spots = report["hotspots"]
    assert len(spots["current"]) == len(now["hotspots"]["features"])
    matched = {old for s in spots["current"] for old in s["was"]}
    assert set(spots["cleared"]) == {f["properties"]["hotspot_id"] for f in before["hotspots"][
        "features"]} - matched  # fmt: skip
    assert sum(spots["counts"].values()) == len(spots["current"]) + len(spots["cleared"])
    for team, change in report["stops"].items():
        corners = [
            {(round(s["lat"], 5), round(s["lon"], 5)) for r in plan["teams"] if r["team"] == team
             for s in r["stops"] if s["kind"] != "base"}
            for plan in (before, now)
        ]  # fmt: skip
        assert len(change["added"]) == len(corners[1] - corners[0])
        assert all({"corner", "lat", "lon", "label"} <= set(a) for a in change["added"])
        assert len(change["dropped"]) == len(corners[0] - corners[1])
        assert change["kept"] == len(corners[0] & corners[1])
    # The page names added stops by their place (lat, lon in Philadelphia), never by stop id.
    page = (runs / "2023-W01" / "changes.html").read_text("utf-8")
    for team in now["teams"]:
        assert team["stops"][1]["stop_id"] not in page
    first_added = next(c["added"][0] for c in report["stops"].values() if c["added"])
    assert f"{first_added['lat']:.5f}, {first_added['lon']:.5f}" in page
    waiting = {r["request_id"]: r["weeks"] for r in report["requests"]["still_waiting"]}
    assert set(waiting) == {r["request_id"] for r in now["unserved_requests"]}
    for rid in waiting:  # waited last week too: its second week
        assert waiting[rid] == (2 if rid in {r["request_id"] for r in before["unserved_requests"]}
                                else 1)  # fmt: skip
    shots = report["shootings_last_week"]
    assert shots["total"] == shots["inside_planned_hotspots"] + shots["outside"] > 0


def test_rerun_gives_the_same_bytes_and_a_second_run_is_refused(runs: Path):
    first = (runs / "2023-W01" / "plan.json").read_bytes()
    result = run(runs, WEEKS[1])
    assert result.returncode == 0, result.stderr
    assert (runs / "2023-W01" / "plan.json").read_bytes() == first
    (runs / ".lock").write_text(f"{os.getpid()} now\n")  # a live process holds the lock
    try:
        locked = run(runs, WEEKS[1])
    finally:
        (runs / ".lock").unlink()
    assert locked.returncode == 4
    assert "another run" in locked.stderr and "Traceback" not in locked.stderr


def test_a_killed_run_leaves_latest_and_the_weeks_before_untouched(runs: Path):
    published = {p: p.read_bytes() for p in (runs / "2023-W01").rglob("*") if p.is_file()}
    process = subprocess.Popen(plan_command(runs, WEEKS[1]), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    # Wait until the rerun is writing its new folder beside the published one, then kill it.
    while not list(runs.glob(".2023-W01.*")) and time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 143
    assert os.readlink(runs / "latest") == "2023-W01"
    now = {p: p.read_bytes() for p in (runs / "2023-W01").rglob("*") if p.is_file()}
    assert now == published
    assert not list(runs.glob(".2023-W01*")) and not (runs / ".lock").exists()


def test_a_lock_left_by_a_dead_run_is_taken_over(tmp_path: Path):
    (tmp_path / ".lock").write_text("999999999 yesterday\n")  # no such process
    with run_lock(tmp_path):
        assert (tmp_path / ".lock").read_text().split()[0] == str(os.getpid())
        with pytest.raises(RunLocked, match="another run"), run_lock(tmp_path):
            pass
    assert not (tmp_path / ".lock").exists()


def test_out_and_runs_dir_together_is_an_error(tmp_path: Path):
    result = subprocess.run(
        [*plan_command(tmp_path / "runs", WEEKS[1]), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 2 and "not both" in result.stderr
    assert not (tmp_path / "runs").exists() and not (tmp_path / "out").exists()
