"""The command line: bad input gives one clear line and exit code 2, never a traceback."""

from __future__ import annotations

from conftest import run_cli, write_bundled_config

from outreach_routes.config import default_config_path

BUNDLED = default_config_path()


run = run_cli


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
    write_bundled_config(tmp_path, keep=("requests.geojson",))
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


def test_validate_clean_config_exits_0():
    result = run("validate", "--config", str(BUNDLED.parent.parent / "minneapolis" / "plan.toml"))
    assert result.returncode == 0, result.stderr
    assert "ready to plan" in result.stdout
    assert "note: request M07 ignored: expired" in result.stderr
    assert "rejected: more than 2000 m outside the city limits ([city] limits)" in result.stderr


def test_validate_reports_every_problem_at_once(tmp_path):
    bad = (
        (BUNDLED.parent / "requests.geojson")
        .read_text()
        .replace('"priority": 4,', '"priority": 9,', 1)
    )
    (tmp_path / "requests.geojson").write_text(bad)
    config = write_bundled_config(
        tmp_path, keep=("requests.geojson",), **{'territory = "22"': 'territory = "99"'}
    )
    result = run("validate", "--config", str(config))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 2, result.stderr
    assert "territory '99' is not in column `police_district`" in errors[0]
    assert "request R01: `priority` 9 must be 1 (low) to 5 (high)" in errors[1]


def test_base_cut_off_from_the_network_is_named(tmp_path):
    # A no-go zone around Team 25's base leaves it no street to walk from.
    zone = "[[-75.1420, 39.9990], [-75.1220, 39.9990], [-75.1220, 40.0190], [-75.1420, 40.0190]]"
    config = write_bundled_config(
        tmp_path,
        **{
            "polygon = [[-75.1400, 40.0100], [-75.1340, 40.0100], [-75.1340, 40.0140], "
            "[-75.1400, 40.0140]]": f"polygon = {zone}"
        },
    )
    result = run("validate", "--config", str(config))
    assert result.returncode == 2
    assert "team 'Team 25 Fairhill': the base is" in result.stderr
    assert "move `base` to a street corner" in result.stderr


def test_expired_no_go_zone_is_ignored_and_said(tmp_path):
    config = write_bundled_config(tmp_path, **{"until = 2023-01-31": "until = 2022-12-01"})
    result = run("validate", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "no-go zone 'Active group dispute, Fairhill' ignored: expired on 2022-12-01" in (
        result.stderr
    )


def test_backtest_command_prints_the_table(tmp_path):
    weekly = tmp_path / "weekly.csv"
    result = run(
        "backtest",
        "--test-from",
        "2022-12-01",
        "--test-to",
        "2022-12-26",
        "--weekly-csv",
        str(weekly),
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["model", "share", "weeks", "hit_rate", "hits", "incidents", "pai"]
    assert len(lines) == 1 + 4 * 4
    assert len(weekly.read_text().splitlines()) == 1 + 4 * 4 * 4  # 4 weeks, models, shares
    empty = run("backtest", "--test-from", "2030-01-01", "--test-to", "2030-01-02")
    assert empty.returncode == 2
    assert "no test week between 2030-01-01 and 2030-01-02" in empty.stderr
