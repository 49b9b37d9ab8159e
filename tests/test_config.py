from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import write_bundled_config

from outreach_routes import ConfigError, InputDataError, load_config, load_teams
from outreach_routes.config import default_config_path

BUNDLED = default_config_path()


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plan.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_bundled_config_has_six_teams_with_six_night_shifts():
    config = load_config()
    assert len(config.teams) >= 6
    for team in config.teams:
        assert len(team.nights) == 6
        assert team.shift_minutes == 300
        assert team.dwell_min == 15
        assert team.contact
    assert len(config.no_go_zones) == 1


def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(ConfigError, match="nope.toml not found"):
        load_config(tmp_path / "nope.toml")


def test_every_problem_is_reported_at_once(tmp_path):
    path = write_bundled_config(
        tmp_path,
        extra="\n[extra]\nx = 1\n",
        **{
            'timezone = "America/New_York"': 'timezone = "Mars/Olympus"',
            'crs = "EPSG:32618"': 'crs = "EPSG:4326"',
            'shift_start = "18:00"': 'shift_start = "six pm"',
        },
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "Mars/Olympus" in message and "IANA" in message
    assert "projected CRS in metres" in message
    assert "'six pm' is not a time" in message
    assert "unknown table [extra]" in message


def test_unknown_key_and_missing_file_are_named(tmp_path):
    path = write_bundled_config(
        tmp_path,
        keep=("requests.geojson",),
        **{
            "seed = 42": "seed = 42\nsead = 1",
            'path = "requests.geojson"': 'path = "missing-requests.geojson"',
        },
    )
    with pytest.raises(ConfigError, match=r"unknown key `sead`") as caught:
        load_config(path)
    assert "missing-requests.geojson not found" in str(caught.value)


def test_bad_toml_says_so(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write_config(tmp_path, "[city\nname = 1"))


def test_team_base_outside_territory_is_named(tmp_path):
    path = write_bundled_config(
        tmp_path, **{"base = [40.00916, -75.13203]": "base = [39.95, -75.16]"}
    )
    config = load_config(path)
    week = pd.Timestamp("2023-01-02", tz="America/New_York")
    with pytest.raises(InputDataError, match="Team 25 Fairhill.*outside territory '25'"):
        load_teams(config, week_start=week)


def test_unknown_territory_lists_the_known_ones(tmp_path):
    config = load_config(write_bundled_config(tmp_path, **{'territory = "25"': 'territory = "99"'}))
    week = pd.Timestamp("2023-01-02", tz="America/New_York")
    with pytest.raises(InputDataError, match="territory '99' is not in column `police_district`"):
        load_teams(config, week_start=week)


def test_the_service_table_is_read_and_checked(tmp_path):
    from outreach_routes.config import load_service_config

    path = write_bundled_config(tmp_path, extra="\n[service]\nkeep_positions_days = 10\n")
    assert load_config(path).service.keep_positions_days == 10
    assert load_service_config(path).keep_days == 182  # the default
    assert load_service_config(None).keep_positions_days == 30  # the bundled config has none
    for text, problem in (
        ("keep_positions_days = 0", "`keep_positions_days` = 0: give a whole number of days"),
        ('keep_positions_days = "30"', "`keep_positions_days` = '30': give a whole number"),
        ("keep_days = 100", "`keep_days` = 100: give a whole number of days, at least 182"),
        ("keep_hours = 1", "[service]: unknown key `keep_hours`"),
    ):
        bad = tmp_path / "bad.toml"
        bad.write_text(f"[service]\n{text}\n", "utf-8")
        with pytest.raises(ConfigError) as caught:
            load_service_config(bad)
        assert problem in str(caught.value) and str(bad) in str(caught.value)


def test_the_loops_of_a_night_and_the_walks_between_stops_are_checked(tmp_path):
    path = write_bundled_config(tmp_path, **{"[routing]\n": "[routing]\nloops = 1\n"})
    assert load_config(path).routing.loops == 1
    for text, problem in (
        ("loops = 0", "[routing] `loops` = 0: give a whole number from 1 to 4"),
        ("loops = 2.5", "[routing] `loops` = 2.5: give a whole number"),
        ("revisit_share = 1.5", "[routing] `revisit_share` = 1.5: give a share from 0 to 1"),
        ("revisit_gap_min = -5", "[routing] `revisit_gap_min` = -5: give minutes, 0 or more"),
        ("presence_m = 0", "[routing] `presence_m` = 0: give metres, more than 0"),
        ("risky_streets = 1", "[routing] `risky_streets` = 1: give a share from 0 (shortest"),
        ("risky_streets = -0.2", "[routing] `risky_streets` = -0.2: give a share from 0"),
        ("pass_by = 1.5", "[routing] `pass_by` = 1.5: give a share from 0 (none) to 1"),
        ("pass_corners = -1", "[routing] `pass_corners` = -1: give a whole number, 0 or more"),
        ("min_night_stops = 2.5", "[routing] `min_night_stops` = 2.5: give a whole number"),
    ):
        bad = write_bundled_config(tmp_path, **{"[routing]\n": f"[routing]\n{text}\n"})
        with pytest.raises(ConfigError) as caught:
            load_config(bad)
        assert problem in str(caught.value) and str(bad) in str(caught.value)


def test_the_followup_boost_is_checked(tmp_path):
    assert load_config(write_bundled_config(tmp_path)).followup.boost == 0.5
    good = write_bundled_config(tmp_path, extra="\n[followup]\nboost = 1\n")
    assert load_config(good).followup.boost == 1
    for value in ("-0.5", '"half"', "true"):
        bad = write_bundled_config(tmp_path, extra=f"\n[followup]\nboost = {value}\n")
        with pytest.raises(ConfigError) as caught:
            load_config(bad)
        assert "[followup] `boost` = " in str(caught.value) and "give a share, 0 or more" in str(
            caught.value
        )


def test_the_count_blend_is_a_share(tmp_path):
    for value in ("1.5", "-0.1", '"some"'):
        bad = write_bundled_config(tmp_path, **{"count_blend = 0.25\n": f"count_blend = {value}\n"})
        with pytest.raises(ConfigError) as caught:
            load_config(bad)
        assert "[hotspots] `count_blend` = " in str(caught.value)
        assert "give a share from 0 to 1" in str(caught.value)
