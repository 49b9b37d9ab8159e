from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from outreach_routes import InputDataError, load_config, load_incidents
from outreach_routes.config import IncidentConfig

DATA = Path(__file__).parent / "data"
SAMPLE = DATA / "philly_victims_sample.csv"
UTM = "EPSG:32618"
TZ = "America/New_York"


def sample_config(**overrides) -> IncidentConfig:
    options = {
        "path": SAMPLE,
        "id_column": "dc_key",
        "date_column": "date",
        "date_format": "%Y-%m-%d %H:%M:%S",
        "fatal_column": "fatal",
        "lat_column": "lat",
        "lon_column": "lng",
    }
    options.update(overrides)
    return IncidentConfig(**options)


def test_bundled_victims_become_incidents_and_every_row_is_counted():
    config = load_config()
    table = load_incidents(config.incidents, crs=config.city.crs, timezone=TZ)
    # SOURCES.md: 13,690 victim rows, 21 without location, 72 exact duplicates.
    assert table.rows_read == 13_690
    reasons = table.rejects["reason"].value_counts()
    assert reasons.filter(like="no location").sum() == 21
    assert reasons["exact duplicate of an earlier row"] == 72
    assert table.rows_used + table.rows_rejected == table.rows_read
    assert table.incidents["victims"].sum() == table.rows_used
    assert table.incidents["incident_id"].is_unique
    assert str(table.incidents.crs) == config.city.crs


def test_sample_csv_rejects_with_row_and_reason():
    table = load_incidents(sample_config(), crs=UTM, timezone=TZ)
    assert table.rows_read == 25
    rejects = table.rejects.set_index("row")["reason"].to_dict()
    assert rejects == {
        23: "no location: `lat` is empty",
        24: "date in `date` is not readable",
        25: "exact duplicate of an earlier row",
    }
    assert set(table.rejects["source"]) == {"philly_victims_sample.csv"}
    assert table.rows_used == 22


def test_sample_victims_are_grouped_by_id():
    incidents = load_incidents(sample_config(), crs=UTM, timezone=TZ).incidents
    victims = incidents.set_index("incident_id")["victims"]
    assert len(incidents) == 18
    assert victims["202225072033"] == 3
    assert victims["202225072608"] == 2  # its third row is a duplicate, rejected
    assert victims["202225073062"] == 2
    assert incidents["fatal"].sum() >= 1


def test_dates_are_local_time_with_offset():
    incidents = load_incidents(sample_config(), crs=UTM, timezone=TZ).incidents
    first = incidents.set_index("incident_id").loc["202225073062", "occurred_at"]
    assert first == pd.Timestamp("2022-12-31 00:13:00", tz=TZ)
    assert first.utcoffset() == pd.Timedelta(hours=-5)


def test_no_victim_attribute_survives_loading():
    config = load_config()
    table = load_incidents(config.incidents, crs=config.city.crs, timezone=TZ)
    columns = set(table.incidents.columns) | set(table.rejects.columns)
    assert not columns & {"race", "sex", "age", "age_group", "gender"}


def test_missing_column_names_the_file_and_the_fix():
    with pytest.raises(
        InputDataError,
        match=r"philly_victims_sample.csv: column `latitude` \(`lat_column` in \[incidents\]\) "
        r"not found.*Fix `lat_column` in \[incidents\]",
    ):
        load_incidents(sample_config(lat_column="latitude"), crs=UTM, timezone=TZ)


def test_xy_without_crs_says_which_key_to_add():
    config = sample_config(lat_column=None, lon_column=None, x_column="lng", y_column="lat")
    with pytest.raises(InputDataError, match="need `source_crs`"):
        load_incidents(config, crs=UTM, timezone=TZ)
